"""Security properties of the three tools, table by table:

- Objects are created 0600 unless told otherwise (sysv-shm create,
  sysv-sem get, shmctl-lock init on a shm name and on a file, and the first
  use of the default path, named and real), whatever the umask.
- As `nobody`, every subcommand of every tool that touches an object fails
  cleanly on root's 0600 objects (one JSON error, EACCES or EPERM, exit
  status 1) and changes nothing; a command after -- is never run.
- The lock segment's path is never followed through a symbolic link, on
  either backend (the file backend and /dev/shm, which shm_open opens with
  O_NOFOLLOW), and a dangling link is never used to create its target.
- A lock segment owned by another user than the caller and root is refused
  (EPERM) unless --any-owner is given: one planted in a world-writable
  directory, in /dev/shm, or at root's default path.
- A segment whose header claims more than the object holds is refused by
  every subcommand (EPROTO) and left as it is.
- No tool runs a shell: the words after -- reach the command as they are,
  a COMMAND written as one string with spaces is not found (127), and only
  a file without #! runs under /bin/sh, as execvp(3) does and ipctk(7)
  says.

The refusal tables run through the bad-input harnesses of
test_sysv_shm.py, test_sysv_sem_bad_input.py and
test_shmctl_lock_bad_input.py, which check that each refused command left
every object byte for byte as it was.

Run: IPCTK_BUILD_DIR=build /usr/bin/python3 tests/cli/test_security.py
Needs root (setpriv, chown, unshare, mount).
"""

import json
import os
import pwd
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_shmctl_lock_bad_input as lock_bad  # noqa: E402
import test_sysv_sem_bad_input as sem_bad  # noqa: E402
import test_sysv_shm as shm_tests  # noqa: E402
from ipctk_test import proc_sysvipc, tool_path, unique_key  # noqa: E402
from test_docs import subcommands  # noqa: E402
from test_faults import FaultTestCase, run_tool  # noqa: E402
from test_shmctl_lock import LOCK, object_file, random_name  # noqa: E402

SHM = tool_path("sysv-shm")
SEM = tool_path("sysv-sem")
NOBODY = pwd.getpwnam("nobody").pw_uid
DAEMON = pwd.getpwnam("daemon").pw_uid
DENIED = ("EACCES", "EPERM")
NOBODY_OPT = {"user": "nobody"}

# ---------------------------------------------------------------------------
# Refusals to nobody, as (name, argv, exit status, code(s), options), in the
# bad-input harnesses' format.

SHM_NOBODY_CASES = [
    ("read as nobody", ["read", "{id}"], 1, "EACCES", NOBODY_OPT),
    ("read --key as nobody", ["read", "--key", "{key}"], 1, "EACCES", NOBODY_OPT),
    ("raw read as nobody", ["read", "{id}", "--raw"], 1, "EACCES", NOBODY_OPT),
    ("write as nobody", ["write", "{id}", "--data", "x"], 1, "EACCES", NOBODY_OPT),
    ("write --key as nobody", ["write", "--key", "{key}", "--data", "x"], 1, "EACCES",
     NOBODY_OPT),
    ("rm as nobody", ["rm", "{id}"], 1, DENIED, NOBODY_OPT),
    ("rm --key as nobody", ["rm", "--key", "{key}"], 1, DENIED, NOBODY_OPT),
    ("set --mode as nobody", ["set", "{id}", "--mode", "0666"], 1, DENIED, NOBODY_OPT),
    ("set --uid as nobody", ["set", "{id}", "--uid", str(NOBODY)], 1, DENIED, NOBODY_OPT),
    ("stat as nobody", ["stat", "{id}"], 1, "EACCES", NOBODY_OPT),
    ("stat --key as nobody", ["stat", "--key", "{key}"], 1, "EACCES", NOBODY_OPT),
    ("lock as nobody", ["lock", "{id}"], 1, "EPERM", NOBODY_OPT),
    ("unlock as nobody", ["unlock", "{id}"], 1, "EPERM", NOBODY_OPT),
    ("attach as nobody", ["attach", "{id}", "--hold", "0"], 1, "EACCES", NOBODY_OPT),
    ("attach --readonly as nobody", ["attach", "{id}", "--readonly", "--hold", "0"], 1,
     "EACCES", NOBODY_OPT),
    ("attach -- COMMAND as nobody", ["attach", "{id}", "--", "true"], 1, "EACCES",
     NOBODY_OPT),
    ("create opening the key as nobody", ["create", "--size", "4096", "--key", "{key}"], 1,
     "EACCES", NOBODY_OPT),
    ("create --mode 0400 opening the key as nobody",
     ["create", "--size", "4096", "--key", "{key}", "--mode", "0400"], 1, "EACCES",
     NOBODY_OPT),
]

