"""Shared helpers for the CLI tests: run a built tool, parse its JSON, and
remove every IPC object a test made, even when the test fails.

The tests run the binaries from IPCTK_BUILD_DIR (set by meson).
"""

import errno
import json
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

BUILD_DIR = os.environ.get("IPCTK_BUILD_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))


def build_option(name):
    """An option of the build under test, from meson's introspection; None
    when it cannot be read."""
    try:
        with open(os.path.join(BUILD_DIR, "meson-info",
                               "intro-buildoptions.json")) as f:
            options = json.load(f)
    except (OSError, ValueError):
        return None
    return next((o["value"] for o in options if o["name"] == name), None)


def _sanitized():
    """Whether the tools under test are a sanitizer build: IPCTK_SANITIZED
    (meson's test setup in such a build sets it), else the build's own
    options (a test file run by hand)."""
    if os.environ.get("IPCTK_SANITIZED"):
        return os.environ["IPCTK_SANITIZED"] != "0"
    return build_option("b_sanitize") not in (None, "none", [])


# A sanitizer build's tool takes about twenty times as long to run (70 ms
# of CPU rather than 3, mostly the sanitizer runtime's start-up and its
# leak check at exit), so tests that start the tools hundreds of times run
# fewer rounds there, and time bounds on throughput are widened (those of
# timeouts are not).
SANITIZED = _sanitized()
SLOWDOWN = 5.0 if SANITIZED else 1.0


def user_name(uid):
    """The name of a uid, or its number, as ipcs(1) shows an owner."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def tool_path(name):
    return os.path.join(BUILD_DIR, name)


class Result:
    """What one invocation did: exit status, stdout, stderr, and both parsed."""

    def __init__(self, argv, pid, rc, out, err):
        self.argv = argv
        self.pid = pid  # the tool's own pid (setpriv execs it)
        self.rc = rc
        self.out = out
        self.err = err
        self.json = None
        self.error = None
        text = self.out.decode("utf-8", "replace").strip()
        if text:
            try:
                self.json = json.loads(text)
            except ValueError:
                self.json = None
        errtext = self.err.decode("utf-8", "replace").strip()
        if errtext:
            try:
                self.error = json.loads(errtext.splitlines()[-1])["error"]
            except (ValueError, KeyError, TypeError):
                self.error = None

    def __repr__(self):
        return "Result(argv=%r, rc=%r, out=%r, err=%r)" % (
            self.argv, self.rc, self.out[:400], self.err[:400])


def run(tool, *args, input=None, timeout=30, env=None, user=None,
        group="nogroup"):
    """Runs a built tool (or, with user='nobody', as that user and `group`
    via setpriv)."""
    argv = [tool_path(tool)] + [str(a) for a in args]
    if user is not None:
        argv = ["setpriv", "--reuid=" + user, "--regid=" + str(group),
                "--clear-groups", "--"] + argv
    stdin = subprocess.DEVNULL if input is None else subprocess.PIPE
    with subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        return Result(argv, proc.pid, proc.returncode, out, err)


def proc_sysvipc(kind):
    """Rows of /proc/sysvipc/<kind> as dicts of header name -> text."""
    with open("/proc/sysvipc/" + kind) as f:
        lines = f.read().splitlines()
    header = lines[0].split()
    return [dict(zip(header, line.split())) for line in lines[1:] if line.strip()]


def sem_row(semid):
    """The /proc/sysvipc/sem row of `semid` (every column), or None."""
    for row in proc_sysvipc("sem"):
        if int(row["semid"]) == semid:
            return row
    return None


def fresh_sem_key():
    """A key that no semaphore set has right now (callers still create
    with --excl)."""
    for _ in range(100):
        key = unique_key()
        if not any(int(r["key"]) & 0xFFFFFFFF == key
                   for r in proc_sysvipc("sem")):
            return key
    raise AssertionError("no free key found")


def unique_key():
    """A key unlikely to be in use; callers still create with --excl."""
    return 0x7E000000 | random.randrange(1, 1 << 24)


_terminated = False


def _on_sigterm(signum, frame):
    # meson ends a test that runs out of time with SIGTERM: end the running
    # test with an error so that its cleanups still remove what it made,
    # and stop before the next one starts (IpcTestCase.setUp).
    global _terminated
    _terminated = True
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)


class IpcTestCase(unittest.TestCase):
    """Remembers every shm segment and semaphore set a test makes and removes
    them in cleanup, whether the test passed or not; then checks that they
    are really gone."""

    def setUp(self):
        if _terminated:
            os._exit(128 + signal.SIGTERM)
        self._shm_ids = []
        self._sem_ids = []
        self.addCleanup(self._remove_all)

    def track_shm(self, shmid):
        self._shm_ids.append(int(shmid))
        return int(shmid)

    def track_sem(self, semid):
        self._sem_ids.append(int(semid))
        return int(semid)

    def _remove_all(self):
        for shmid in self._shm_ids:
            subprocess.run(["ipcrm", "-m", str(shmid)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        for semid in self._sem_ids:
            subprocess.run(["ipcrm", "-s", str(semid)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        live_shm = {int(r["shmid"]) for r in proc_sysvipc("shm")
                    if int(r["nattch"]) == 0}
        live_sem = {int(r["semid"]) for r in proc_sysvipc("sem")}
        leaked = [i for i in self._shm_ids if i in live_shm]
        leaked += [i for i in self._sem_ids if i in live_sem]
        if leaked:
            raise AssertionError("IPC objects left behind: %r" % leaked)

    # -- sysv-shm conveniences -------------------------------------------
    def shm(self, *args, **kw):
        return run("sysv-shm", *args, **kw)

    def make_segment(self, size=4096, *extra):
        r = self.shm("create", "--size", size, *extra)
        self.assertEqual(r.rc, 0, r)
        return self.track_shm(r.json["id"])

    # -- sysv-sem conveniences -------------------------------------------
    def sem(self, *args, **kw):
        return run("sysv-sem", *args, **kw)

    def make_set(self, nsems=1, init=None, *extra):
        """A new private set (tracked for removal); returns its id."""
        args = ["get", "--private", "--nsems", nsems]
        if init is not None:
            args += ["--init", ",".join(str(v) for v in init)
                     if isinstance(init, (list, tuple)) else init]
        r = self.sem(*args, *extra)
        self.assertEqual(r.rc, 0, r)
        return self.track_sem(r.json["id"])

    def sem_values(self, semid):
        """The values as `ipcs -s -i` prints them (a reader no one here
        wrote), as a list of ints."""
        out = subprocess.run(["ipcs", "-s", "-i", str(semid)], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        values = []
        in_table = False
        for line in out.splitlines():
            fields = line.split()
            if fields[:2] == ["semnum", "value"]:
                in_table = True
                continue
            if in_table and len(fields) >= 5 and fields[0].isdigit():
                values.append(int(fields[1]))
        return values

    def assertOk(self, result):
        self.assertEqual(result.rc, 0, result)
        self.assertIsNotNone(result.json, result)
        self.assertEqual(result.err, b"", result)
        return result.json

    def assertOneErrorLine(self, r):
        """Exactly one line on stderr, a JSON object {"error": {...}} with
        op, errno, code, message (and optionally hint), and nothing else;
        nothing on stdout; the code is the errno's name."""
        self.assertEqual(r.out, b"", r)
        self.assertTrue(r.err.endswith(b"\n"), r)
        self.assertEqual(r.err.count(b"\n"), 1, r)
        doc = json.loads(r.err)
        self.assertEqual(list(doc), ["error"], r)
        err = doc["error"]
        self.assertLessEqual(set(err), {"op", "errno", "code", "message", "hint"}, r)
        for field in ("op", "code", "message"):
            self.assertIsInstance(err.get(field), str, r)
            self.assertTrue(err[field], r)
        self.assertIsInstance(err.get("errno"), int, r)
        if "hint" in err:
            self.assertIsInstance(err["hint"], str, r)
        self.assertEqual(errno.errorcode.get(err["errno"]), err["code"], r)
        return err

    def assertError(self, result, rc, code=None):
        """One JSON error line on stderr, nothing on stdout, exit `rc`."""
        self.assertEqual(result.rc, rc, result)
        self.assertEqual(result.out, b"", result)
        lines = result.err.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, result)
        err = json.loads(lines[0])["error"]
        for field in ("op", "errno", "code", "message"):
            self.assertIn(field, err, result)
        self.assertIsInstance(err["errno"], int)
        if code is not None:
            self.assertEqual(err["code"], code, result)
        return err


