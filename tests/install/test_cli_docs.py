#!/usr/bin/env python3
"""test_cli_docs - the man pages and the bash completion that `cmake
--install` puts in a staging prefix agree with the command: a page per
subcommand that `floret help` lists (and floret(1)), each rendered by
`man -l` without a warning and naming every long option of that
command's --help; the completion, driven in a non-interactive bash
(COMP_WORDS, COMP_CWORD, _floret, COMPREPLY), completes the subcommands,
exactly each subcommand's long options, the choices of --pool and file
names after --config. And the help agrees with the parsers: every option
a help lists is taken by its command (no "unknown option"), and every
option name written in a command's source file is in that command's help
(the one source of truth the pages and completion are made from); the
README's command table lists what `floret help` does.
Depends on cmake, man (man-db, groff), bash, the built floret."""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ["FLORET_BUILD_DIR"]
SOURCE = os.environ["FLORET_SOURCE_DIR"]
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
FLORET = os.environ["FLORET_BIN"]

LONG = re.compile(r"^  (?:-[A-Za-z0-9], )?(--[a-z0-9][a-z0-9-]*)")
# Spellings a parser keeps for old scripts, left out of the help on purpose.
OLD_SPELLINGS = {"status": {"--wait"}}
# Source files and the commands whose options they parse.
SOURCES = {"node.c": ["node"], "call.c": ["call"], "run.c": ["run"], "result.c": ["result"],
           "revoke.c": ["revoke"], "status.c": ["status"], "events.c": ["events"],
           "forget.c": ["forget"], "dashboard.c": ["dashboard"], "local.c": ["local"],
           "mandelbrot.c": ["mandelbrot"], "keygen.c": ["keygen"],
           "wordcount.c": ["wordcount"],
           "broker_config.c": ["broker-config"],
           "deploy.c": ["deploy", "undeploy", "shutdown"],
           "conn.c": ["call", "run", "result", "revoke", "status", "events", "forget",
                      "dashboard", "node"]}


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, **kw)


def commands():
    out, inside = [], False
    for line in run([FLORET, "help"]).stdout.splitlines():
        if line == "Commands:":
            inside = True
        elif inside and not line.strip():
            break
        elif inside:
            out.append(line.split()[0])
    return out


def long_options(cmd):
    text = run([FLORET, cmd, "--help"]).stdout
    opts = []
    for line in text.splitlines():
        m = LONG.match(line)
        if m:
            opts.append(m.group(1))
    return opts


def option_values(cmd):
    """{--option: True when it takes a value} from the help."""
    text = run([FLORET, cmd, "--help"]).stdout
    out = {}
    for line in text.splitlines():
        m = re.match(r"^  (?:-[A-Za-z0-9], )?(--[a-z0-9][a-z0-9-]*)( [^ ]|$|  )", line)
        if m:
            out[m.group(1)] = m.group(2).startswith(" ") and m.group(2) != "  "
    return out


def parsed_options(text):
    """The option names a C parser compares arguments with: strcmp(...,
    "--x"), cli_opt(..., "--x", ...), short_opt(...), and the flags of a
    configuration key table ({"x", "--x", ...}) or of conn.c's ({"--x",
    offsetof(...)})."""
    calls = re.findall(r'(?:strcmp|cli_opt|short_opt)\([^;{]*?"(--[a-z][a-z0-9-]*)"', text)
    keys = re.findall(r'\{"(?:[a-z0-9-]+", ")?(--[a-z][a-z0-9-]*)", (?:"|offsetof|NULL)', text)
    return set(calls) | set(keys)


class CliDocsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="floret-docs-")
        cls.prefix = os.path.join(cls.dir, "prefix")
        r = run([CMAKE, "--install", BUILD, "--prefix", cls.prefix])
        if r.returncode != 0:
            raise AssertionError(r.stdout + r.stderr)
        cls.man1 = os.path.join(cls.prefix, "share", "man", "man1")
        cls.completion = os.path.join(cls.prefix, "share", "bash-completion", "completions",
                                      "floret")
        cls.commands = commands()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def render(self, page):
        env = dict(os.environ, MANWIDTH="100", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
        r = run(["man", "--warnings", "-E", "UTF-8", "-l", page], env=env)
        self.assertEqual(r.returncode, 0, (page, r.stderr))
        self.assertEqual(r.stderr, "", page)
        # man-db's plain text: no overstrike, one space between words.
        text = re.sub(r".\x08", "", r.stdout).replace("\u2010", "-")
        return " ".join(text.split())

    def test_a_page_per_command_without_warnings(self):
        self.assertGreaterEqual(len(self.commands), 10)
        pages = sorted(os.path.basename(p) for p in glob.glob(os.path.join(self.man1, "*")))
        self.assertEqual(pages, sorted(["floret.1.gz"] +
                                       ["floret-%s.1.gz" % c for c in self.commands]))
        main = self.render(os.path.join(self.man1, "floret.1.gz"))
        for cmd in self.commands:
            self.assertIn("floret-%s(1)" % cmd, main)
            text = self.render(os.path.join(self.man1, "floret-%s.1.gz" % cmd))
            self.assertIn("floret-%s -" % cmd, text)
            for opt in long_options(cmd):
                self.assertRegex(text, r"(^| |, )%s( |$)" % re.escape(opt), (cmd, opt))

    def complete(self, *words, cwd=None):
        """COMPREPLY of _floret for the command line words (the last is
        the word being completed)."""
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
                  'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _floret; '
                  'printf "%s\\n" "${COMPREPLY[@]}"')
        r = run(["bash", "--norc", "--noprofile", "-c", script, "bash", self.completion]
                + list(words), cwd=cwd)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [w for w in r.stdout.split("\n") if w]

    def test_completion(self):
        self.assertTrue(os.path.exists(self.completion))
        self.assertEqual(sorted(self.complete("floret", "")),
                         sorted(self.commands + ["help", "--help", "--version"]))
        self.assertIn("call", self.complete("floret", "ca"))
        self.assertEqual(self.complete("floret", "help", "broker-"), ["broker-config"])
        for cmd in self.commands:
            got = sorted(self.complete("floret", cmd, "--"))
            self.assertEqual(got, sorted(set(long_options(cmd))), cmd)
        self.assertEqual(sorted(self.complete("floret", "node", "--pool", "")),
                         ["auto", "process", "thread"])
        self.assertEqual(sorted(self.complete("floret", "call", "--log-format", "")),
                         ["json", "text"])
        work = tempfile.mkdtemp(dir=self.dir)
        open(os.path.join(work, "node.conf"), "w").close()
        self.assertEqual(self.complete("floret", "node", "--config", "no", cwd=work),
                         ["node.conf"])
        self.assertEqual(self.complete("floret", "call", "--timeout", ""), [])

    def test_help_options_are_parsed(self):
        # Each option then one no command takes: a parser that knows the
        # first stops at the second (or at the first's value), one that
        # does not names the first.
        for cmd in self.commands:
            for opt, takes in option_values(cmd).items():
                if opt == "--help":
                    continue
                argv = [FLORET, cmd, opt] + (["1"] if takes else []) + ["--zz-no-such"]
                r = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                   stdin=subprocess.DEVNULL, cwd=self.dir,
                                   env=dict(os.environ, FLORET_BROKER="mqtt://127.0.0.1:1"))
                self.assertNotIn("unknown option '%s" % opt, r.stderr, (cmd, opt))
                self.assertEqual(r.returncode, 2, (cmd, opt, r.stderr))

    def test_readme_lists_every_command(self):
        with open(os.path.join(SOURCE, "README.md")) as f:
            readme = f.read()
        table = set(re.findall(r"^\| `([a-z-]+)`(?:, `([a-z-]+)`)? \|", readme, re.M))
        listed = {c for pair in table for c in pair if c}
        self.assertEqual(listed, set(self.commands), "README's command table")

    def test_source_options_are_in_the_help(self):
        helps = {c: set(long_options(c)) for c in self.commands}
        for name, cmds in SOURCES.items():
            with open(os.path.join(SOURCE, "cli", name)) as f:
                text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
            for opt in sorted(parsed_options(text)):
                for cmd in cmds:
                    if opt in OLD_SPELLINGS.get(cmd, ()):
                        continue
                    if name == "deploy.c" and opt not in helps[cmd]:
                        continue  # one file, three commands: in one of them
                    self.assertIn(opt, helps[cmd], "%s: %s is parsed but not in "
                                  "'floret %s --help'" % (name, opt, cmd))
            if name == "deploy.c":
                found = parsed_options(text)
                known = set().union(*(helps[c] for c in cmds))
                self.assertEqual(found - known, set(), name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
