#!/usr/bin/env bash
# deps.sh - install the Debian 12 packages floret needs to build, test and run.
# Re-runs are fast: apt is skipped entirely when every package is already
# installed. Uses sudo when not run as root. Depends on: dpkg-query, apt-get.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  clang libclang-rt-14-dev          # clang -Werror build, sanitizer and fuzzer runtimes
  mosquitto mosquitto-clients       # broker for the local cluster and the tests
  libmosquitto-dev libcjson-dev liblua5.4-dev libsodium-dev
  libzstd-dev liblz4-dev            # compressed attachments (docs/protocol.md section 3)
  libssl-dev                        # why a TLS handshake failed (the verify result)
  openssl                           # TLS tests make their CA and certificates
  python3 python3-paho-mqtt         # integration test drivers (/usr/bin/python3)
  python3-cryptography              # tests that sign control messages themselves (Ed25519)
  procps                            # ps/pgrep, used by tests to check for leftovers
  fortunes                          # real text: the word-count demo, tests and benchmark corpus
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm  # the microcontroller firmware (scripts/mcu.sh), tests/cross and their tests
  dpkg-dev                          # dpkg-source, which `apt-get source` (scripts/mcu.sh) unpacks with; dpkg-shlibdeps for the .deb
  file                              # CPack's .deb: finds the ELF files dpkg-shlibdeps reads
  systemd                           # systemd-analyze verify checks floret-node@.service (tests)
  libmicrohttpd-dev                 # floret dashboard's HTTP server
  python3-prometheus-client         # tests parse the dashboard's /metrics with it
  chromium                          # the dashboard's page in a real headless browser (tests)
  iproute2                          # network namespaces and veth pairs: bridged sites (tests, bench/floret_sites.py)
  rabbitmq-server                   # a clustered broker: its MQTT plugin, three members (tests)
  scdoc                             # man pages, made from the help texts at build time
  man-db groff-base                 # tests render the man pages with man -l
)
# playwright-core (from npm, installed by the browser test into the build
# tree) needs node and npm: Debian's, unless a node is installed already.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  SUDO=(sudo)
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
# The tests start RabbitMQ members of their own (private ports and epmd,
# tests/integration/rabbit_fixture.py); the system service the package
# starts would only hold 5672, 25672 and memory, so it is stopped and left
# disabled where systemd runs it.
if [[ " ${missing[*]} " == *" rabbitmq-server "* && -d /run/systemd/system ]]; then
  "${SUDO[@]}" systemctl disable --now rabbitmq-server || true
fi