# -- the shell completions, run by the shells themselves --------------------
#
# Shared by test_docs (flags and subcommands), test_completions (live ids)
# and test_install (the installed files). Each runner takes command lines
# ("sysv-shm stat ") and returns the shell's process and {line: set of the
# words it offers}. The tools are found in PATH (the completions of lock ids
# run shmctl-lock), with the build directory first.

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

# Sources bash-completion and a completion file ($1, $2), then calls the
# function `complete -p TOOL` names for each line, as bash would on TAB.
BASH_DRIVER = r"""
source "$1" >/dev/null 2>&1 || exit 3
source "$2" || exit 4
tool=$3
shift 3
spec=$(complete -p "$tool" 2>/dev/null) || exit 5
func=$(sed -n 's/.*-F \([^ ]*\).*/\1/p' <<<"$spec")
[[ -n $func ]] || exit 5
for line in "$@"; do
    read -r -a COMP_WORDS <<<"$line"
    [[ $line == *' ' ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    "$func" "$tool" "${COMP_WORDS[COMP_CWORD]}" \
        "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
    printf '<<<%s\n' "$line"
    printf '%s\n' "${COMPREPLY[@]}"
done
"""

# An interactive zsh in a pseudo-terminal (zsh/zpty) with compinit and the
# completion files of $1 first in fpath: types each line and the key $2
# (TAB, or ^D: list-choices, which lists even a single match instead of
# inserting it), then prints what the terminal showed.
ZSH_DRIVER = r"""
zmodload zsh/zpty 2>/dev/null || exit 3
fdir=$1 key=$2; shift 2
zpty z zsh -f -i || exit 4
# Keys are typed only once the prompt shows, that is once the line editor
# reads them: typed earlier, the terminal's line discipline would take ^U.
zpty -w z "PS1='<ZP''ROMPT>' PS2='' RPROMPT=''; fpath=(${(q)fdir} \$fpath); autoload -Uz compinit; compinit -u -D; LISTMAX=100000; zstyle ':completion:*' list-separator '#'; print READY_\$((6*7))"
zpty -r z out '*READY_42*' || exit 5
zpty -r z out '*<ZPROMPT>*' || exit 5
for line in "$@"; do
  zpty -n -w z "$line$key"$'\C-u'"print DONE_\$((6*7))"$'\n'
  zpty -r z out '*DONE_42*' || exit 6
  print -r -- "<<<$line"
  print -r -- "$out"
  zpty -r z out '*<ZPROMPT>*' || exit 6
done
zpty -d z
"""