SEM_NOBODY_CASES = [
    ("op as nobody", ["op", "{id}", "0:+1"], 1, "EACCES", NOBODY_OPT),
    ("op --key as nobody", ["op", "--key", "{key}", "0:-1"], 1, "EACCES", NOBODY_OPT),
    ("op -- COMMAND as nobody", ["op", "{id}", "0:-1:undo", "--", "true"], 1, "EACCES",
     NOBODY_OPT),
    ("P as nobody", ["P", "{id}"], 1, "EACCES", NOBODY_OPT),
    ("P --nowait as nobody", ["P", "{id}", "1", "--nowait"], 1, "EACCES", NOBODY_OPT),
    ("P --undo -- COMMAND as nobody", ["P", "{id}", "--undo", "--", "true"], 1, "EACCES",
     NOBODY_OPT),
    ("V as nobody", ["V", "{id}"], 1, "EACCES", NOBODY_OPT),
    ("V --undo -- COMMAND as nobody", ["V", "{id}", "--undo", "--", "true"], 1, "EACCES",
     NOBODY_OPT),
    ("stat as nobody", ["stat", "{id}"], 1, "EACCES", NOBODY_OPT),
    ("stat --key as nobody", ["stat", "--key", "{key}"], 1, "EACCES", NOBODY_OPT),
    ("set --value as nobody", ["set", "{id}", "--value", "0=5"], 1, DENIED, NOBODY_OPT),
    ("set --all as nobody", ["set", "{id}", "--all", "5"], 1, DENIED, NOBODY_OPT),
    ("set --mode as nobody", ["set", "{id}", "--mode", "0666"], 1, DENIED, NOBODY_OPT),
    ("set --uid as nobody", ["set", "{id}", "--uid", str(NOBODY)], 1, DENIED, NOBODY_OPT),
    ("set --gid as nobody", ["set", "{id}", "--gid", str(NOBODY)], 1, DENIED, NOBODY_OPT),
    ("rm as nobody", ["rm", "{id}"], 1, DENIED, NOBODY_OPT),
    ("rm --key as nobody", ["rm", "--key", "{key}"], 1, DENIED, NOBODY_OPT),
    ("get --key as nobody", ["get", "--key", "{key}"], 1, DENIED, NOBODY_OPT),
    ("get --key --create as nobody", ["get", "--key", "{key}", "--create"], 1, DENIED,
     NOBODY_OPT),
    ("get --key --create --init as nobody",
     ["get", "--key", "{key}", "--create", "--init", "9"], 1, DENIED, NOBODY_OPT),
]

LOCK_NOBODY_CASES = [
    ("info as nobody", ["info", "--path", "{path}"], 1, DENIED, NOBODY_OPT),
    ("info --any-owner as nobody", ["info", "--path", "{path}", "--any-owner"], 1, DENIED,
     NOBODY_OPT),
    ("status as nobody", ["status", "--path", "{path}"], 1, DENIED, NOBODY_OPT),
    ("status of given ids as nobody", ["status", "--path", "{path}", "2", "3"], 1, DENIED,
     NOBODY_OPT),
    ("lock as nobody", ["lock", "--path", "{path}", "{free}"], 1, DENIED, NOBODY_OPT),
    ("lock --nowait as nobody", ["lock", "--path", "{path}", "2", "--nowait"], 1, DENIED,
     NOBODY_OPT),
    ("lock --steal-stale as nobody", ["lock", "--path", "{path}", "3", "--steal-stale"], 1,
     DENIED, NOBODY_OPT),
    ("lock -- COMMAND as nobody", ["lock", "--path", "{path}", "{free}", "--", "true"], 1,
     DENIED, NOBODY_OPT),
    ("unlock as nobody", ["unlock", "--path", "{path}", "5"], 1, DENIED, NOBODY_OPT),
    ("unlock --force as nobody", ["unlock", "--path", "{path}", "2", "--force"], 1, DENIED,
     NOBODY_OPT),
    ("unlock --force --any-owner as nobody",
     ["unlock", "--path", "{path}", "3", "--force", "--any-owner"], 1, DENIED, NOBODY_OPT),
    ("alloc as nobody", ["alloc", "--path", "{path}"], 1, DENIED, NOBODY_OPT),
    ("alloc ID as nobody", ["alloc", "--path", "{path}", "20"], 1, DENIED, NOBODY_OPT),
    ("free as nobody", ["free", "--path", "{path}", "1"], 1, DENIED, NOBODY_OPT),
    ("free --all --yes as nobody", ["free", "--path", "{path}", "--all", "--yes"], 1, DENIED,
     NOBODY_OPT),
    ("destroy as nobody", ["destroy", "--path", "{path}"], 1, DENIED, NOBODY_OPT),
    ("destroy --force as nobody", ["destroy", "--path", "{path}", "--force"], 1, DENIED,
     NOBODY_OPT),
    ("init --exist-ok as nobody", ["init", "--path", "{path}", "--exist-ok"], 1, DENIED,
     NOBODY_OPT),
    # O_EXCL: an existing path is never opened, whoever asks.
    ("init as nobody", ["init", "--path", "{path}"], 1, "EEXIST", NOBODY_OPT),
]

