#!/usr/bin/env python3
"""test_package - the Debian packages: `cpack -G DEB` on this build writes
floret, libfloret0 and libfloret-dev; their control files name the
dependencies (from dpkg-shlibdeps) and their files sit where Debian puts
them; unpacked with `dpkg -x` into a staging root, a C program compiles
against them with `pkg-config --cflags --libs floret` alone (the sysroot
pointed at the root), the unpacked `floret node` serves a real Mosquitto,
and both the unpacked `floret call add 2 3` and that program print 5 from
a node started as floret-node@.service starts it (its ExecStart, with a
/etc/floret/NAME.conf inside the root); systemd-analyze verify accepts the
unit.
Nothing is installed on this machine. Depends on floret_fixture, cpack,
dpkg-deb, systemd-analyze, dpkg-shlibdeps, pkg-config and a C compiler."""

import glob
import os
import shutil
import subprocess
import tempfile
import unittest

import floret_fixture as fx

BUILD = os.environ["FLORET_BUILD_DIR"]
SOURCE = os.environ["FLORET_SOURCE_DIR"]
LIBDIR = os.environ.get("FLORET_LIBDIR", "lib")
CC = os.environ.get("FLORET_TEST_CC", "cc")
CFLAGS = os.environ.get("FLORET_TEST_CFLAGS", "")
CPACK = os.environ.get("CPACK_COMMAND", "cpack")


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=240, **kw)
    if r.returncode != 0:
        raise AssertionError("%s exited %d\n%s%s" % (" ".join(argv), r.returncode,
                                                    r.stdout, r.stderr))
    return r


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="floret-deb-")
        out = os.path.join(cls.dir, "out")
        run([CPACK, "-G", "DEB", "-B", out, "--config", os.path.join(BUILD, "CPackConfig.cmake")])
        cls.debs = {os.path.basename(p).split("_")[0]: p
                    for p in glob.glob(os.path.join(out, "*.deb"))}
        cls.root = os.path.join(cls.dir, "root")
        for deb in cls.debs.values():
            run(["dpkg-deb", "-x", deb, cls.root])
        cls.libdir = os.path.join(cls.root, "usr", LIBDIR)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def field(self, pkg, name):
        return run(["dpkg-deb", "-f", self.debs[pkg], name]).stdout.strip()

    def contents(self, pkg):
        out = run(["dpkg-deb", "-c", self.debs[pkg]]).stdout
        return [l.split()[5].lstrip(".") for l in out.splitlines()]

    def test_three_packages_with_their_dependencies(self):
        self.assertEqual(sorted(self.debs), ["floret", "libfloret-dev", "libfloret0"])
        for pkg in self.debs:
            self.assertEqual(self.field(pkg, "Version"), "0.1.0")
        self.assertIn("libmosquitto1", self.field("floret", "Depends"))
        self.assertIn("libmicrohttpd12", self.field("floret", "Depends"))
        self.assertIn("mosquitto", self.field("floret", "Recommends"))
        lib_deps = self.field("libfloret0", "Depends")
        for dep in ("libmosquitto1", "libcjson1", "liblua5.4-0", "libsodium23", "libssl3"):
            self.assertIn(dep, lib_deps)
        self.assertNotIn("libmicrohttpd", lib_deps)
        ctl = os.path.join(self.dir, "ctl")
        run(["dpkg-deb", "-e", self.debs["libfloret0"], ctl])
        with open(os.path.join(ctl, "shlibs")) as f:
            self.assertEqual(f.read().strip(), "libfloret 0 libfloret0 (>= 0.1.0)")
        with open(os.path.join(ctl, "postinst")) as f:
            self.assertIn("ldconfig", f.read())
        dev_deps = self.field("libfloret-dev", "Depends")
        self.assertIn("libfloret0 (= 0.1.0)", dev_deps)
        self.assertIn("libmosquitto-dev", dev_deps)

    def test_files_where_debian_puts_them(self):
        self.assertIn("/usr/bin/floret", self.contents("floret"))
        for f in ("/usr/share/man/man1/floret.1.gz", "/usr/share/man/man1/floret-call.1.gz",
                  "/usr/share/bash-completion/completions/floret"):
            self.assertIn(f, self.contents("floret"))
        lib = self.contents("libfloret0")
        self.assertIn("/usr/%s/libfloret.so.0.1.0" % LIBDIR, lib)
        self.assertIn("/usr/%s/libfloret.so.0" % LIBDIR, lib)
        self.assertNotIn("/usr/%s/libfloret.so" % LIBDIR, lib)
        dev = self.contents("libfloret-dev")
        for f in ("/usr/include/floret/floret.h", "/usr/%s/libfloret.a" % LIBDIR,
                  "/usr/%s/libfloret.so" % LIBDIR, "/usr/%s/pkgconfig/floret.pc" % LIBDIR,
                  "/usr/%s/cmake/floret/floretConfig.cmake" % LIBDIR):
            self.assertIn(f, dev)
        for pkg in self.debs:
            self.assertIn("/usr/share/doc/%s/LICENSE" % pkg, self.contents(pkg))
        with open(os.path.join(self.libdir, "pkgconfig", "floret.pc")) as f:
            pc = f.read()
        self.assertIn("prefix=/usr\n", pc)

    def unit_text(self):
        with open(os.path.join(self.root, "usr", "lib", "systemd", "system",
                               "floret-node@.service")) as f:
            return f.read()

    def exec_start(self):
        lines = [l for l in self.unit_text().splitlines() if l.startswith("ExecStart=")]
        self.assertEqual(len(lines), 1, self.unit_text())
        return lines[0][len("ExecStart="):]

    def rooted(self, arg):
        for top in ("/usr/", "/etc/"):
            if arg.startswith(top):
                return self.root + arg
        return arg

    def test_systemd_unit(self):
        self.assertIn("/usr/lib/systemd/system/floret-node@.service", self.contents("floret"))
        self.assertEqual(self.exec_start(), "/usr/bin/floret node --config /etc/floret/%i.conf")
        self.assertIn("RestartPreventExitStatus=2 3 4", self.unit_text())
        # systemd's own checker, on an instance whose binary is the unpacked one.
        unit = os.path.join(self.dir, "floret-node@pi-1.service")
        with open(unit, "w") as f:
            f.write(self.unit_text().replace("/usr/bin/floret", self.rooted("/usr/bin/floret")))
        r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual((r.returncode, r.stderr.strip()), (0, ""), r.stdout)

    def test_compile_and_call_from_the_unpacked_root(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLORET_")}
        env["PKG_CONFIG_SYSROOT_DIR"] = self.root
        env["PKG_CONFIG_PATH"] = os.path.join(self.libdir, "pkgconfig")
        flags = run(["pkg-config", "--cflags", "--libs", "floret"], env=env).stdout.split()
        self.assertIn("-I" + os.path.join(self.root, "usr", "include"), flags)
        prog = os.path.join(self.dir, "client")
        run([CC] + CFLAGS.split() + ["-Wall", "-Wextra", "-Werror", "-o", prog,
             os.path.join(SOURCE, "examples", "c", "client.c")] + flags, env=env)

        broker = fx.Broker(self.dir).start()
        self.addCleanup(broker.stop)
        # The node starts as floret-node@deb-node.service starts it: its
        # ExecStart, with /usr and /etc inside the unpacked root, and the
        # unit's (empty) environment but for the library path.
        conf_dir = os.path.join(self.root, "etc", "floret")
        os.makedirs(conf_dir)
        with open(os.path.join(conf_dir, "deb-node.conf"), "w") as f:
            f.write("# written by test_package\nbroker = %s\nname = deb-node\nslots = 2\n"
                    % broker.url)
        argv = [self.rooted(a.replace("%i", "deb-node")) for a in self.exec_start().split()]
        node = fx.spawn(argv, os.path.join(self.dir, "node.log"),
                        env={"LD_LIBRARY_PATH": self.libdir, "PATH": "/usr/bin:/bin"})
        self.addCleanup(fx.stop_process, node)
        fx.wait_online(broker.port, ["deb-node"])
        env = dict(env, FLORET_BROKER=broker.url, LD_LIBRARY_PATH=self.libdir)
        floret = os.path.join(self.root, "usr", "bin", "floret")
        for argv in ([floret, "call", "add", "2", "3"], [prog, "add", "2", "3"]):
            r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "5"),
                             r.stderr + fx.read_text(os.path.join(self.dir, "node.log")))
        self.assertEqual(fx.stop_process(node), 0, fx.read_text(os.path.join(self.dir, "node.log")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
