#!/usr/bin/env bash
# cortex_m3.sh - proves the portable core builds for a microcontroller:
# compiles every file of src/core/ (with src/core/worker_only/) and
# src/tasks/ with Debian's gcc-arm-none-eabi and newlib-nano for a
# Cortex-M3 under the small profile (-Os, -Werror, no stack frame over
# 1 KiB), then checks that the objects need no thread-local storage and no
# libatomic, that no string compiled in is a printf format of a
# floating-point number (newlib-nano has no %g), and prints the size of
# floret's code, linked as the full core and as the worker-only core of
# the firmware (docs/microcontrollers.md, "Worker-only core"); it fails
# when the worker-only one passes FLORET_CORE_TEXT_MAX bytes (default
# 48 KiB, the budget of docs/architecture.md, "Small profile").
# cJSON's header comes from Debian's libcjson-dev.
#
# Usage: cortex_m3.sh SOURCE_DIR WORK_DIR
# Depends on bash, arm-none-eabi-gcc, -nm, -size, libnewlib-arm-none-eabi,
# libcjson-dev.
set -euo pipefail

SRC=$(cd "$1" && pwd)
mkdir -p "$2"
WORK=$(cd "$2" && pwd)
TARGET=49152
TEXT_MAX=${FLORET_CORE_TEXT_MAX:-$TARGET}
CC=arm-none-eabi-gcc

fail() {
  echo "cortex_m3: FAIL: $*" >&2
  exit 1
}

command -v "$CC" >/dev/null ||
  fail "$CC not found (scripts/deps.sh installs gcc-arm-none-eabi)"
[[ -f /usr/include/cjson/cJSON.h ]] ||
  fail "/usr/include/cjson/cJSON.h not found (libcjson-dev)"

rm -rf "$WORK"
mkdir -p "$WORK/obj" "$WORK/include"
# Only cJSON's directory: the host's own headers must not shadow newlib's.
ln -s /usr/include/cjson "$WORK/include/cjson"

FLAGS=(-mcpu=cortex-m3 -mthumb -Os --specs=nano.specs -std=c11
  -DFL_PROFILE_SMALL -ffunction-sections -fdata-sections -fstack-usage
  -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wno-unused-parameter -Wframe-larger-than=1024
  -I"$SRC/include" -I"$SRC/src/core" -I"$WORK/include")

