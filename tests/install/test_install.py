#!/usr/bin/env python3
"""test_install - floret as a user installs and links it: `cmake --install`
of this build into a staging prefix puts the command, libfloret.so.0 (with
its .so link), libfloret.a, floret/floret.h, floret.pc and the CMake
package there; libfloret.so exports exactly the functions floret.h
declares (nm -D against the header); examples/c builds with pkg-config
alone, against the .so and statically (pkg-config --static, no libfloret.so
needed), and with find_package(floret) / floret::floret; the example worker
serves its own task to the example clients, to the README's C program and
to the installed `floret call`, through a real Mosquitto; the example word
count counts files on an installed `floret node` exactly as the reference
pipeline does; and the floret command's own sources (cli/) build against
the staging prefix alone, floret.h being the only floret header they see.
Depends on floret_fixture, header_api, cmake, make, pkg-config, nm, readelf
and libmicrohttpd's and libmosquitto's pkg-config files."""

import collections
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import floret_fixture as fx
import header_api

BUILD = os.environ["FLORET_BUILD_DIR"]
SOURCE = os.environ["FLORET_SOURCE_DIR"]
LIBDIR = os.environ.get("FLORET_LIBDIR", "lib")
CC = os.environ.get("FLORET_TEST_CC", "cc")
CFLAGS = os.environ.get("FLORET_TEST_CFLAGS", "")
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=240, **kw)
    if r.returncode != 0:
        raise AssertionError("%s exited %d\n%s%s" % (" ".join(argv), r.returncode,
                                                    r.stdout, r.stderr))
    return r


