"""header_api - the functions include/floret/floret.h declares, read with a
parser of its own (cmake/exports.cmake writes the linker's list with
another), and the symbols a shared library exports (nm -D). Depends on the
Python standard library and binutils' nm."""

import re
import subprocess


def declared_functions(header_path):
    with open(header_path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    names = set()
    for stmt in re.split(r"[;{}]", text):
        stmt = " ".join(stmt.split())
        if not stmt or stmt.startswith("typedef "):
            continue
        m = re.search(r"\b(fl_\w+)\s*\(", stmt)
        if m:
            names.add(m.group(1))
    return names


def exported_symbols(lib_path):
    out = subprocess.run(["nm", "-D", "--defined-only", lib_path], check=True,
                         capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            syms[parts[2].split("@")[0]] = parts[1]
    return syms
