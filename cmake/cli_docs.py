#!/usr/bin/env python3
"""cli_docs - the man pages floret(1), floret-CMD(1) and the bash completion
of the floret command, made at build time from the one source of truth the
user also sees: the built binary's `floret --help` and `floret CMD --help`.
A help text has a fixed layout (usage lines; paragraphs; "Options:" with
"  -x, --long VALUE  description" lines, continuations indented further;
paragraphs such as "Exit status: ..."), which is parsed here into scdoc
sources (turned into roff by scdoc) and into the word lists of the
completion function. tests/install/test_cli_docs.py checks the result.

usage: cli_docs.py FLORET_BINARY OUT_DIR SCDOC
writes OUT_DIR/man1/*.1.gz and OUT_DIR/floret.bash.
Depends on the Python standard library and scdoc."""

import gzip
import os
import re
import subprocess
import sys

OPTION_LINE = re.compile(r"^  (-[A-Za-z0-9?]|--[a-z0-9][a-z0-9-]*)")
FILE_VALUES = re.compile(r"^(F|FILE(\.[a-z]+)?|PREFIX|[A-Z]+\.(pub|key|lua|png))$")
DIR_VALUES = {"DIR"}


def run_help(binary, *args):
    r = subprocess.run([binary] + list(args), capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, FLORET_BROKER=""))
    if r.returncode != 0 or not r.stdout.startswith("usage: "):
        raise SystemExit("cli_docs: '%s' gave status %d:\n%s%s"
                         % (" ".join(["floret"] + list(args)), r.returncode, r.stdout, r.stderr))
    return r.stdout


def blocks(lines):
    """Split lines into blocks at blank lines."""
    out, cur = [], []
    for line in lines:
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def parse_option_head(line):
    """'  -v, --verbose   text' -> (['-v', '--verbose'], 'VALUE' or '', text)."""
    body = line[2:]
    m = re.match(r"(\S.*?)(?:\s{2,}(.*))?$", body)
    spec, text = m.group(1), m.group(2) or ""
    names, value = [], ""
    for part in [p.strip() for p in spec.split(", ")]:
        words = part.split(" ", 1)
        if words[0].startswith("-"):
            names.append(words[0])
            if len(words) > 1:
                value = words[1]
        else:
            value = part
    return names, value, text


def parse_help(text):
    """A help text -> dict(usage=[...], intro=[blocks], options=[...], outro=[blocks])."""
    lines = text.splitlines()
    bl = blocks(lines)
    usage = [re.sub(r"^(usage: |       )", "", l).strip() for l in bl[0]]
    intro, options, outro, seen = [], [], [], False
    for b in bl[1:]:
        if b[0] == "Options:" or b[0] == "Commands:":
            seen = True
            cur = None
            for line in b[1:]:
                if OPTION_LINE.match(line):
                    names, value, desc = parse_option_head(line)
                    cur = {"names": names, "value": value, "text": [desc] if desc else []}
                    options.append(cur)
                elif cur is not None:
                    cur["text"].append(line.strip())
            continue
        (outro if seen else intro).append(b)
    return {"usage": usage, "intro": intro, "options": options, "outro": outro}


def parse_commands(text):
    """The command list of `floret --help`: [(name, summary)]."""
    out, inside = [], False
    for line in text.splitlines():
        if line == "Commands:":
            inside = True
        elif inside and not line.strip():
            break
        elif inside:
            name, summary = line.strip().split(None, 1)
            out.append((name, summary.strip()))
    return out


# ------------------------------------------------------------- man pages

def join(lines):
    """Wrapped lines as one: a word broken after its hyphen ("colon-",
    "separated") is joined back without a space."""
    out = ""
    for l in (l.strip() for l in lines):
        if not out:
            out = l
        elif re.search(r"[A-Za-z]-$", out) and l[:1].islower():
            out += l
        else:
            out += " " + l
    return out


