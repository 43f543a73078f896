"""The README's tours run: every `$ sysv-shm ...` line in it is executed in
order, and then every `$ sysv-sem ...` line (each tour with a fresh key and
the id it gets in place of the README's), and
what it prints has the README's shape: the same JSON fields, the same exit
status, the same raw bytes. Ids, times and pids differ from run to run; the
fields and the data must not."""

import json
import os
import re
import signal
import subprocess
import unittest

from ipctk_test import BUILD_DIR, IpcTestCase, unique_key

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
    return [(cmd, out) for cmd, out in steps
            if re.search(r"(^|\| )%s " % re.escape(tool), cmd)]


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


class ReadmeTour(IpcTestCase):

    def test_sysv_shm_tour_runs_as_written(self):
        self.run_tour("sysv-shm", self.track_shm)

    def test_sysv_sem_tour_runs_as_written(self):
        self.run_tour("sysv-sem", self.track_sem)

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
                want = expected
                if want and want[0].startswith("{") and not want[0].endswith("}"):
                    # An indented (--pretty) document spans lines.
                    got, want = ["".join(got)], ["".join(want)]
                self.assertEqual(len(got), len(want), (cmd, got, want))
                for g, w in zip(got, want):
                    if w.startswith("{"):
                        doc = json.loads(g)
                        self.assertEqual(shape(doc), shape(json.loads(w)), cmd)
                        if "data" in doc:
                            self.assertEqual(doc["data"], json.loads(w)["data"], cmd)
                        if readme_id is None and "id" in doc:
                            readme_id, our_id = json.loads(w)["id"], doc["id"]
                            track(our_id)
                    else:
                        self.assertEqual(g, w, cmd)
        stop_holders()


if __name__ == "__main__":
    unittest.main(verbosity=2)
