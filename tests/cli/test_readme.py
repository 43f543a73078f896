"""The README's tours run: every `$ sysv-shm ...` line in it is executed in
order, and then every `$ sysv-sem ...` line (each tour with a fresh key and
the id it gets in place of the README's), and every `$ shmctl-lock ...` line
(with a fresh segment in place of the README's --path, in one shell that
lives for the whole tour, as the README's session did), and
what it prints has the README's shape: the same JSON fields, the same exit
status, the same raw bytes. Ids, times and pids differ from run to run; the
fields and the data must not."""

import json
import os
import re
import select
import signal
import subprocess
import time
import unittest

from ipctk_test import BUILD_DIR, IpcTestCase, tool_path, unique_key

SOURCE_DIR = os.environ.get("IPCTK_SOURCE_DIR",
                            os.path.join(os.path.dirname(__file__), "..", ".."))
README = os.path.join(SOURCE_DIR, "README.md")


def tour(tool):
    """(command, expected output lines) for each `$ TOOL` line of the
    README's code blocks, in order."""
    with open(README) as f:
        text = f.read()
    steps = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M):
        current = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = (line[2:], [])
                steps.append(current)
            elif current is not None:
                current[1].append(line)
    # The tool starts the line, follows a pipe, or is what `sh -c` runs.
    return [(cmd, out) for cmd, out in steps
            if re.search(r"(^|\| |sh -c ')%s " % re.escape(tool), cmd)]


def shape(value):
    """The structure of a JSON value: field names and types, not values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


class Shell:
    """One sh that runs command lines in turn, for as long as the tour
    lasts. `shmctl-lock lock` records its parent process as the owner of the
    lock: run from this shell, like the README's lines from the session's
    shell, the owner stays alive between the line that locks and the one
    that unlocks."""

    MARK = "<<<ipctk-readme-done>>>"

    def __init__(self, env):
        self.proc = subprocess.Popen(["sh"], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.buf = b""

    def run(self, command, timeout=30):
        """The lines that `command` wrote to stdout and stderr."""
        # A brace group runs in the shell itself (no subshell); its stdin is
        # not the shell's script.
        script = "{ %s\n} </dev/null 2>&1\nprintf '\\n%s\\n'\n" % (
            command, self.MARK)
        self.proc.stdin.write(script.encode())
        self.proc.stdin.flush()
        end = ("\n%s\n" % self.MARK).encode()
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while end not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%r did not finish in %d s" % (
                    command, timeout))
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError("the shell exited running %r"
                                         % command)
                self.buf += chunk
        out, self.buf = self.buf.split(end, 1)
        return out.decode().splitlines()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # The whole group: whatever the shell started goes too.
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        else:
            self.proc.stdin.close()
        self.proc.stdout.close()


class ReadmeTour(IpcTestCase):

    def test_sysv_shm_tour_runs_as_written(self):
        self.run_tour("sysv-shm", self.track_shm)

    def test_sysv_sem_tour_runs_as_written(self):
        self.run_tour("sysv-sem", self.track_sem)

    def test_shmctl_lock_tour_runs_as_written(self):
        steps = tour("shmctl-lock")
        self.assertGreaterEqual(len(steps), 10, "the README's tour was not found")
        m = re.match(r"shmctl-lock init .*--path (/[^/\s]+)(\s|$)", steps[0][0])
        self.assertIsNotNone(m, "the tour must start by creating a segment "
                                "with init --path /NAME")
        readme_path = m.group(1)
        path = "/ipctk-readme-test-%d-%s" % (os.getpid(), os.urandom(4).hex())
        env = dict(os.environ, PATH=BUILD_DIR + os.pathsep + os.environ["PATH"])
        env.pop("SHMCTL_LOCK_PATH", None)

        def destroy():
            # Whatever the tour did or did not get to; then check.
            subprocess.run([tool_path("shmctl-lock"), "destroy", "--force",
                            "--path", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
            if os.path.exists("/dev/shm" + path):
                raise AssertionError("segment left behind: " + path)

        self.addCleanup(destroy)
        shell = Shell(env)
        self.addCleanup(shell.close)
        name = re.compile(r"(?<![\w/.-])%s(?![\w/.-])" % re.escape(readme_path))
        for command, expected in steps:
            self.assertFalse(command.endswith("&"), command)
            cmd = name.sub(path, command)
            with self.subTest(command=command):
                self.check_lines(cmd, shell.run(cmd), expected)

    def check_lines(self, cmd, got, want):
        """Checks one command's output against the README's: JSON documents
        by shape (and "data" exactly), other lines exactly. Returns the
        (got, README) document pairs."""
        if want and want[0].startswith("{") and not want[0].endswith("}"):
            # An indented (--pretty) document spans lines.
            got, want = ["".join(got)], ["".join(want)]
        self.assertEqual(len(got), len(want), (cmd, got, want))
        docs = []
        for g, w in zip(got, want):
            if w.startswith("{"):
                doc, wdoc = json.loads(g), json.loads(w)
                self.assertEqual(shape(doc), shape(wdoc), cmd)
                if "data" in doc:
                    self.assertEqual(doc["data"], wdoc["data"], cmd)
                docs.append((doc, wdoc))
            else:
                self.assertEqual(g, w, cmd)
        return docs

    def run_tour(self, tool, track):
        steps = tour(tool)
        self.assertGreaterEqual(len(steps), 10, "the README's tour was not found")
        first = steps[0][0]
        m = re.search(r"--key (0x[0-9a-f]+)", first)
        self.assertIsNotNone(m, "the tour must start by creating a keyed object")
        readme_key = m.group(1)
        key = "0x%08x" % unique_key()
        env = dict(os.environ, PATH=BUILD_DIR + os.pathsep + os.environ["PATH"])
        readme_id = None
        our_id = None
        holders = []

        def stop_holders():
            for p in holders:
                if p.poll() is None:
                    # The whole group: whatever the shell started goes too.
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=10)
                p.stdout.close()

        self.addCleanup(stop_holders)
        for command, expected in steps:
            cmd = command.replace(readme_key, key)
            if readme_id is not None:
                cmd = re.sub(r"\b%s\b" % readme_id, str(our_id), cmd)
            with self.subTest(command=command):
                if cmd.endswith("&"):
                    p = subprocess.Popen(["sh", "-c", "exec " + cmd[:-1]],
                                         env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL,
                                         stdin=subprocess.DEVNULL,
                                         start_new_session=True)
                    holders.append(p)
                    out = p.stdout.readline().decode()
                    self.assertEqual(shape(json.loads(out)),
                                     shape(json.loads(expected[0])), cmd)
                    continue
                r = subprocess.run(["sh", "-c", cmd], env=env,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, timeout=30)
                got = r.stdout.decode().splitlines()
                for doc, wdoc in self.check_lines(cmd, got, expected):
                    if readme_id is None and "id" in doc:
                        readme_id, our_id = wdoc["id"], doc["id"]
                        track(our_id)
        stop_holders()


if __name__ == "__main__":
    unittest.main(verbosity=2)