def esc(s):
    """Text for scdoc: its markup characters made literal."""
    return s.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def paragraph(block):
    """A block of help text as scdoc: prose joined into one line, an
    indented block (examples) kept as it is in a literal block."""
    if all(l.startswith("  ") for l in block):
        return "```\n" + "\n".join(l[2:] for l in block) + "\n```"
    return esc(join(block))


def option_entry(o):
    names = ", ".join("*%s*" % esc(n) for n in o["names"])
    if o["value"]:
        names += " _%s_" % esc(o["value"])
    text = join(o["text"]) or "(see above)"
    return "%s\n\t%s" % (names, esc(text))


def synopsis(usage):
    out = []
    for u in usage:
        words = u.split(" ")
        sub = len(words) > 1 and words[0] == "floret" and words[1][:1].islower()
        head = " ".join(words[:2]) if sub else words[0]
        rest = u[len(head):].strip()
        out.append("*%s* %s" % (esc(head), esc(rest)) if rest else "*%s*" % esc(head))
    return "\n\n".join(out)


def man_page(name, summary, h, see_also):
    parts = ["%s(1)" % name, "", "# NAME", "", "%s - %s" % (name, esc(summary)), "",
             "# SYNOPSIS", "", synopsis(h["usage"]), "", "# DESCRIPTION", ""]
    parts += ["\n\n".join(paragraph(b) for b in h["intro"]) or esc(summary), ""]
    if h["options"]:
        parts += ["# OPTIONS", ""]
        parts += ["\n\n".join(option_entry(o) for o in h["options"]), ""]
    exits = [b for b in h["outro"] if b[0].startswith("Exit status:")]
    notes = [b for b in h["outro"] if b not in exits]
    if notes:
        parts += ["# NOTES", "", "\n\n".join(paragraph(b) for b in notes), ""]
    if exits:
        text = " ".join(" ".join(l.strip() for l in b) for b in exits)
        parts += ["# EXIT STATUS", "", esc(text[len("Exit status:"):].strip()), ""]
    parts += ["# SEE ALSO", "", ", ".join(see_also), ""]
    return "\n".join(parts)


def main_page(top, commands):
    h = parse_help(top)
    cmds = "\n\n".join("*floret-%s*(1)\n\t%s" % (esc(n), esc(s)) for n, s in commands)
    parts = ["floret(1)", "", "# NAME", "", "floret - distributed task queue over MQTT", "",
             "# SYNOPSIS", "", synopsis(h["usage"]), "", "# DESCRIPTION", "",
             "\n\n".join(paragraph(b) for b in h["intro"]), "",
             "# COMMANDS", "", cmds, "", "*floret help* _COMMAND_\n\tthe help of COMMAND, "
             "as *floret* _COMMAND_ *--help*", ""]
    opts = [o for o in h["options"] if o["names"][0].startswith("-")]
    if opts:
        parts += ["# OPTIONS", "", "\n\n".join(option_entry(o) for o in opts), ""]
    notes = [b for b in h["outro"] if not b[0].startswith("Options:")]
    if notes:
        parts += ["# NOTES", "", "\n\n".join(paragraph(b) for b in notes), ""]
    parts += ["# SEE ALSO", "", ", ".join(["*floret-%s*(1)" % esc(n) for n, _ in commands]
                                          + ["*mosquitto*(8)"]), ""]
    return "\n".join(parts)


def scdoc(tool, source, out):
    """Write the page out (NAME.1.gz): gzip -9n, as Debian ships man pages."""
    r = subprocess.run([tool], input=source.encode(), capture_output=True, timeout=30)
    if r.returncode != 0:
        raise SystemExit("cli_docs: scdoc refused %s: %s\n%s" % (out, r.stderr.decode(),
                                                                 source))
    with open(out + ".gz", "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9,
                           mtime=0) as f:
            f.write(r.stdout)


# ------------------------------------------------------------- completion

def shell_name(s):
    return re.sub(r"[^A-Za-z0-9]", "_", s)