echo "cortex_m3: $($CC --version | head -n1)"
echo "cortex_m3: ${FLAGS[*]}"
objs=()
for src in "$SRC"/src/core/*.c "$SRC"/src/core/worker_only/*.c "$SRC"/src/tasks/*.c; do
  dir=$(basename "$(dirname "$src")")
  obj="$WORK/obj/${dir}_$(basename "${src%.c}").o"
  (cd "$WORK/obj" && "$CC" "${FLAGS[@]}" -c "$src" -o "$obj") ||
    fail "$src does not compile for Cortex-M3"
  objs+=("$obj")
done
echo "cortex_m3: ${#objs[@]} files compiled"

# Thread-local storage and libatomic would show as calls the board cannot
# resolve: __aeabi_read_tp, __tls_get_addr, __atomic_*, __sync_*.
undefined=$(arm-none-eabi-nm -u "${objs[@]}" | awk 'NF == 2 {print $2}' | sort -u)
bad=$(grep -E '^(__aeabi_read_tp|__tls_get_addr|__emutls_|__atomic_|__sync_)' \
  <<<"$undefined" || true)
[[ -z "$bad" ]] || fail "the core needs thread-local storage or libatomic: $bad"
echo "cortex_m3: no thread-local storage, no libatomic"

# A printf format with a floating-point conversion among the strings
# compiled in (so what the small profile leaves out does not count).
floats=$(for o in "${objs[@]}"; do
  arm-none-eabi-objcopy -O binary --only-section='.rodata*' "$o" "$WORK/rodata"
  tr '\0' '\n' <"$WORK/rodata" | { grep -aE '%[-+ #0-9.*]*[aAeEfFgG]' || true; } |
    sed "s|^|$(basename "$o"): |"
done)
[[ -z "$floats" ]] || fail "a floating-point printf format in the core:
$floats"
echo "cortex_m3: no floating-point printf format"

largest=$(cat "$WORK"/obj/*.su | sort -t$'\t' -k2 -n | tail -n1)
echo "cortex_m3: largest stack frame: $largest"

echo "cortex_m3: sizes (bytes, -Os, before the linker drops unused functions):"
arm-none-eabi-size -t "${objs[@]}" | sed "s|$WORK/obj/||"
sum() {
  arm-none-eabi-size -t "$@" | awk 'END {print $1, $2, $3}'
}
read -r core_text core_data core_bss < <(sum "$WORK"/obj/core_*.o "$WORK"/obj/worker_only_*.o)
read -r tasks_text tasks_data tasks_bss < <(sum "$WORK"/obj/tasks_*.o)
text=$((core_text + tasks_text))
echo "cortex_m3: src/core .text $core_text, .data $core_data, .bss $core_bss"
echo "cortex_m3: src/tasks .text $tasks_text, .data $tasks_data, .bss $tasks_bss"
echo "cortex_m3: all of floret's objects: .text $text"

# What a worker keeps of it: linked alone (no libc, no cJSON: their
# symbols are left unresolved) with unused sections dropped, from the
# calls a port makes to serve tasks; once as the full core (a POSIX node
# serving tasks), once as the firmware's worker-only core, without the
# files src/core/worker_only/left_out.txt names and with owner_none.c.
WORKER_API=(fl_set_allocator fl_registry_new fl_registry_free fl_register_builtins
  fl_register_wordcount fl_core_new fl_core_free fl_core_will fl_core_will_retain
  fl_core_connected fl_core_disconnected fl_core_input fl_core_tick fl_core_flush
  fl_core_run_job fl_core_job_done fl_core_shutdown fl_core_stopped
  fl_core_stats_get)
roots=()
for sym in "${WORKER_API[@]}"; do
  roots+=("-Wl,--undefined=$sym")
done
link_worker() { # ELF OBJECTS...
  local elf=$1
  shift
  "$CC" -mcpu=cortex-m3 -mthumb -nostdlib -Wl,--gc-sections \
    -Wl,--unresolved-symbols=ignore-all -Wl,--entry=fl_core_new "${roots[@]}" \
    -o "$elf" "$@" || fail "the worker's objects do not link ($elf)"
  local missing
  missing=$(arm-none-eabi-nm "$elf" | awk '{print $NF}' | sort -u |
    comm -13 - <(printf '%s\n' "${WORKER_API[@]}" | sort -u))
  [[ -z "$missing" ]] || fail "not in the core: $missing"
}
full=() worker_only=()
left_out=" $(grep -v '^#' "$SRC/src/core/worker_only/left_out.txt" | sed 's/\.c$//' | tr '\n' ' ') "
for o in "${objs[@]}"; do
  base=$(basename "$o" .o)
  case $base in
    worker_only_*) worker_only+=("$o") ;;
    core_*) full+=("$o")
            [[ $left_out == *" ${base#core_} "* ]] || worker_only+=("$o") ;;
    *) full+=("$o"); worker_only+=("$o") ;;
  esac
done
link_worker "$WORK/worker_full.elf" "${full[@]}"
link_worker "$WORK/worker.elf" "${worker_only[@]}"
read -r full_text _ < <(arm-none-eabi-size "$WORK/worker_full.elf" | awk 'NR == 2 {print $1}')
read -r linked_text linked_data linked_bss < <(arm-none-eabi-size "$WORK/worker.elf" |
  awk 'NR == 2 {print $1, $2, $3}')
echo "cortex_m3: the full core, serving tasks, links .text $full_text of floret"
verdict=$( ((linked_text <= TEXT_MAX)) && echo within || echo OVER)
echo "cortex_m3: the worker-only core links .text $linked_text, .data $linked_data, .bss $linked_bss of floret ($verdict the $TEXT_MAX-byte target)"
((linked_text <= TEXT_MAX)) ||
  fail "a worker-only core's floret code is $linked_text bytes, over $TEXT_MAX (FLORET_CORE_TEXT_MAX)"
echo "cortex_m3: PASS"