# Symbolic links at the segment's path: never followed (ELOOP), and never
# used to create what they point to ({dangling} points to a path where
# nothing is; the harness fails if anything appears there).
LOCK_SYMLINK_CASES = [
    ("info --path a symlink", ["info", "--path", "{link}"], 1, "ELOOP"),
    ("status --path a symlink", ["status", "--path", "{link}"], 1, "ELOOP"),
    ("lock --path a symlink", ["lock", "--path", "{link}", "{free}"], 1, "ELOOP"),
    ("lock -- COMMAND --path a symlink",
     ["lock", "--path", "{link}", "{free}", "--", "true"], 1, "ELOOP"),
    ("unlock --path a symlink", ["unlock", "--path", "{link}", "5"], 1, "ELOOP"),
    ("unlock --force --path a symlink",
     ["unlock", "--path", "{link}", "2", "--force"], 1, "ELOOP"),
    ("alloc --path a symlink", ["alloc", "--path", "{link}"], 1, "ELOOP"),
    ("free --path a symlink", ["free", "--path", "{link}", "1"], 1, "ELOOP"),
    ("init --exist-ok --path a symlink", ["init", "--path", "{link}", "--exist-ok"], 1,
     "ELOOP"),
    ("destroy --path a symlink", ["destroy", "--path", "{link}"], 1, "ELOOP"),
    ("destroy --force --path a symlink", ["destroy", "--path", "{link}", "--force"], 1,
     "ELOOP"),
    ("info --any-owner --path a symlink", ["info", "--path", "{link}", "--any-owner"], 1,
     "ELOOP"),
    ("init --path a symlink", ["init", "--path", "{link}"], 1, "EEXIST"),
    ("init --path a dangling symlink", ["init", "--path", "{dangling}"], 1, "EEXIST"),
    ("init --exist-ok --path a dangling symlink",
     ["init", "--path", "{dangling}", "--exist-ok"], 1, "ELOOP"),
    ("info --path a dangling symlink", ["info", "--path", "{dangling}"], 1, "ELOOP"),
]

# Headers that claim more than the object holds: {truncated} (a real
# segment cut to half its size, as a truncate after init leaves it),
# {lying} (a lock count far above what the object holds), {lying_size} (a
# header that agrees with itself for 128 locks, on a 64-lock object); and
# {short}, less than a header (only info: its young age makes every open
# wait 2 s for a creator that might still be writing it).
LOCK_LYING_CASES = [
    ("%s of a %s segment" % (" ".join(a), kind),
     [a[0], "--path", "{%s}" % kind] + a[1:], 1, "EPROTO")
    for kind in ("truncated", "lying", "lying_size")
    for a in (["info"], ["status"], ["status", "100"], ["lock", "1"],
              ["lock", "100"], ["lock", "1", "--", "true"], ["unlock", "1", "--force"],
              ["alloc"], ["alloc", "100"], ["free", "1"], ["free", "--all", "--yes"],
              ["destroy"], ["init", "--exist-ok"], ["info", "--any-owner"])
] + [("info of a short segment", ["info", "--path", "{short}"], 1, "EPROTO")]


