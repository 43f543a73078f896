"""What keeps a one-shot invocation cheap (tests/bench/README.md,
"startup_bench.py"): no tool builds the standard streams at start-up, and
tools/startup-order.txt still names the tools' functions."""

import os
import re
import shutil
import subprocess
import unittest

from ipctk_test import SANITIZED, build_option, tool_path

TOOLS = ["sysv-shm", "sysv-sem", "shmctl-lock"]
SOURCE_DIR = os.environ.get("IPCTK_SOURCE_DIR",
                            os.path.join(os.path.dirname(__file__), "..", ".."))
ORDER = os.path.join(SOURCE_DIR, "tools", "startup-order.txt")


def symbols(path):
    """Every symbol name nm lists for `path`, defined or not."""
    out = subprocess.run(["nm", path], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@unittest.skipIf(shutil.which("nm") is None, "nm (binutils) is not installed")
class StartupTest(unittest.TestCase):

    def test_no_standard_streams_at_start_up(self):
        # std::ios_base::Init's constructor builds cout & co. and the
        # classic locale before main; a file that includes <iostream>
        # instead of lib/cli11.h brings it back (libstdc++ before 13).
        # Linked statically it is defined in the tool, dynamically it is
        # an undefined reference: nm lists both.
        for tool in TOOLS:
            names = symbols(tool_path(tool))
            found = sorted(n for n in names
                           if re.match(r"_ZNSt8ios_base4InitC[12]Ev$", n))
            self.assertEqual(found, [], "%s constructs the standard streams "
                             "at start-up: a file includes <iostream>" % tool)

    @unittest.skipUnless(build_option("static") is True and not SANITIZED,
                         "the order list is for the static release tools "
                         "(meson.build): a dynamic or sanitizer build has "
                         "other functions")
    def test_startup_order_names_the_tools_functions(self):
        # A stale list costs start-up speed, silently: most of its names
        # must still be functions of the tools.
        with open(ORDER) as f:
            wanted = [l.strip() for l in f if l.strip()]
        self.assertGreater(len(wanted), 100)
        defined = set()
        for tool in TOOLS:
            defined |= symbols(tool_path(tool))
        missing = [n for n in wanted if n not in defined]
        self.assertLess(len(missing), len(wanted) // 10,
                        "tools/startup-order.txt is stale (rerun "
                        "scripts/startup-order): %d of %d names are not in "
                        "the tools, e.g. %s" % (len(missing), len(wanted),
                                                missing[:5]))


if __name__ == "__main__":
    unittest.main()
