#!/usr/bin/python3
"""The P/V ping-pong of sem_pingpong.cc, in Python with sysv_ipc (Debian's
python3-sysv-ipc), for tests/bench/sem_bench.py.

    sem_pingpong.py [--rounds N] [--warmup W] KEY_FWD KEY_BACK

Semaphore 0 of the set with KEY_FWD carries A -> B, that of KEY_BACK
B -> A (sysv_ipc.Semaphore works on semaphore 0 of a set); both must be 0.
The process forks: A (the parent) does V(fwd) P(back), B (the child) does
P(fwd) V(back). A times N round trips after W warm-up ones and prints one
JSON line like sem_pingpong's. The sets are the caller's: this script
neither creates nor removes them (B also ends when they are removed).
"""

import argparse
import json
import os
import signal
import sys
import time

import sysv_ipc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=100000)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("keys", type=lambda t: int(t, 0), nargs=2)
    args = ap.parse_args()
    if args.rounds < 1 or args.warmup < 0:
        ap.error("--rounds >= 1, --warmup >= 0")
    fwd = sysv_ipc.Semaphore(args.keys[0])
    back = sysv_ipc.Semaphore(args.keys[1])
    for s in (fwd, back):
        if s.value != 0:
            sys.exit("sem_pingpong.py: semaphore 0 of set %d is %d, not 0"
                     % (s.id, s.value))

    sys.stdout.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            for _ in range(args.warmup + args.rounds):
                fwd.acquire()
                back.release()
            status = 0
        except BaseException as e:  # noqa: B902 - B must never linger
            print("sem_pingpong.py (B): %s" % e, file=sys.stderr)
            if os.getppid() == parent:
                os.kill(parent, signal.SIGTERM)
        finally:
            sys.stderr.flush()
            os._exit(status)

    # B ending badly while A waits for it ends A too.
    done = {}

    def on_child(_signum, _frame):
        got, st = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            done["status"] = st
            if os.waitstatus_to_exitcode(st) != 0:
                print("sem_pingpong.py: the other process failed",
                      file=sys.stderr)
                os._exit(1)

    signal.signal(signal.SIGCHLD, on_child)
    try:
        for _ in range(args.warmup):
            fwd.release()
            back.acquire()
        t0 = time.perf_counter()
        for _ in range(args.rounds):
            fwd.release()
            back.acquire()
        t1 = time.perf_counter()
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    # B is reaped by the handler (done) or here, whichever comes first.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        status = os.waitpid(pid, 0)[1]
    except ChildProcessError:
        status = done["status"]
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("sem_pingpong.py: the other process failed")
    seconds = t1 - t0
    print(json.dumps({
        "rounds": args.rounds, "warmup": args.warmup, "api": "sysv_ipc",
        "layout": "two sets", "seconds": round(seconds, 9),
        "round_trips_per_second": round(args.rounds / seconds, 1),
        "ns_per_round_trip": round(seconds * 1e9 / args.rounds, 1)},
        separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