def table_subcommands(cases):
    """The subcommand of each case (its argv's first word)."""
    return {case[1][0] for case in cases}


class NobodyTablesTest(unittest.TestCase):
    """The tables cover every subcommand that touches an object."""

    def test_every_object_subcommand_is_refused_to_nobody(self):
        # list and info (of sysv-shm and sysv-sem) show every object and
        # the kernel's limits to anyone, as ipcs does: they touch no object.
        for tool, cases, skip in (("sysv-shm", SHM_NOBODY_CASES, {"list", "info"}),
                                  ("sysv-sem", SEM_NOBODY_CASES, {"list", "info"}),
                                  ("shmctl-lock", LOCK_NOBODY_CASES, set())):
            with self.subTest(tool=tool):
                wanted = set(subcommands(tool)) - skip
                self.assertEqual(table_subcommands(cases), wanted)
                names = [c[0] for c in cases]
                self.assertEqual(len(names), len(set(names)))

    def test_every_lock_subcommand_meets_links_and_lying_headers(self):
        every = set(subcommands("shmctl-lock"))
        self.assertEqual(table_subcommands(LOCK_SYMLINK_CASES), every)
        self.assertEqual(table_subcommands(LOCK_LYING_CASES), every)
        for cases in (LOCK_SYMLINK_CASES, LOCK_LYING_CASES):
            names = [c[0] for c in cases]
            self.assertEqual(len(names), len(set(names)))


class ShmNobodyTest(shm_tests.BadInputHarness):

    def test_nobody_is_refused_and_changes_nothing(self):
        self.run_table(SHM_NOBODY_CASES)


class SemNobodyTest(sem_bad.BadInputHarness):

    def test_nobody_is_refused_and_changes_nothing(self):
        self.run_table(SEM_NOBODY_CASES)


class LockHarnessTest(lock_bad.BadInputHarness):

    def test_nobody_is_refused_and_changes_nothing_shm(self):
        self.run_table("shm", LOCK_NOBODY_CASES)

    def test_nobody_is_refused_and_changes_nothing_file(self):
        self.run_table("file", LOCK_NOBODY_CASES)

    def test_symlinks_are_never_followed_shm(self):
        self.run_table("shm", LOCK_SYMLINK_CASES)

    def test_symlinks_are_never_followed_file(self):
        self.run_table("file", LOCK_SYMLINK_CASES)

    def test_headers_that_claim_more_are_refused_shm(self):
        self.run_table("shm", LOCK_LYING_CASES)

    def test_headers_that_claim_more_are_refused_file(self):
        self.run_table("file", LOCK_LYING_CASES)


# ---------------------------------------------------------------------------

class SecurityTestCase(FaultTestCase):

    def shared_dir(self, owner=0, mode=0o1777):
        """A directory of this test that `owner` owns, with `mode`."""
        d = tempfile.mkdtemp(prefix="ipctk-sec-", dir=self.tmp)
        os.chown(d, owner, -1)
        os.chmod(d, mode)
        return d

    def as_user(self, user, *argv, env=None):
        """Runs argv as `user` (setpriv), with this test's environment."""
        full = ["setpriv", "--reuid=" + user, "--regid=nogroup",
                "--clear-groups", "--"] + [str(a) for a in argv]
        p = subprocess.run(full, stdin=subprocess.DEVNULL, capture_output=True,
                           env=self.env if env is None else env, timeout=60,
                           cwd=self.tmp)
        from ipctk_test import Result
        return Result(full, 0, p.returncode, p.stdout, p.stderr)

    def file_bytes(self, path):
        with open(object_file(path), "rb") as f:
            return f.read()


# ---------------------------------------------------------------------------
# 0600 unless told otherwise

UMASKS = [0o022, 0o000, 0o077]


