#!/usr/bin/env bash
# mcu.sh - the floret firmware for microcontrollers, on QEMU's mps2-an385
# (Cortex-M3, LAN9118 Ethernet):
#
#   scripts/mcu.sh build          fetch lwIP and cJSON (Debian source
#                                 packages), cross-compile, print the size table
#   scripts/mcu.sh size [--check] print the size table of the last build;
#                                 --check: fail when over the flash budgets
#   scripts/mcu.sh run --broker mqtt://127.0.0.1:PORT [--name ID]
#                     [--cluster NAME] [--slots N] [--stats MS] [--log 0-3]
#                                 boot the firmware in qemu-system-arm as a
#                                 worker of that broker's cluster, until killed
#
# Sources: `apt-get source lwip cjson` with a deb-src list of this script's
# own (the deb entries of the system's apt configuration, as deb-src),
# its own lists and cache directories under the build directory, so the
# system's apt setup is untouched; nothing fetched is committed. The build
# directory is $FLORET_MCU_BUILD (default build/mcu). Network: QEMU's
# user-mode stack, where the guest reaches the host's loopback as
# 10.0.2.2; the firmware addresses nothing else.
# Depends on bash, apt-get, dpkg-source, python3, make, gcc-arm-none-eabi,
# libnewlib-arm-none-eabi, qemu-system-arm.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FLORET_MCU_BUILD:-$ROOT/build/mcu}
BOARD_DIR=$ROOT/src/port/lwip/boards/mps2-an385
ELF=$BUILD/floret-mps2-an385.elf
JOBS=${FLORET_JOBS:-2}

die() { echo "mcu.sh: $*" >&2; exit 1; }

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}

# ------------------------------------------------------------ sources

# The deb-src list: each deb entry of the system's apt sources (one-line
# or deb822 format), as deb-src.
write_source_list() {
  python3 - "$1" <<'EOF'
import glob, re, sys
out = []
def add(uri, suite, comps, signed):
    opt = f" [signed-by={signed}]" if signed else ""
    line = f"deb-src{opt} {uri} {suite} {comps}"
    if line not in out:
        out.append(line)
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        text = open(path).read()
    except OSError:
        continue
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)", line)
        if m:
            signed = re.search(r"signed-by=(\S+?)[\] ]", (m.group(1) or "") + " ")
            add(m.group(2), m.group(3), m.group(4), signed.group(1) if signed else "")
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path).read().split("\n\n"):
        f = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            k, v = line.split(":", 1)
            f[k.strip().lower()] = v.strip()
        if "deb" not in f.get("types", "").split() or f.get("enabled", "yes") == "no":
            continue
        for uri in f.get("uris", "").split():
            for suite in f.get("suites", "").split():
                add(uri, suite, f.get("components", "main"), f.get("signed-by", ""))
if not out:
    sys.exit("no deb entries in the system's apt sources")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
EOF
}

# lwIP 2.1.3's MQTT client writes every new piece of a message it
# receives at the start of its buffer, so a publish spread over two TCP
# segments loses the bytes that had arrived with the first (lwIP 2.2
# keeps its place). The build puts that one expression right in the
# fetched copy; a lwIP that already has it is left alone.
fix_lwip_mqtt() {
  local f=$1/src/apps/mqtt/mqtt.c
  python3 - "$f" <<'EOF'
import re, sys
path = sys.argv[1]
s = open(path).read()
if "floret: keep the place" in s or "cpy_start" in s:
    sys.exit(0)
old_space = "buffer_space = MQTT_VAR_HEADER_BUFFER_LEN - fixed_hdr_len;"
old_copy = "pbuf_copy_partial(p, client->rx_buffer + fixed_hdr_len, cpy_len, in_offset);"
old_recv = "mqtt_message_received(client, fixed_hdr_len, cpy_len, msg_rem_len);"
for pat in (old_space, old_copy, old_recv):
    if s.count(pat) != 1:
        sys.exit(f"{path}: lwIP's MQTT parser is not the 2.1.3 one this build knows")
start = ("/* floret: keep the place of what the buffer already holds */ "
         "u16_t cpy_start = (u16_t)((client->msg_idx - fixed_hdr_len) % "
         "(MQTT_VAR_HEADER_BUFFER_LEN - fixed_hdr_len) + fixed_hdr_len); ")
s = s.replace(old_space, start + "buffer_space = MQTT_VAR_HEADER_BUFFER_LEN - cpy_start;")
s = s.replace(old_copy, "pbuf_copy_partial(p, client->rx_buffer + cpy_start, cpy_len, in_offset);")
s = s.replace(old_recv, "mqtt_message_received(client, fixed_hdr_len, "
              "(u16_t)((cpy_start + cpy_len) - fixed_hdr_len), msg_rem_len);")
open(path, "w").write(s)
EOF
}

