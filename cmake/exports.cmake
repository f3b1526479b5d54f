# exports.cmake - write the linker version script of libfloret.so from the
# public header: every function declared in include/floret/floret.h is
# global, everything else (the fl__* internals, the core's fl_core_* calls,
# the tasks' helpers) is local, so the shared library exports exactly the
# documented API. Run in script mode at build time:
#   cmake -DHEADER=.../floret.h -DOUT=.../floret.map -P exports.cmake
# A function is "name(" at the top level of a declaration, after comments,
# preprocessor lines and typedefs are dropped; tests/install checks the
# result against nm -D with a parser of its own.
file(READ "${HEADER}" text)
# Comments out (CMake's regex has no non-greedy match: cut at each "*/").
set(code "")
while(text MATCHES "/\\*")
  string(FIND "${text}" "/*" open)
  string(SUBSTRING "${text}" 0 ${open} before)
  string(APPEND code "${before}")
  string(SUBSTRING "${text}" ${open} -1 rest)
  string(FIND "${rest}" "*/" close)
  if(close LESS 0)
    message(FATAL_ERROR "${HEADER}: unterminated comment")
  endif()
  math(EXPR close "${close} + 2")
  string(SUBSTRING "${rest}" ${close} -1 text)
endwhile()
string(APPEND code "${text}")
# One statement per ";" (declarations span lines); preprocessor lines out.
string(REGEX REPLACE "\n[ \t]*#[^\n]*" "\n" code "\n${code}")
string(REPLACE "\n" " " code "${code}")
string(REPLACE ";" "\n" code "${code}")
string(REPLACE "{" "\n" code "${code}")
string(REPLACE "}" "\n" code "${code}")
string(REGEX MATCHALL "[^\n]+" statements "${code}")
set(names "")
foreach(s IN LISTS statements)
  if(s MATCHES "^[ \t]*typedef[ \t]")
    continue()
  endif()
  if(s MATCHES "(^|[^A-Za-z0-9_])(fl_[a-z0-9_]+)[ \t]*\\(")
    list(APPEND names "${CMAKE_MATCH_2}")
  endif()
endforeach()
list(REMOVE_DUPLICATES names)
list(SORT names)
list(LENGTH names n)
if(n LESS 10)
  message(FATAL_ERROR "${HEADER}: found only ${n} functions: ${names}")
endif()
set(map "/* Generated from floret.h by cmake/exports.cmake; do not edit. */\n{\n  global:\n")
foreach(name IN LISTS names)
  string(APPEND map "    ${name};\n")
endforeach()
string(APPEND map "  local:\n    *;\n};\n")
# Rewrite only when it changed, so the library relinks only then.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL map)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${map}")