class ModeTest(SecurityTestCase):

    def run_umask(self, mask, argv, env=None):
        p = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60,
                           env=self.env if env is None else env,
                           preexec_fn=lambda: os.umask(mask))
        from ipctk_test import Result
        return Result(argv, 0, p.returncode, p.stdout, p.stderr)

    def sysv_perms(self, kind, ident):
        """The mode as /proc/sysvipc and ipcs(1) show it."""
        column = "shmid" if kind == "shm" else "semid"
        row = [r for r in proc_sysvipc(kind) if int(r[column]) == ident][0]
        ipcs = subprocess.run(["ipcs", "-m" if kind == "shm" else "-s"],
                              capture_output=True, text=True).stdout
        line = [ln.split() for ln in ipcs.splitlines()
                if len(ln.split()) > 3 and ln.split()[1] == str(ident)][0]
        self.assertEqual(int(row["perms"], 8) & 0o777, int(line[3], 8))
        return int(row["perms"], 8) & 0o777, int(row["uid"])

    def test_sysv_objects_are_0600_unless_told(self):
        for mask in UMASKS:
            for what, argv, want in (
                    ("sysv-shm create --private", [SHM, "create", "--size", 4096], 0o600),
                    ("sysv-shm create --key", [SHM, "create", "--size", 4096, "--key",
                                               "{key}", "--excl"], 0o600),
                    ("sysv-shm create --mode 0640", [SHM, "create", "--size", 4096,
                                                     "--mode", "0640"], 0o640),
                    ("sysv-sem get --private", [SEM, "get", "--private"], 0o600),
                    ("sysv-sem get --key --create", [SEM, "get", "--key", "{key}",
                                                     "--create", "--excl"], 0o600),
                    ("sysv-sem get --private --init", [SEM, "get", "--private",
                                                       "--init", "1,2"], 0o600),
                    ("sysv-sem get --mode 0640", [SEM, "get", "--private", "--mode",
                                                  "0640"], 0o640)):
                with self.subTest(object=what, umask=oct(mask)):
                    key = hex(unique_key())
                    kind = "shm" if argv[0] == SHM else "sem"
                    self.addCleanup(self.remove_by_key,
                                    "-M" if kind == "shm" else "-S", int(key, 16))
                    r = self.run_umask(mask, [a.format(key=key) if isinstance(a, str)
                                              else a for a in argv])
                    doc = self.assertOk(r)
                    (self.track_shm if kind == "shm" else self.track_sem)(doc["id"])
                    self.assertEqual((doc["mode"], doc["mode_octal"]),
                                     (want, "%04o" % want))
                    self.assertEqual(self.sysv_perms(kind, doc["id"]), (want, 0))

    def test_lock_segments_are_0600_unless_told(self):
        for mask in UMASKS:
            for backend in ("shm", "file"):
                for what, args, want in (("init", [], 0o600),
                                         ("init --mode 0640", ["--mode", "0640"], 0o640),
                                         ("init --mode 0666", ["--mode", "0666"], 0o666)):
                    with self.subTest(object=what, backend=backend, umask=oct(mask)):
                        path = self.new_path(backend=backend)
                        r = self.run_umask(mask, [LOCK, "init", "--path", path,
                                                  "--locks", 64] + args)
                        self.assertOk(r)
                        st = os.stat(object_file(path))
                        self.assertEqual(stat.S_IMODE(st.st_mode), want)
                        self.assertEqual(st.st_uid, 0)
                # The default path, named by SHMCTL_LOCK_PATH, made by its
                # first use (any subcommand but destroy).
                for first in (["info"], ["lock", 3], ["alloc"], ["status"]):
                    with self.subTest(object="first use: " + first[0],
                                      backend=backend, umask=oct(mask)):
                        path = self.new_path(backend=backend)
                        env = dict(self.env, SHMCTL_LOCK_PATH=path)
                        self.assertOk(self.run_umask(mask, [LOCK] + first, env=env))
                        st = os.stat(object_file(path))
                        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

    def test_the_real_default_path_is_0600_for_root_and_nobody(self):
        # In a /dev/shm of its own, so that the host's default segment is
        # never touched.
        unset = {"SHMCTL_LOCK_PATH": None}
        steps = [{"mount": ["/dev/shm", "1m"]}]
        for mask in (0o000, 0o022):
            steps += [{"run": [LOCK, "info"], "env": unset, "umask": mask},
                      {"run": [LOCK, "lock", "5", "--owner-pid", "1"], "env": unset,
                       "umask": mask, "user": "nobody"},
                      {"stat": "/dev/shm/shmctl-lock"},
                      {"stat": "/dev/shm/shmctl-lock-%d" % NOBODY},
                      {"run": [LOCK, "destroy", "--force"], "env": unset},
                      {"run": [LOCK, "destroy", "--force"], "env": unset,
                       "user": "nobody"}]
        results = self.in_namespace(["--mount"], steps)[1:]
        for at in (0, 6):
            root, nobody, root_st, nobody_st = results[at:at + 4]
            self.assertEqual(root["rc"], 0, root)
            self.assertEqual(json.loads(root["out"])["path"], "/shmctl-lock")
            self.assertEqual(nobody["rc"], 0, nobody)
            self.assertEqual(json.loads(nobody["out"])["path"],
                             "/shmctl-lock-%d" % NOBODY)
            self.assertEqual(root_st, {"mode": 0o600, "uid": 0})
            self.assertEqual(nobody_st, {"mode": 0o600, "uid": NOBODY})
            self.assertEqual(results[at + 4]["rc"], 0, results[at + 4])
            self.assertEqual(results[at + 5]["rc"], 0, results[at + 5])