fetch_sources() {
  local src=$BUILD/src
  if [[ -f $src/.done ]]; then
    return
  fi
  command -v apt-get >/dev/null || die "apt-get is needed to fetch the lwIP and cJSON sources"
  command -v dpkg-source >/dev/null || die "dpkg-source (package dpkg-dev) is needed"
  local apt=$BUILD/apt
  rm -rf "$apt" "$src"
  mkdir -p "$apt/lists/partial" "$apt/parts" "$apt/cache/archives/partial" "$src"
  write_source_list "$apt/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list"
              -o "Dir::Etc::SourceParts=$apt/parts"
              -o "Dir::State::Lists=$apt/lists"
              -o "Dir::Cache=$apt/cache"
              -o "APT::Sandbox::User=root" -q)
  echo "mcu.sh: fetching lwIP and cJSON sources (apt-get source, own lists in $apt)"
  apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 ||
    { cat "$apt/update.log" >&2; die "apt-get update (private lists) failed"; }
  (cd "$src" && apt-get "${opts[@]}" source lwip cjson >"$apt/source.log" 2>&1) ||
    { cat "$apt/source.log" >&2; die "apt-get source lwip cjson failed"; }
  local lwip cjson
  lwip=$(find "$src" -maxdepth 1 -type d -name 'lwip-*' | head -n1)
  cjson=$(find "$src" -maxdepth 1 -type d -name 'cjson-*' | head -n1)
  [[ -n $lwip && -f $lwip/src/apps/mqtt/mqtt.c ]] || die "no lwIP source with apps/mqtt in $src"
  [[ -n $cjson && -f $cjson/cJSON.c ]] || die "no cJSON source in $src"
  fix_lwip_mqtt "$lwip"
  ln -sfn "$lwip" "$src/lwip"
  ln -sfn "$cjson" "$src/cjson"
  mkdir -p "$BUILD/include/cjson"
  cp "$cjson/cJSON.h" "$BUILD/include/cjson/cJSON.h"
  touch "$src/.done"
}

# ------------------------------------------------------------ build

# The core's limits for a board: its small profile when the core has
# one, else the same limits given one by one.
profile_defs() {
  if grep -q 'FL_PROFILE_SMALL' "$ROOT/src/core/defaults.h"; then
    echo "-DFL_PROFILE_SMALL"
  else
    echo "-DFL_DEDUPE_WINDOW=256 -DFL_MAX_BATCH=32 -DFL_DONE_BATCH=32 -DFL_MAX_CREDIT=16 -DFL_KEEP_RESULTS_MAX=16"
  fi
}

build() {
  command -v arm-none-eabi-gcc >/dev/null ||
    die "arm-none-eabi-gcc not found: install gcc-arm-none-eabi libnewlib-arm-none-eabi (scripts/deps.sh)"
  fetch_sources
  make -s -j "$JOBS" -f "$BOARD_DIR/Makefile" ROOT="$ROOT" BUILD="$BUILD" \
    LWIP="$BUILD/src/lwip" CJSON="$BUILD/src/cjson" PROFILE_DEFS="$(profile_defs)" \
    ${FLORET_MCU_MAKE_ARGS:-}
  size_table
}

size_table() {
  [[ -f $ELF ]] || die "no firmware built yet: scripts/mcu.sh build"
  python3 "$ROOT/scripts/mcu_size.py" "${ELF%.elf}.map" "$ELF" "$@"
}

# ------------------------------------------------------------ run

run() {
  local broker="" name="" cluster="" slots="" stats="" log=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --broker) broker=${2:?}; shift 2 ;;
      --name) name=${2:?}; shift 2 ;;
      --cluster) cluster=${2:?}; shift 2 ;;
      --slots) slots=${2:?}; shift 2 ;;
      --stats) stats=${2:?}; shift 2 ;;
      --log) log=${2:?}; shift 2 ;;
      -h|--help) usage 0 ;;
      *) die "unknown option $1 (see scripts/mcu.sh --help)" ;;
    esac
  done
  [[ -n $broker ]] || broker=${FLORET_BROKER:-}
  [[ -n $broker ]] || die "--broker mqtt://127.0.0.1:PORT is needed"
  [[ -f $ELF ]] || die "no firmware: run scripts/mcu.sh build first"
  command -v qemu-system-arm >/dev/null || die "qemu-system-arm not found (scripts/deps.sh)"
  local rest=${broker#mqtt://} auth="" host port
  [[ $rest != "$broker" ]] || die "--broker: expected mqtt://[user:pass@]127.0.0.1:PORT, got $broker"
  if [[ $rest == *@* ]]; then
    auth=${rest%@*}
    rest=${rest#*@}
  fi
  host=${rest%:*}
  port=${rest##*:}
  [[ $host != "$rest" && $port =~ ^[0-9]+$ ]] || port=1883
  case $host in
    127.*|localhost) ;;
    *) die "--broker: the emulated board reaches only the host's loopback (127.0.0.1), not $host" ;;
  esac
  local seed
  seed=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
  local args=(fw broker=10.0.2.2:"$port" seed="$seed")
  [[ -n $name ]] && args+=(name="$name")
  [[ -n $cluster ]] && args+=(cluster="$cluster")
  [[ -n $slots ]] && args+=(slots="$slots")
  [[ -n $stats ]] && args+=(stats="$stats")
  [[ -n $log ]] && args+=(log="$log")
  if [[ -n $auth ]]; then
    args+=(user="${auth%%:*}")
    [[ $auth == *:* ]] && args+=(pass="${auth#*:}")
  fi
  local semi="enable=on,target=native"
  local a
  for a in "${args[@]}"; do
    [[ $a != *,* ]] || die "settings may not contain commas: $a"
    semi+=",arg=$a"
  done
  # QEMU's user network: the firmware's one connection goes to 10.0.2.2,
  # which QEMU connects to the host's 127.0.0.1; its DHCP answers come
  # from QEMU itself. Nothing else is addressed by the firmware.
  exec qemu-system-arm -M mps2-an385 -cpu cortex-m3 -nographic -monitor none \
    -serial none -kernel "$ELF" -semihosting-config "$semi" \
    -netdev "user,id=n0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3" \
    -net nic,netdev=n0,model=lan9118
}

case ${1:-} in
  build) shift; build "$@" ;;
  size) shift; size_table "$@" ;;
  run) shift; run "$@" ;;
  -h|--help|help) usage 0 ;;
  *) usage 2 ;;
esac
