#!/usr/bin/env python3
"""mcu_size.py - the size table of the floret firmware, from the linker's
map file: flash and static RAM of each part (floret's core and tasks, the
port and board, lwIP, cJSON, the C library with libgcc), with the arena
(floret's heap) and the stack shown apart, since their use is measured at
run time (bench/mcu_size.sh).

usage: mcu_size.py FIRMWARE.map [FIRMWARE.elf] [--json] [--check]
--check: exit 1, naming the part, when floret's own flash is over
FLORET_FLASH_BUDGET or the firmware's over FLASH_BUDGET (the targets the
firmware is held to: docs/microcontrollers.md, "Memory budget").
Depends on python3 only.
"""
import json
import re
import sys

PARTS = [
    ("floret", "floret core and tasks (src/core, src/tasks)"),
    ("port", "port and board (src/port/lwip)"),
    ("lwip", "lwIP 2.1.3 (IPv4, TCP, DHCP, MQTT client)"),
    ("cjson", "cJSON"),
    ("libc", "libc (newlib, libm, libgcc)"),
]
FLASH_SECTIONS = {".vectors", ".text", ".ARM.exidx", ".init_array"}
FLORET_FLASH_BUDGET = 48 * 1024  # floret's core and tasks, at -Os
FLASH_BUDGET = 160 * 1024        # the whole firmware


def part_of(path):
    base = path.rsplit("/", 1)[-1]
    if base.startswith("libfloret.a"):
        return "floret"
    if base.startswith("libport.a"):
        return "port"
    if base.startswith("liblwip.a"):
        return "lwip"
    if base.startswith("libcjson.a"):
        return "cjson"
    if re.match(r"lib(c|c_nano|m|g|g_nano|gcc|nosys)\.a", base) or "crt" in base:
        return "libc"
    return "port" if base.endswith(".o") else "libc"


def parse(map_path):
    sizes = {p: {"flash": 0, "ram": 0} for p, _ in PARTS}
    arena = stack = 0
    out = None
    in_map = False
    pending = None
    for line in open(map_path):
        line = line.rstrip("\n")
        if line.startswith("Linker script and memory map"):
            in_map = True
            continue
        if not in_map:
            continue
        m = re.match(r"^(\.[\w.]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", line)
        if m:
            out = m.group(1)
            if out == ".stack":
                stack = int(m.group(2), 16)
            continue
        m = re.match(r"^ (\.[^\s]+)\s*$", line)
        if m:
            pending = m.group(1)
            continue
        m = re.match(r"^ (\.[^\s]+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
        if not m:
            pending = None
            continue
        name = m.group(1) or pending
        pending = None
        if name is None or out is None:
            continue
        size = int(m.group(3), 16)
        src = m.group(4)
        if name.startswith(".bss.arena_mem"):
            arena += size
            continue
        part = part_of(src)
        if out in FLASH_SECTIONS:
            sizes[part]["flash"] += size
        elif out == ".data":
            sizes[part]["flash"] += size
            sizes[part]["ram"] += size
        elif out == ".bss":
            sizes[part]["ram"] += size
    return sizes, arena, stack


def stack_from_map(map_path):
    for line in open(map_path):
        m = re.match(r"^\s+0x([0-9a-f]+)\s+STACK_SIZE = ", line)
        if m:
            return int(m.group(1), 16)
    return 0


def kib(n):
    return f"{n / 1024:.1f} KiB"


def check(sizes):
    """The budget lines, and whether both budgets hold."""
    floret = sizes["floret"]["flash"]
    total = sum(s["flash"] for s in sizes.values())
    ok = True
    lines = []
    for what, used, budget in (("floret core and tasks", floret, FLORET_FLASH_BUDGET),
                               ("whole firmware", total, FLASH_BUDGET)):
        over = used > budget
        ok = ok and not over
        lines.append(f"{what}: {kib(used)} of flash, budget {kib(budget)}: "
                     f"{'OVER by ' + kib(used - budget) if over else 'within'}")
    return lines, ok


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    sizes, arena, stack = parse(argv[1])
    if not sizes["floret"]["flash"]:
        sys.exit(f"mcu_size.py: no floret code found in {argv[1]}")
    if "--json" in argv:
        print(json.dumps({"parts": sizes, "arena": arena, "stack": stack}))
        return
    print(f"{'part':<46} {'flash':>10} {'static RAM':>11}")
    tf = tr = 0
    for key, label in PARTS:
        f, r = sizes[key]["flash"], sizes[key]["ram"]
        tf += f
        tr += r
        print(f"{label:<46} {kib(f):>10} {kib(r):>11}")
    print(f"{'arena: floret, cJSON and libc heap (reserved)':<46} {'':>10} {kib(arena):>11}")
    print(f"{'stack (reserved)':<46} {'':>10} {kib(stack):>11}")
    print(f"{'total':<46} {kib(tf):>10} {kib(tr + arena + stack):>11}")
    print(f"(the arena's and the stack's high-water marks over a run: bench/mcu_size.sh)")
    if "--check" in argv:
        lines, ok = check(sizes)
        print("\n".join(lines))
        if not ok:
            sys.exit("mcu_size.py: the firmware is over its flash budget")


if __name__ == "__main__":
    main(sys.argv)