# ---------------------------------------------------------------------------
# A refused command never runs its COMMAND

class RefusedCommandTest(SecurityTestCase):

    def test_a_refused_subcommand_never_runs_its_command(self):
        box = self.shared_dir()
        flag = os.path.join(box, "ran")
        shmid = self.track_shm(self.assertOk(run_tool(SHM, "create", "--size", 4096))["id"])
        semid = self.track_sem(self.assertOk(run_tool(SEM, "get", "--private",
                                                      "--init", 1))["id"])
        path = self.new_path()
        self.init(64, path)
        cases = [
            ("sysv-shm attach", [SHM, "attach", shmid], "EACCES"),
            ("sysv-sem op", [SEM, "op", semid, "0:-1:undo"], "EACCES"),
            ("sysv-sem P", [SEM, "P", semid, "--undo"], "EACCES"),
            ("sysv-sem V", [SEM, "V", semid, "--undo"], "EACCES"),
            ("shmctl-lock lock", [LOCK, "lock", 1, "--path", path], "EACCES"),
        ]
        for name, argv, code in cases:
            with self.subTest(tool=name):
                r = self.as_user("nobody", *argv, "--", "touch", flag)
                self.assertError(r, 1, code)
                self.assertFalse(os.path.exists(flag))
        self.assertEqual(self.sem_values(semid), [1])
        self.assertFalse(self.state(1, path=path)["locked"])
        st = self.assertOk(run_tool(SHM, "stat", shmid))
        self.assertEqual((st["nattch"], st["atime"]), (0, 0))


# ---------------------------------------------------------------------------
# Segments owned by another user

# Every subcommand, on a segment another user made: (argv after the tool,
# whether it changes the segment when it succeeds, the error code it then
# still gets for another reason, or None).
OWNED_CASES = [
    (["info"], False, None),
    (["status"], False, None),
    (["status", "3"], False, None),
    (["lock", "5", "--owner-pid", "{owner}"], True, None),
    (["lock", "6", "--", "true"], True, None),
    (["unlock", "3", "--force"], True, None),
    (["alloc"], True, None),
    (["alloc", "9"], True, None),
    (["free", "1"], True, None),
    (["free", "--all", "--yes"], True, None),
    (["init", "--exist-ok"], False, None),
    (["init", "--exist-ok", "--locks", "64"], False, None),
    (["destroy"], False, "EBUSY"),   # lock 3 is held
    (["destroy", "--force"], True, None),
]


