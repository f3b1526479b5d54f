# Warning set and sanitizer flags applied to every floret target.
function(floret_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wno-unused-parameter)
  if(FLORET_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(FLORET_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# No stack frame in the portable core (src/core/, src/tasks/) may be over
# FLORET_FRAME_LIMIT bytes: a board runs it on a few KiB of stack. It is an
# error in every build, -Werror or not, so CI enforces it; 0 turns it off.
# Sanitized builds pad every frame with redzones and are not checked.
if(FLORET_SANITIZE OR FLORET_FUZZ)
  set(FLORET_FRAME_LIMIT_DEFAULT 0)
else()
  set(FLORET_FRAME_LIMIT_DEFAULT 1024)
endif()
set(FLORET_FRAME_LIMIT ${FLORET_FRAME_LIMIT_DEFAULT} CACHE STRING
  "Largest stack frame allowed in the core, in bytes (0: no check)")

function(floret_frame_check target)
  if(FLORET_FRAME_LIMIT GREATER 0)
    if(CMAKE_C_COMPILER_ID MATCHES "Clang")
      target_compile_options(${target} PRIVATE
        -Wframe-larger-than=${FLORET_FRAME_LIMIT} -Werror=frame-larger-than)
    else()
      target_compile_options(${target} PRIVATE
        -Werror=frame-larger-than=${FLORET_FRAME_LIMIT})
    endif()
  endif()
endfunction()