def completion(commands, helps):
    out = ["# bash completion for floret, made from `floret CMD --help` when floret",
           "# was built (cmake/cli_docs.py): subcommands, each one's options, file",
           "# names for options that take a file, the choices of --pool-like options.",
           "",
           "_floret_commands='%s'" % " ".join(n for n, _ in commands)]
    for name, _ in commands:
        v = shell_name(name)
        opts, files, dirs, values = [], [], [], []
        choices = []
        for o in helps[name]["options"]:
            opts += o["names"]
            val = o["value"]
            if not val:
                continue
            values += o["names"]
            if FILE_VALUES.match(val):
                files += o["names"]
            elif val in DIR_VALUES:
                dirs += o["names"]
            elif re.match(r"^[a-z]+(\|[a-z]+)+$", val):
                for n in o["names"]:
                    choices.append((n, val.replace("|", " ")))
        out.append("_floret_opts_%s='%s'" % (v, " ".join(opts)))
        out.append("_floret_values_%s=' %s '" % (v, " ".join(values)))
        out.append("_floret_files_%s=' %s '" % (v, " ".join(files)))
        out.append("_floret_dirs_%s=' %s '" % (v, " ".join(dirs)))
        for n, c in choices:
            out.append("_floret_choices_%s_%s='%s'" % (v, shell_name(n), c))
    out.append(r'''
_floret() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local cmd v name
    COMPREPLY=()
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$_floret_commands help --help --version" -- "$cur"))
        return 0
    fi
    cmd=${COMP_WORDS[1]}
    if [[ $cmd == help ]]; then
        [[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W "$_floret_commands" -- "$cur"))
        return 0
    fi
    v=${cmd//[^A-Za-z0-9]/_}
    name=_floret_opts_$v
    [[ -n ${!name+set} ]] || return 0
    name=_floret_choices_${v}_${prev//[^A-Za-z0-9]/_}
    if [[ $prev == -* && -n ${!name+set} ]]; then
        COMPREPLY=($(compgen -W "${!name}" -- "$cur"))
        return 0
    fi
    name=_floret_files_$v
    if [[ $prev == -* && ${!name} == *" $prev "* ]]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
    fi
    name=_floret_dirs_$v
    if [[ $prev == -* && ${!name} == *" $prev "* ]]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -d -- "$cur"))
        return 0
    fi
    name=_floret_values_$v
    if [[ $prev == -* && ${!name} == *" $prev "* ]]; then
        return 0 # a value only the user knows (a number, a name, a URL)
    fi
    if [[ $cur == -* ]]; then
        name=_floret_opts_$v
        COMPREPLY=($(compgen -W "${!name}" -- "$cur"))
        return 0
    fi
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
}
complete -F _floret floret
''')
    return "\n".join(out)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    binary, outdir, tool = sys.argv[1:]
    top = run_help(binary, "--help")
    commands = parse_commands(top)
    if not commands:
        raise SystemExit("cli_docs: no commands in 'floret --help'")
    helps = {n: parse_help(run_help(binary, n, "--help")) for n, _ in commands}
    man1 = os.path.join(outdir, "man1")
    os.makedirs(man1, exist_ok=True)
    for old in os.listdir(man1):
        os.unlink(os.path.join(man1, old))
    scdoc(tool, main_page(top, commands), os.path.join(man1, "floret.1"))
    for name, summary in commands:
        see = ["*floret*(1)"]
        h = helps[name]
        said = " ".join([" ".join(b) for b in h["intro"] + h["outro"]] +
                        [" ".join(o["text"]) for o in h["options"]])
        see += ["*floret-%s*(1)" % esc(n) for n, _ in commands
                if n != name and re.search(r"floret %s\b" % re.escape(n), said)]
        page = man_page("floret-" + name, summary, helps[name], see)
        scdoc(tool, page, os.path.join(man1, "floret-%s.1" % name))
    with open(os.path.join(outdir, "floret.bash"), "w") as f:
        f.write(completion(commands, helps))


if __name__ == "__main__":
    main()