class OwnerTest(SecurityTestCase):

    def planted(self, backend, user="nobody", mode="0666"):
        """A segment that `user` made, in a directory that only that user
        may write (file backend) or in /dev/shm: lock 1 allocated, lock 3
        held by a live process."""
        if backend == "file":
            d = self.shared_dir(owner=pwd.getpwnam(user).pw_uid, mode=0o755)
            path = os.path.join(d, random_name())
            self._paths.append((path, False))
        else:
            path = self.new_path(backend="shm")
        self.assertOk(self.as_user(user, LOCK, "init", "--path", path,
                                   "--locks", 64, "--mode", mode))
        self.assertOk(self.as_user(user, LOCK, "alloc", 1, "--path", path))
        owner = self.sleeper()
        self.assertOk(self.as_user(user, LOCK, "lock", 3, "--path", path,
                                   "--owner-pid", owner.pid))
        return path, owner

    def check_refused(self, r, owner_uid):
        err = self.assertError(r, 1, "EPERM")
        self.assertEqual(err["op"], "open")
        self.assertIn("owned by uid %d" % owner_uid, err["message"])
        self.assertIn("--any-owner", err["hint"])
        return err

    def test_root_refuses_a_segment_another_user_made(self):
        for backend in ("shm", "file"):
            for argv, changes, still in OWNED_CASES:
                with self.subTest(backend=backend, argv=argv):
                    path, owner = self.planted(backend)
                    args = [a.format(owner=owner.pid) for a in argv]
                    before = self.file_bytes(path)
                    r = self.lk(args[0], *args[1:], path=path)
                    self.check_refused(r, NOBODY)
                    self.assertTrue(self.file_bytes(path) == before)
                    # --any-owner (before a command's --): it works.
                    at = args.index("--") if "--" in args else len(args)
                    flagged = args[:at] + ["--any-owner"] + args[at:]
                    r = self.lk(flagged[0], *flagged[1:], path=path)
                    if still:
                        self.assertError(r, 1, still)
                    elif "--" in args:
                        self.assertEqual(r.rc, 0, r)
                    else:
                        self.assertOk(r)
                    gone = not os.path.lexists(object_file(path))
                    self.assertEqual(gone, args == ["destroy", "--force"])
                    if not changes:
                        self.assertTrue(self.file_bytes(path) == before)

    def test_a_planted_default_segment_is_refused(self):
        # nobody makes root's default /dev/shm/shmctl-lock first, in a
        # /dev/shm of this test's own.
        unset = {"SHMCTL_LOCK_PATH": None}
        results = self.in_namespace(["--mount"], [
            {"mount": ["/dev/shm", "1m"]},
            {"run": [LOCK, "init", "--path", "/shmctl-lock", "--mode", "0666"],
             "env": unset, "user": "nobody"},
            {"read": "/dev/shm/shmctl-lock"},
            {"run": [LOCK, "lock", "1"], "env": unset},
            {"run": [LOCK, "info"], "env": unset},
            {"run": [LOCK, "alloc"], "env": unset},
            {"run": [LOCK, "init", "--exist-ok"], "env": unset},
            {"read": "/dev/shm/shmctl-lock"},
            {"stat": "/dev/shm/shmctl-lock"},
            {"run": [LOCK, "info", "--any-owner"], "env": unset},
        ])[1:]
        self.assertEqual(results[0]["rc"], 0, results[0])
        for r in results[2:6]:
            self.assertEqual(r["rc"], 1, r)
            self.assertEqual(r["out"], "", r)
            e = self.error_of(r["err"].encode(), "EPERM")
            self.assertIn("owned by uid %d" % NOBODY, e["message"])
        self.assertEqual(results[6], results[1], "the planted segment changed")
        self.assertEqual(results[7], {"mode": 0o666, "uid": NOBODY})
        self.assertEqual(results[8]["rc"], 0, results[8])
        self.assertEqual(json.loads(results[8]["out"])["path"], "/shmctl-lock")

    def test_users_other_than_root(self):
        # daemon's segment: refused to nobody, even with mode 0666.
        box = self.shared_dir()
        path = os.path.join(box, random_name())
        self._paths.append((path, False))
        self.assertOk(self.as_user("daemon", LOCK, "init", "--path", path,
                                   "--locks", 64, "--mode", "0666"))
        self.check_refused(self.as_user("nobody", LOCK, "info", "--path", path),
                           DAEMON)
        self.assertOk(self.as_user("nobody", LOCK, "info", "--path", path,
                                   "--any-owner"))
        # root's segment is trusted by everyone: mode decides.
        rootseg = self.new_path()
        self.init(64, rootseg, "--mode", "0666")
        self.assertOk(self.as_user("nobody", LOCK, "alloc", "--path", rootseg))
        # nobody's own: no flag needed.
        mine = os.path.join(box, random_name())
        self._paths.append((mine, False))
        self.assertOk(self.as_user("nobody", LOCK, "init", "--path", mine,
                                   "--locks", 64))
        self.assertOk(self.as_user("nobody", LOCK, "status", "--path", mine))

    def test_a_foreign_file_is_refused_before_it_is_read(self):
        d = self.shared_dir(owner=NOBODY, mode=0o755)
        path = os.path.join(d, "garbage")
        with open(path, "wb") as f:
            f.write(b"not a segment at all")
        os.chown(path, NOBODY, -1)
        self._paths.append((path, False))
        self.check_refused(self.lk("info", path=path), NOBODY)
        self.assertError(self.lk("info", "--any-owner", path=path), 1, "EPROTO")
        self.check_refused(self.lk("destroy", "--force", path=path), NOBODY)
        self.assertTrue(os.path.exists(path))


