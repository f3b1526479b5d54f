#!/usr/bin/env bash
# mcu_size.sh - the firmware's figures: flash and RAM split into floret
# (core and tasks), the port and board, lwIP, cJSON and the C library,
# and RAM in use = static (.data and .bss, without the arena and the
# stack they reserve) + the arena's high-water mark + the painted stack's
# high-water mark, both reported by the firmware over semihosting after a
# run of --tasks tasks (default 10,000 add tasks, in one add.starmap) on
# the emulated board alone; and that run's tasks per second, which is
# QEMU's speed on this host, not a real Cortex-M3's.
#
#   bench/mcu_size.sh [--tasks N] [--floret PATH]
#
# Builds the firmware (scripts/mcu.sh build) and uses the floret command
# of build/gcc (or --floret). Starts a private mosquitto on a free
# loopback port and one QEMU, both killed on exit; nothing leaves
# 127.0.0.1. Prints the figures and the command; docs/benchmarks.md
# ("Microcontroller firmware") holds a run of it.
# Depends on bash, python3, mosquitto, scripts/mcu.sh and its tools.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TASKS=10000
FLORET=$ROOT/build/gcc/floret
while [[ $# -gt 0 ]]; do
  case $1 in
    --tasks) TASKS=${2:?}; shift 2 ;;
    --floret) FLORET=${2:?}; shift 2 ;;
    *) echo "usage: bench/mcu_size.sh [--tasks N] [--floret PATH]" >&2; exit 2 ;;
  esac
done
[[ -x $FLORET ]] || { echo "mcu_size.sh: no floret command at $FLORET (build it, or --floret)" >&2; exit 1; }

BUILD=${FLORET_MCU_BUILD:-$ROOT/build/mcu}
export FLORET_MCU_BUILD=$BUILD
"$ROOT/scripts/mcu.sh" build >/dev/null
MAP=$BUILD/floret-mps2-an385.map

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
EOF
[[ $(id -u) -eq 0 ]] && echo "user root" >>"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
export FLORET_BROKER=mqtt://127.0.0.1:$PORT
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
  sleep 0.1
done

"$ROOT/scripts/mcu.sh" run --broker "$FLORET_BROKER" --name bench-mcu --stats 500 >"$WORK/fw.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do
  grep -q "connected to the broker" "$WORK/fw.log" && break
  sleep 0.1
done
grep -q "connected to the broker" "$WORK/fw.log" || { cat "$WORK/fw.log" >&2; exit 1; }
sleep 1

ITEMS=$(python3 -c "import sys; n=int(sys.argv[1]); print('[' + ','.join('[%d,%d]' % (i % 10, i % 7) for i in range(n)) + ']')" "$TASKS")
START=$(date +%s.%N)
timeout 3600 "$FLORET" run --timeout 3000 "add.starmap($ITEMS)" >"$WORK/result.json"
END=$(date +%s.%N)
python3 - "$WORK/result.json" "$TASKS" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
want = [i % 10 + i % 7 for i in range(n)]
if r != want:
    sys.exit("mcu_size.sh: wrong results from the firmware")
EOF
sleep 1.5   # one more stats line after the last task

python3 - "$MAP" "$WORK/fw.log" "$TASKS" "$START" "$END" "$ROOT" <<'EOF'
import json, re, subprocess, sys
map_path, log, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3])
start, end, root = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
sizes = json.loads(subprocess.check_output(
    [sys.executable, root + "/scripts/mcu_size.py", map_path, "--json"]))
stats = [dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", l))
         for l in open(log) if l.startswith("stats: ")]
last = stats[-1]
if last["executed"] < tasks:
    sys.exit("mcu_size.sh: the firmware executed %d of %d tasks" % (last["executed"], tasks))
kib = lambda n: "%.1f KiB" % (n / 1024)
parts = sizes["parts"]
labels = [("floret", "floret core and tasks"), ("port", "port and board"),
          ("lwip", "lwIP 2.1.3"), ("cjson", "cJSON"), ("libc", "newlib, libm, libgcc")]
print("| part | flash | static RAM |")
print("|---|---:|---:|")
flash = ram = 0
for k, label in labels:
    flash += parts[k]["flash"]; ram += parts[k]["ram"]
    print("| %s | %s | %s |" % (label, kib(parts[k]["flash"]), kib(parts[k]["ram"])))
print("| **total** | **%s** | **%s** |" % (kib(flash), kib(ram)))
print()
for what, used, budget in (("floret's own flash", parts["floret"]["flash"], 48 * 1024),
                           ("the firmware's flash", flash, 160 * 1024)):
    print("%s: %s of a %s budget (%s)" % (what, kib(used), kib(budget),
                                         "within" if used <= budget else "OVER"))
peak, stack = last["arena_peak"], last["stack_peak"]
print("RAM in use after %d tasks: static %s + arena peak %s (of %s reserved) + stack peak %s "
      "(of %s reserved) = **%s**" % (tasks, kib(ram), kib(peak), kib(sizes["arena"]), kib(stack),
                                     kib(sizes["stack"]), kib(ram + peak + stack)))
print("arena failures: %d, messages refused as too big: %d" % (last["arena_failures"], last["too_big"]))
secs = end - start
print("emulated board (QEMU mps2-an385 on this host, not real silicon): %d add tasks in %.2f s = "
      "%.0f tasks/s" % (tasks, secs, tasks / secs))
EOF
echo "command: bench/mcu_size.sh --tasks $TASKS"
