#!/usr/bin/env bash
# oversized.sh - a node's peak memory when a 250 MB message is published to
# its inbox. The node connects with MQTT 5 and announces its largest packet
# (--max-message plus 4 KiB), so the broker drops the message instead of
# sending it; before, the node read all of it and refused it afterwards
# (494 MB peak RSS at --max-message 8 MiB). Prints the node's peak RSS
# (VmHWM) after start and a call, then after the publish and a second call,
# and checks it against baseline + 2 x --max-message.
# The broker is a private Mosquitto on a free loopback port with no
# max_packet_size of its own (as a broker not set up by floret).
# Usage: bench/oversized.sh [FLORET] [MB] [MAX_MESSAGE_BYTES]
# Depends on bash, mosquitto, mosquitto_pub (mosquitto-clients), python3, coreutils.
set -euo pipefail

FLORET=${1:-build/release/floret}
MB=${2:-250}
MAX=${3:-8388608}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  echo "listener $port 127.0.0.1"
  echo "allow_anonymous true"
  echo "persistence false"
  [[ $(id -u) -eq 0 ]] && echo "user root"
} > "$work/m.conf"
mosquitto -c "$work/m.conf" > "$work/m.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done

export FLORET_BROKER=mqtt://127.0.0.1:$port
"$FLORET" node --name big --slots 1 --max-message "$MAX" -q > "$work/node.log" 2>&1 &
node=$!
pids+=($node)
"$FLORET" call add 1 1 --timeout 20 > /dev/null
hwm() { awk '/VmHWM/ {print $2}' "/proc/$node/status"; }
base=$(hwm)

head -c "${MB}000000" /dev/zero > "$work/payload"
t0=$(date +%s.%N)
mosquitto_pub -p "$port" -q 1 -t floret/v1/default/node/big/in -f "$work/payload"
rm -f "$work/payload"
sleep 1
"$FLORET" call add 2 2 --timeout 20 > /dev/null
t1=$(date +%s.%N)
peak=$(hwm)
limit=$((base + 2 * MAX / 1024))
kill -0 "$node"

echo "machine: $(uname -m), $(nproc) cores; floret $("$FLORET" --version | cut -d' ' -f2)"
echo "command: bench/oversized.sh $FLORET $MB $MAX"
printf 'publish of %d MB to the inbox of a node with --max-message %d\n' "$MB" "$MAX"
printf 'node peak RSS: %d KiB after start, %d KiB after the publish (limit %d KiB = baseline + 2 x max-message)\n' \
  "$base" "$peak" "$limit"
printf 'publish and the next call: %.2f s; node still serving\n' "$(echo "$t1 - $t0" | bc -l 2>/dev/null || echo 0)"
if (( peak <= limit )); then echo "PASS"; else echo "FAIL: peak over the limit"; exit 1; fi