# ---------------------------------------------------------------------------
# No shell

# Words a shell would act on: substitutions, separators, globs, quotes,
# variables, redirections, an empty word, spaces and a newline.
HOSTILE_ARGS = ["$(touch subst)", "`touch backtick`", ";", "touch semi", "*",
                "&&", "||", "|", "> redirected", "$HOME", "'quoted'", '"dq"',
                "", "two words", "new\nline", "~"]


class NoShellTest(SecurityTestCase):

    def commands(self):
        """Each way to run a command: (name, argv before --, a check that
        nothing is held afterwards)."""
        shmid = self.track_shm(self.assertOk(run_tool(SHM, "create", "--size", 4096))["id"])
        semid = self.track_sem(self.assertOk(run_tool(SEM, "get", "--private",
                                                      "--init", 1))["id"])
        path = self.new_path()
        self.init(64, path)
        return [
            ("sysv-shm attach", [SHM, "attach", shmid],
             lambda: self.assertEqual(
                 self.assertOk(run_tool(SHM, "stat", shmid))["nattch"], 0)),
            ("sysv-sem P --undo", [SEM, "P", semid, "--undo"],
             lambda: self.assertEqual(self.sem_values(semid), [1])),
            ("sysv-sem op", [SEM, "op", semid, "0:-1:undo"],
             lambda: self.assertEqual(self.sem_values(semid), [1])),
            ("sysv-sem V --undo", [SEM, "V", semid, "--undo"],
             lambda: self.assertEqual(self.sem_values(semid), [1])),
            ("shmctl-lock lock", [LOCK, "lock", 2, "--path", path],
             lambda: self.assertFalse(self.state(2, path=path)["locked"])),
        ]

    def run_in(self, cwd, argv):
        p = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                           capture_output=True, cwd=cwd, env=self.env, timeout=60)
        return p

    def test_words_after_dashdash_reach_the_command_as_they_are(self):
        for name, argv, released in self.commands():
            with self.subTest(tool=name):
                cwd = tempfile.mkdtemp(dir=self.tmp)
                with open(os.path.join(cwd, "x"), "w"):
                    pass
                p = self.run_in(cwd, argv + [
                    "--", "/usr/bin/python3", "-c",
                    "import json, sys; print(json.dumps(sys.argv[1:]))"] +
                    HOSTILE_ARGS)
                self.assertEqual(p.returncode, 0, p)
                lines = p.stdout.decode().splitlines()
                self.assertEqual(json.loads(lines[-1]), HOSTILE_ARGS, p)
                # Nothing a shell would have done happened.
                self.assertEqual(sorted(os.listdir(cwd)), ["x"])
                released()

    def test_a_command_line_in_one_word_is_not_found(self):
        for name, argv, released in self.commands():
            for line in ("echo hello", "touch made; echo", "true && touch made"):
                with self.subTest(tool=name, command=line):
                    cwd = tempfile.mkdtemp(dir=self.tmp)
                    p = self.run_in(cwd, argv + ["--", line])
                    self.assertEqual(p.returncode, 127, p)
                    self.assertEqual(p.stdout, b"", p)
                    e = self.error_of(p.stderr, "ENOENT")
                    self.assertEqual(e["op"], "execvp", e)
                    self.assertIn(line, e["message"])
                    self.assertEqual(os.listdir(cwd), [])
                    released()

    def test_a_file_without_hashbang_runs_under_sh_as_documented(self):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..", "..", "man", "ipctk.7.scd")) as f:
            text = " ".join(f.read().split())
        self.assertIn("a file without a *#!* line run by */bin/sh* as "
                      "*execvp*(3) does", text)
        script = os.path.join(self.tmp, "no-hashbang")
        with open(script, "w") as f:
            f.write('printf "%s|%s\\n" "$1" "$2"\n')
        os.chmod(script, 0o755)
        for name, argv, released in self.commands():
            with self.subTest(tool=name):
                p = self.run_in(self.tmp, argv + ["--", script, "a b", "$(x)"])
                self.assertEqual(p.returncode, 0, p)
                self.assertEqual(p.stdout.decode().splitlines()[-1], "a b|$(x)")
                released()


if __name__ == "__main__":
    unittest.main(verbosity=2)
