"""The completions offer the ids of live objects, in the shells themselves:
bash with bash-completion, zsh (compinit, in a zpty) and fish
(`complete -C`).

Each test makes its own objects: a private segment, a private semaphore
set of three, and a lock segment at a unique /NAME with allocated locks,
one of them held; and one of each that it removes again at once. Where an
ID is expected the shell must offer the live ids, exactly as the tools
print them, and not the removed ones: segment and set ids (the system may
hold others, so those are checked for membership), the semaphore numbers
of the set (exactly 0 1 2), and the lock ids of the segment (exactly the
allocated ones, or the held one for unlock). Every object is removed in
cleanup, whether the test passed or not.

The completion files are the source tree's (test_install checks that the
installed ones are the same files, found by the shells).
"""

import os
import secrets
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipctk_test import (  # noqa: E402
    ZSH_LIST, IpcTestCase, bash_complete, fish_complete, has_bash_completion,
    has_zpty, run, zsh_complete)

SOURCE_DIR = os.environ.get("IPCTK_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def completions(shell):
    return os.path.normpath(os.path.join(SOURCE_DIR, "completions", shell))


class LiveIds(IpcTestCase):

    def setUp(self):
        super().setUp()
        # A segment, and one removed again.
        self.shmid = self.create_segment()
        self.gone_shmid = self.create_segment()
        self.assertOk(self.shm("rm", self.gone_shmid))
        # A set of three semaphores, and one removed again.
        self.semid = self.make_set(nsems=3)
        self.gone_semid = self.make_set(nsems=1)
        self.assertOk(self.sem("rm", self.gone_semid))
        # A lock segment: locks 3, 12 and 37 allocated, 37 held (by this
        # process, the tool's parent); 50 allocated and freed again.
        self.path = "/ipctk-comp-%d-%s" % (os.getpid(), secrets.token_hex(6))
        self.addCleanup(self.destroy_lock_segment)
        self.assertOk(self.lock("init", "--locks", "64"))
        for lock_id in (3, 12, 37, 50):
            self.assertOk(self.lock("alloc", lock_id))
        self.assertOk(self.lock("free", 50))
        self.assertOk(self.lock("lock", 37))
        self.allocated = {"3", "12", "37"}
        self.held = {"37"}

    def create_segment(self):
        r = self.shm("create", "--private", "--size", "4096")
        self.assertEqual(r.rc, 0, r)
        return self.track_shm(r.json["id"])

    def lock(self, sub, *args):
        return run("shmctl-lock", sub, *args, "--path", self.path)

    def destroy_lock_segment(self):
        run("shmctl-lock", "destroy", "--force", "--path", self.path)
        leftover = "/dev/shm" + self.path
        if os.path.exists(leftover):
            os.unlink(leftover)
            raise AssertionError("shmctl-lock destroy --force left %s"
                                 % leftover)

    def queries(self):
        """{command line: (ids that must be offered, ids that must not,
        whether exactly the former)}."""
        p = self.path
        shm, gone_shm = str(self.shmid), str(self.gone_shmid)
        sem, gone_sem = str(self.semid), str(self.gone_semid)
        return {
            "sysv-shm stat ": ({shm}, {gone_shm}, False),
            "sysv-shm rm ": ({shm}, {gone_shm}, False),
            "sysv-sem P ": ({sem}, {gone_sem}, False),
            "sysv-sem stat ": ({sem}, {gone_sem}, False),
            "sysv-sem P %s " % sem: ({"0", "1", "2"}, set(), True),
            "shmctl-lock free --path %s " % p: (self.allocated, {"50"}, True),
            "shmctl-lock status --path %s " % p: (self.allocated, {"50"},
                                                  True),
            "shmctl-lock lock --path %s " % p: (self.allocated, {"50"}, True),
            "shmctl-lock unlock --path %s " % p: (self.held, {"3", "12"},
                                                  True),
        }

    def check(self, shell, answers):
        for line, (wanted, unwanted, exact) in self.queries().items():
            offered = answers[line]
            with self.subTest(shell=shell, line=line):
                for word in offered:
                    self.assertRegex(word, r"\A[0-9]+\Z", "%s offers %r, not "
                                     "an id, after %r: %s" % (
                                         shell, word, line, sorted(offered)))
                if exact:
                    self.assertEqual(offered, wanted, "%s after %r" % (
                        shell, line))
                else:
                    self.assertLessEqual(wanted, offered, "%s after %r" % (
                        shell, line))
                self.assertFalse(offered & unwanted,
                                 "%s offers removed ids after %r" % (
                                     shell, line))

    def by_tool(self):
        """The queries, grouped by the tool they complete."""
        groups = {}
        for line in self.queries():
            groups.setdefault(line.split()[0], []).append(line)
        return groups

    @unittest.skipUnless(has_bash_completion(),
                         "bash or bash-completion is not installed")
    def test_bash(self):
        answers = {}
        for tool, lines in self.by_tool().items():
            path = os.path.join(completions("bash"), tool)
            proc, offered = bash_complete(path, tool, lines)
            self.assertEqual(proc.returncode, 0, "bash on %s: %r" % (
                path, proc.stderr[-400:]))
            answers.update(offered)
        self.check("bash", answers)

    @unittest.skipUnless(has_zpty(), "zsh with zsh/zpty is not installed")
    def test_zsh(self):
        try:
            proc, answers = zsh_complete(completions("zsh"),
                                         list(self.queries()), key=ZSH_LIST)
        except subprocess.TimeoutExpired:
            self.fail("zsh completion did not finish")
        self.assertEqual(proc.returncode, 0, "zsh driver: %r" % (
            proc.stderr[-400:]))
        self.check("zsh", answers)

    @unittest.skipUnless(shutil.which("fish"), "fish is not installed")
    def test_fish(self):
        proc, answers = fish_complete(completions("fish"),
                                      list(self.queries()))
        self.assertEqual(proc.returncode, 0, "fish: %r" % proc.stderr[-400:])
        self.assertEqual(proc.stderr, b"", "fish complained")
        self.check("fish", answers)


if __name__ == "__main__":
    unittest.main(verbosity=2)