ZSH_TAB = "\t"
ZSH_LIST = "\x04"  # ^D at the end of the line: list-choices


def split_answers(text):
    """{query line: text} of a driver's output ("<<<LINE" headers)."""
    answers = {}
    current = None
    for line in text.split("\n"):
        if line.startswith("<<<"):
            current = line[3:]
            answers[current] = []
        elif current is not None:
            answers[current].append(line)
    return {k: "\n".join(v) for k, v in answers.items()}


def zsh_listing(text, typed=None):
    """The matches of a zsh completion listing: per line, the words before
    the '#' that separates a match from its description. With `typed` (the
    line typed), the terminal's echo of that line, the prompt redrawn under
    the listing and the driver's own command are left out, so that only
    what zsh listed remains."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|[\x07\x08\r]", "\n", text)
    words = set()
    for line in text.split("\n"):
        if typed is not None and (line.strip() == typed.strip() or
                                  line.startswith("<ZPROMPT>") or
                                  "DONE_" in line):
            continue
        words.update(line.split("#", 1)[0].split())
    return words


def fish_quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def has_zpty():
    if not shutil.which("zsh"):
        return False
    return subprocess.run(["zsh", "-fc", "zmodload zsh/zpty"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def has_bash_completion():
    return bool(shutil.which("bash")) and os.path.isfile(BASH_COMPLETION)


def shell_env(home, **extra):
    """The environment of a shell that completes: an empty HOME (no user
    configuration), the built tools first in PATH; then `extra` (None
    unsets a variable)."""
    env = dict(os.environ)
    env["PATH"] = os.path.abspath(BUILD_DIR) + os.pathsep + env.get(
        "PATH", "/usr/bin:/bin")
    env["HOME"] = home
    env["ZDOTDIR"] = home
    env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    env["XDG_DATA_HOME"] = os.path.join(home, ".local", "share")
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)  # unset
        else:
            env[name] = value
    return env


def _run_shell(argv, timeout, env=None):
    with tempfile.TemporaryDirectory(prefix="ipctk-shell-") as home:
        return subprocess.run(argv, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=shell_env(home, **(env or {})),
                              timeout=timeout)


def bash_complete(completion_file, tool, lines, timeout=60):
    """bash with bash-completion and `completion_file` sourced; the words
    in COMPREPLY for each line."""
    proc = _run_shell(["bash", "--norc", "--noprofile", "-c", BASH_DRIVER,
                       "bash", BASH_COMPLETION, completion_file, tool] +
                      list(lines), timeout)
    answers = split_answers(proc.stdout.decode(errors="replace"))
    return proc, {line: set(answers.get(line, "").split()) for line in lines}


def zsh_complete(completion_dir, lines, key=ZSH_TAB, timeout=120):
    """An interactive zsh (zpty) with compinit and `completion_dir` first
    in fpath; the matches it lists for each line after `key`. Raises
    subprocess.TimeoutExpired if zsh hangs."""
    proc = _run_shell(["zsh", "-fc", ZSH_DRIVER, "zsh", completion_dir, key] +
                      list(lines), timeout,
                      env={"TERM": "dumb", "COLUMNS": "200", "LINES": "500"})
    answers = split_answers(proc.stdout.decode(errors="replace"))
    # After TAB the line may hold what zsh inserted: kept as it was.
    return proc, {line: zsh_listing(answers.get(line, ""),
                                    None if key == ZSH_TAB else line)
                  for line in lines}


def fish_complete(completion_dir, lines, timeout=60):
    """fish, finding the completion files by name in `completion_dir`
    (first in fish_complete_path), as an installed file is found; the
    first column of `complete -C LINE` for each line. fish loads a
    command's completions only if the command is in PATH."""
    script = "set -g fish_complete_path %s $fish_complete_path\n" % (
        fish_quote(completion_dir))
    for line in lines:
        script += "echo %s\ncomplete -C %s\n" % (fish_quote("<<<" + line),
                                                 fish_quote(line))
    proc = _run_shell(["fish", "-c", script], timeout)
    answers = split_answers(proc.stdout.decode(errors="replace"))
    return proc, {line: {row.split("\t")[0]
                         for row in answers.get(line, "").splitlines()}
                  for line in lines}


# -- man pages ---------------------------------------------------------------

def man_render(page):
    """man -l of a built or installed page, with groff's warnings on: a
    clean page exits 0 with nothing on stderr."""
    return subprocess.run(
        ["man", "-l", "--warnings", "-E", "UTF-8", "-Tutf8", page],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=60,
        env=dict(os.environ, MANWIDTH="80"))