def needed(path):
    out = run(["readelf", "-d", path]).stdout
    return [l.split("[", 1)[1].rstrip("]") for l in out.splitlines() if "(NEEDED)" in l]


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="floret-install-")
        cls.prefix = os.path.join(cls.dir, "prefix")
        run([CMAKE, "--install", BUILD, "--prefix", cls.prefix])
        cls.libdir = os.path.join(cls.prefix, LIBDIR)
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith("FLORET_")}
        cls.env["PKG_CONFIG_PATH"] = os.path.join(cls.libdir, "pkgconfig")
        cls.examples = os.path.join(cls.dir, "examples")
        shutil.copytree(os.path.join(SOURCE, "examples", "c"), cls.examples)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_installed_files(self):
        for rel in ("bin/floret", LIBDIR + "/libfloret.so.0", LIBDIR + "/libfloret.so",
                    LIBDIR + "/libfloret.a", "include/floret/floret.h",
                    LIBDIR + "/pkgconfig/floret.pc", LIBDIR + "/cmake/floret/floretConfig.cmake",
                    LIBDIR + "/cmake/floret/floretConfigVersion.cmake",
                    "share/doc/floret/LICENSE", "share/doc/floret/CHANGELOG.md"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        self.assertEqual(os.readlink(os.path.join(self.libdir, "libfloret.so")), "libfloret.so.0")
        soname = run(["readelf", "-d", os.path.join(self.libdir, "libfloret.so")]).stdout
        self.assertIn("[libfloret.so.0]", soname)
        with open(os.path.join(self.libdir, "pkgconfig", "floret.pc")) as f:
            pc = f.read()
        self.assertIn("prefix=%s\n" % self.prefix, pc)
        with open(os.path.join(self.prefix, "lib", "systemd", "system",
                               "floret-node@.service")) as f:
            unit = f.read()
        self.assertIn("\nExecStart=%s/bin/floret node --config %s/etc/floret/%%i.conf\n"
                      % (self.prefix, self.prefix), unit)

    def test_exports_exactly_the_header(self):
        declared = header_api.declared_functions(
            os.path.join(self.prefix, "include", "floret", "floret.h"))
        syms = header_api.exported_symbols(os.path.join(self.libdir, "libfloret.so.0"))
        self.assertGreater(len(declared), 50, sorted(declared))
        self.assertEqual(sorted(declared - set(syms)), [],
                         "declared in floret.h but not exported by libfloret.so")
        self.assertEqual(sorted(set(syms) - declared), [],
                         "exported by libfloret.so but not declared in floret.h")
        self.assertEqual(sorted(n for n, t in syms.items() if t not in "TW"), [],
                         "exported symbols that are not functions")

    def test_pkg_config(self):
        cflags = run(["pkg-config", "--cflags", "floret"], env=self.env).stdout.split()
        libs = run(["pkg-config", "--libs", "floret"], env=self.env).stdout.split()
        static = run(["pkg-config", "--static", "--libs", "floret"], env=self.env).stdout.split()
        self.assertIn("-I" + os.path.join(self.prefix, "include"), cflags)
        self.assertEqual(libs, ["-L" + self.libdir, "-lfloret"])
        for lib in ("-lmosquitto", "-lcjson", "-llua5.4", "-lsodium", "-lssl", "-lm"):
            self.assertIn(lib, static)

    def build_examples(self):
        run(["make", "-C", self.examples, "CC=" + CC,
             "CFLAGS=-O1 -g -Wall -Wextra -Werror " + CFLAGS, "all", "static"], env=self.env)

    def build_readme_program(self):
        """The C program of the README, compiled as the README says."""
        with open(os.path.join(SOURCE, "README.md"), encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"<!-- readme-c[^>]*-->\n```c\n(.*?)```", text, re.S)
        self.assertIsNotNone(m, "README.md has no marked C program")
        src = os.path.join(self.dir, "readme.c")
        with open(src, "w") as f:
            f.write(m.group(1))
        flags = run(["pkg-config", "--cflags", "--libs", "floret"], env=self.env).stdout.split()
        prog = os.path.join(self.dir, "readme")
        run([CC] + CFLAGS.split() + ["-Wall", "-Wextra", "-Werror", "-o", prog, src] + flags,
            env=self.env)
        self.assertLessEqual(m.group(1).count("\n"), 20, "the README's program grew")
        return prog

    def test_examples_link_shared_and_static(self):
        self.build_examples()
        for prog in ("client", "worker"):
            self.assertIn("libfloret.so.0", needed(os.path.join(self.examples, prog)))
            self.assertNotIn("libfloret.so.0",
                             needed(os.path.join(self.examples, prog + "-static")))

    def test_find_package(self):
        proj = os.path.join(self.dir, "cmake-consumer")
        os.makedirs(proj)
        shutil.copy(os.path.join(self.examples, "client.c"), proj)
        with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.18)\nproject(consumer C)\n"
                    "find_package(floret 0.1 REQUIRED)\n"
                    "add_executable(client client.c)\n"
                    "target_link_libraries(client PRIVATE floret::floret)\n")
        build = os.path.join(proj, "build")
        run([CMAKE, "-S", proj, "-B", build, "-DCMAKE_PREFIX_PATH=" + self.prefix,
             "-DCMAKE_C_COMPILER=" + CC, "-DCMAKE_C_FLAGS=" + CFLAGS], env=self.env)
        run([CMAKE, "--build", build], env=self.env)
        self.assertIn("libfloret.so.0", needed(os.path.join(build, "client")))

    def test_examples_against_a_real_broker(self):
        self.build_examples()
        broker = fx.Broker(self.dir).start()
        self.addCleanup(broker.stop)
        env = dict(self.env, FLORET_BROKER=broker.url,
                   LD_LIBRARY_PATH=self.libdir)
        worker = fx.spawn([os.path.join(self.examples, "worker"), "ex-worker", "2"],
                          os.path.join(self.dir, "worker.log"), env=env)
        self.addCleanup(fx.stop_process, worker)
        fx.wait_online(broker.port, ["ex-worker"])
        readme = self.build_readme_program()
        cases = [
            ([readme], "5"),
            (["client"], "5"),                                   # add 2 3
            (["client", "example.fib", "30"], "832040"),
            (["client-static", "mul", "6", "7"], "42"),
            (["client-static", "example.fib", "78"], "8944394323791464"),
        ]
        for argv, want in cases:
            r = subprocess.run([os.path.join(self.examples, argv[0])] + argv[1:], env=env,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, want),
                             "%s\n%s" % (r.stderr, fx.read_text(os.path.join(self.dir,
                                                                             "worker.log"))))
        r = subprocess.run([os.path.join(self.examples, "client"), "example.fib", "-1"],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("argument 1 must be a whole number", r.stderr)
        r = subprocess.run([os.path.join(self.prefix, "bin", "floret"), "call", "example.fib",
                            "10"], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "55"), r.stderr)
        self.assertEqual(fx.stop_process(worker), 0,
                         fx.read_text(os.path.join(self.dir, "worker.log")))

    def test_wordcount_example_counts_like_the_reference(self):
        self.build_examples()
        broker = fx.Broker(self.dir).start()
        self.addCleanup(broker.stop)
        env = dict(self.env, FLORET_BROKER=broker.url, LD_LIBRARY_PATH=self.libdir)
        node = fx.spawn([os.path.join(self.prefix, "bin", "floret"), "node", "--name",
                         "wc-node", "--slots", "2"], os.path.join(self.dir, "wc-node.log"),
                        env=env)
        self.addCleanup(fx.stop_process, node)
        fx.wait_online(broker.port, ["wc-node"])
        texts = []
        for i, body in enumerate((b"The cat and the HAT; the end.\n" * 3000,
                                  b"na\xc3\xafve caf\xc3\xa9 x1 x1 \x00\xff\xfe-y " * 500,
                                  bytes(range(256)) * 40)):
            path = os.path.join(self.dir, "wc%d.txt" % i)
            with open(path, "wb") as f:
                f.write(body)
            texts.append(body)
        # The reference pipeline's words (docs/wordcount.md).
        ref = collections.Counter(
            w.translate(bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                        b"abcdefghijklmnopqrstuvwxyz"))
            for t in texts for w in re.findall(rb"[A-Za-z0-9\x80-\xff]+", t))
        r = subprocess.run([os.path.join(self.examples, "wordcount"), "-n", "0"] +
                           [os.path.join(self.dir, "wc%d.txt" % i) for i in range(3)],
                           env=env, capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace") +
                         fx.read_text(os.path.join(self.dir, "wc-node.log")))
        lines = r.stdout.split(b"\n")
        self.assertEqual(lines[0], b"words %d" % sum(ref.values()))
        self.assertEqual(lines[1], b"distinct %d" % len(ref))
        got = collections.Counter()
        for line in lines[2:]:
            if line:
                count, word = line.split(b" ", 1)
                got[word] = int(count)
        self.assertEqual(got, ref)
        ranked = [l.split(b" ", 1)[1] for l in lines[2:5]]
        self.assertEqual(ranked, [w for w, _ in sorted(ref.items(),
                                                         key=lambda kv: (-kv[1], kv[0]))[:3]])
        r = subprocess.run([os.path.join(self.examples, "wordcount"),
                            os.path.join(self.dir, "missing.txt")], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("missing.txt", r.stderr)

    def test_cli_builds_against_the_staging_prefix(self):
        """cli/ is a client of the public API: with only the installed
        floret.h (and its own headers) it compiles and links."""
        out = os.path.join(self.dir, "cli-build")
        os.makedirs(out)
        page = os.path.join(out, "dashboard_page.c")
        with open(page, "w") as f:
            f.write("#include <stddef.h>\nconst unsigned char cli_dashboard_page[] = {0};\n"
                    "const size_t cli_dashboard_page_len = 0;\n")
        srcs = sorted(glob.glob(os.path.join(SOURCE, "cli", "*.c")))
        flags = run(["pkg-config", "--cflags", "--libs", "floret", "libmicrohttpd",
                     "libmosquitto"], env=self.env).stdout.split()
        prog = os.path.join(out, "floret")
        # -I cli only: the source tree's include/ and src/ are not on the path.
        run([CC] + CFLAGS.split() + ["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE",
             "-Wall", "-Wextra", "-Werror", "-I", os.path.join(SOURCE, "cli"), "-o", prog]
            + srcs + [page] + flags + ["-lpthread", "-lm"], env=self.env)
        r = subprocess.run([prog, "--version"], capture_output=True, text=True, timeout=30,
                           env=dict(self.env, LD_LIBRARY_PATH=self.libdir))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("libfloret.so.0", needed(prog))
        for src in srcs:
            with open(src, encoding="utf-8") as f:
                self.assertNotRegex(f.read(), r"\bfl__\w+", src + " uses a floret internal")


if __name__ == "__main__":
    unittest.main(verbosity=2)
