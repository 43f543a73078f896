"""`meson install` into a DESTDIR puts every tool, man page and completion
where its reader looks for it."""

import os
import shutil
import subprocess
import tempfile
import unittest

from ipctk_test import BUILD_DIR

TOOLS = ["sysv-shm", "sysv-sem", "shmctl-lock"]


class InstallTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.destdir = tempfile.mkdtemp(prefix="ipctk-install-")
        meson = shutil.which("meson")
        if meson is None:
            raise unittest.SkipTest("meson is not installed")
        proc = subprocess.run(
            [meson, "install", "-C", BUILD_DIR, "--no-rebuild", "--quiet",
             "--destdir", cls.destdir],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        cls.output = proc.stdout.decode("utf-8", "replace")
        cls.rc = proc.returncode
        cls.files = set()
        for root, _, names in os.walk(cls.destdir):
            for name in names:
                cls.files.add(os.path.relpath(os.path.join(root, name), cls.destdir))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.destdir, ignore_errors=True)

    def installed(self, suffix):
        return [f for f in self.files if f.endswith(suffix)]

    def test_install_succeeds(self):
        self.assertEqual(self.rc, 0, self.output)

    def test_binaries(self):
        for tool in TOOLS:
            found = self.installed("bin/" + tool)
            self.assertEqual(len(found), 1, "%s not installed: %s" % (tool, sorted(self.files)))
            self.assertTrue(os.access(os.path.join(self.destdir, found[0]), os.X_OK))

    def test_man_pages(self):
        for page in ["man1/%s.1" % t for t in TOOLS] + ["man7/ipctk.7"]:
            self.assertEqual(len(self.installed("share/man/" + page)), 1,
                             "%s not installed: %s" % (page, sorted(self.files)))

    def test_completions(self):
        for tool in TOOLS:
            for path in ("share/bash-completion/completions/" + tool,
                         "share/zsh/site-functions/_" + tool,
                         "share/fish/vendor_completions.d/%s.fish" % tool):
                self.assertEqual(len(self.installed(path)), 1,
                                 "%s not installed: %s" % (path, sorted(self.files)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
