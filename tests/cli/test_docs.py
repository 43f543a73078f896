"""The man pages and the shell completions cover every subcommand and every
flag of every tool, as the tool's own --help lists them.

The flags are read from the built binaries (IPCTK_BUILD_DIR), so a flag added
to a tool without its man page entry and completions fails here. Each check
names the tool, the subcommand, the flag and the file that lacks it.

Besides looking for the flags in the files, the completions are run for
real where the shells are installed (bash with bash-completion, fish, zsh),
and the man pages are checked with scdoc and man(1).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipctk_test import (  # noqa: E402
    BUILD_DIR, ZSH_TAB, bash_complete, fish_complete, has_bash_completion,
    has_zpty, man_render, tool_path, zsh_complete)

# Adding a tool here is all it takes for its docs to be checked.
TOOLS = ["sysv-shm", "sysv-sem", "shmctl-lock"]

SOURCE_DIR = os.environ.get("IPCTK_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Top-level flags every tool has besides -h/--help.
GLOBAL_FLAGS = ["--pretty", "--version"]


def built_tools():
    return [t for t in TOOLS if os.access(tool_path(t), os.X_OK)]


def src(*parts):
    return os.path.normpath(os.path.join(SOURCE_DIR, *parts))


def man_source(tool):
    return src("man", tool + ".1.scd")


def ipctk7_source():
    return src("man", "ipctk.7.scd")


def completion_files(tool):
    """{shell: path} of a tool's completion files."""
    return {
        "bash": src("completions", "bash", tool),
        "zsh": src("completions", "zsh", "_" + tool),
        "fish": src("completions", "fish", tool + ".fish"),
    }


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# -- what --help says ------------------------------------------------------

def help_sections(text):
    """CLI11 help text as {section title: [lines]}: "Options:",
    "Subcommands:", "Positionals:" each start a section of indented lines."""
    sections = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Za-z ]*):\s*$", line)
        if m:
            current = m.group(1)
            sections[current] = []
        elif current is not None and line.startswith(" "):
            sections[current].append(line)
        elif line.strip():
            current = None
    return sections


def run_help(tool, *args):
    proc = subprocess.run([tool_path(tool), *args, "--help"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30)
    if proc.returncode != 0:
        raise AssertionError("%s %s --help exited %d: %r" % (
            tool, " ".join(args), proc.returncode, proc.stderr[:400]))
    return proc.stdout.decode("utf-8", "replace")


def long_flags(help_text):
    """The long flags of a help text's Options section, without --help."""
    flags = []
    for line in help_sections(help_text).get("Options", []):
        m = re.match(r"^\s{1,8}((?:-[A-Za-z0-9],)*--[A-Za-z0-9][\w-]*)", line)
        if not m:
            continue
        for name in m.group(1).split(","):
            if name.startswith("--") and name != "--help" and name not in flags:
                flags.append(name)
    return flags


def subcommands(tool):
    names = []
    for line in help_sections(run_help(tool)).get("Subcommands", []):
        # Upper case too: sysv-sem has P and V.
        m = re.match(r"^\s{1,8}([A-Za-z][\w-]*)(\s|$)", line)
        if m:
            names.append(m.group(1))
    return names


class ToolSpec:
    """One tool's subcommands and flags, as its --help prints them."""

    def __init__(self, tool):
        self.tool = tool
        self.top_flags = long_flags(run_help(tool))
        self.subcommands = subcommands(tool)
        self.flags = {sub: long_flags(run_help(tool, sub))
                      for sub in self.subcommands}


_specs = {}


def spec(tool):
    if tool not in _specs:
        _specs[tool] = ToolSpec(tool)
    return _specs[tool]


# -- how a file mentions a flag or a subcommand ----------------------------

def word_re(word):
    """`word` standing alone: not part of a longer flag or name."""
    return re.compile(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])")


def mentions_flag(shell, text, flag):
    """Whether a completion (or man) file names `flag` ("--size")."""
    if shell == "fish":
        name = re.escape(flag[2:])
        return re.search(r"(?:\s-l|--long-option)[\s=]+(['\"]?)" + name +
                         r"\1(?![\w-])", text) is not None
    return word_re(flag).search(text) is not None


def mentions_subcommand(shell, text, sub):
    if shell == "man":
        # A section of its own: "## create" (or "# CREATE").
        return re.search(r"(?mi)^#{1,2} +(?:\S+ +)*" + re.escape(sub) +
                         r"(?![\w-])", text) is not None
    if shell == "fish":
        # Offered where no subcommand is given yet.
        for line in text.splitlines():
            if "__fish_use_subcommand" in line and re.search(
                    r"(?:\s-a|--arguments)[\s=]+['\"]?(?:[^'\"]*\s)?" +
                    re.escape(sub) + r"(?=[\s'\"]|$)", line):
                return True
        return False
    return word_re(sub).search(text) is not None


def man_section(text, heading):
    """The text of the man page section "## heading" (or "# HEADING") up to
    the next heading of the same or a higher level."""
    m = re.search(r"(?m)^(#{1,2}) +" + re.escape(heading) + r" *$", text)
    if m is None:
        return ""
    level = len(m.group(1))
    end = re.compile(r"(?m)^#{1,%d} " % level).search(text, m.end())
    return text[m.end():end.start() if end else len(text)]


def man_defines(section, flag):
    """Whether `section` has an entry for `flag`: a definition term (a line
    that starts with a flag and is followed by an indented description)
    naming this one, as "*--size* _SIZE_" or "*--key-path* _P_ *--proj-id* _N_".
    A synopsis line that merely lists the flag does not count."""
    lines = section.splitlines()
    for line, following in zip(lines, lines[1:]):
        if (line.startswith("*--") and following.startswith("\t") and
                "*%s*" % flag in line):
            return True
    return False


# Flags of the subcommands that act on one object, documented once per page
# under a heading that names the object: "# NAMING A SEGMENT" in sysv-shm(1),
# "# NAMING A SET" in sysv-sem(1).
TARGET_FLAGS = {"--key", "--key-path", "--proj-id"}
TARGET_HEADING = re.compile(r"(?m)^# +(NAMING [A-Z][A-Z ]*?) *$")


def target_section(text):
    m = TARGET_HEADING.search(text)
    return man_section(text, m.group(1)) if m else ""


def man_documents(text, sub, flag):
    """A subcommand's flag has an entry in that subcommand's own section,
    or, for the target flags of a subcommand that takes a _TARGET_, in the
    page's section that names the object."""
    section = man_section(text, sub)
    if man_defines(section, flag):
        return True
    return (flag in TARGET_FLAGS and "_TARGET_" in section and
            man_defines(target_section(text), flag))


def missing(kind, what, tool, sub, path):
    where = "%s %s" % (tool, sub) if sub else tool
    return "%s: %s %s is missing from %s" % (where, kind, what, path)


class DocsExist(unittest.TestCase):

    def test_a_tool_is_built(self):
        self.assertTrue(built_tools(), "no tool of %r is built in %s" % (
            TOOLS, BUILD_DIR))

    def test_ipctk7_exists(self):
        self.assertTrue(os.path.isfile(ipctk7_source()),
                        "missing " + ipctk7_source())

    def test_files_exist(self):
        for tool in built_tools():
            for path in [man_source(tool)] + list(
                    completion_files(tool).values()):
                with self.subTest(tool=tool, file=path):
                    self.assertTrue(os.path.isfile(path),
                                    "%s: missing %s" % (tool, path))
                    self.assertGreater(os.path.getsize(path), 0,
                                       "%s: %s is empty" % (tool, path))

    def test_help_is_parsed(self):
        # Guards the checks below against passing on nothing.
        for tool in built_tools():
            s = spec(tool)
            self.assertTrue(s.subcommands,
                            "%s --help: no Subcommands section" % tool)
            for flag in GLOBAL_FLAGS:
                self.assertIn(flag, s.top_flags,
                              "%s --help does not list %s" % (tool, flag))


class DocsCoverFlags(unittest.TestCase):
    """Every subcommand and long flag of --help is in the man page and in
    the three completion files."""

    def check_file(self, tool, shell, path):
        if not os.path.isfile(path):
            self.fail("%s: missing %s" % (tool, path))
        text = read_text(path)
        s = spec(tool)
        for flag in GLOBAL_FLAGS:
            with self.subTest(tool=tool, flag=flag, file=path):
                self.assertTrue(mentions_flag(shell, text, flag),
                                missing("global flag", flag, tool, "", path))
        for sub in s.subcommands:
            with self.subTest(tool=tool, subcommand=sub, file=path):
                self.assertTrue(mentions_subcommand(shell, text, sub),
                                missing("subcommand", sub, tool, sub, path))
            for flag in s.flags[sub]:
                with self.subTest(tool=tool, subcommand=sub, flag=flag,
                                  file=path):
                    if shell == "man":
                        self.assertTrue(
                            man_documents(text, sub, flag),
                            missing("entry for flag", flag, tool, sub,
                                    path + " (section '## %s')" % sub))
                    else:
                        self.assertTrue(mentions_flag(shell, text, flag),
                                        missing("flag", flag, tool, sub, path))

    def test_man_page(self):
        for tool in built_tools():
            self.check_file(tool, "man", man_source(tool))

    def test_bash_completion(self):
        for tool in built_tools():
            self.check_file(tool, "bash", completion_files(tool)["bash"])

    def test_zsh_completion(self):
        for tool in built_tools():
            self.check_file(tool, "zsh", completion_files(tool)["zsh"])

    def test_fish_completion(self):
        for tool in built_tools():
            self.check_file(tool, "fish", completion_files(tool)["fish"])

    def test_ipctk7_names_every_tool(self):
        text = read_text(ipctk7_source())
        for tool in TOOLS:
            with self.subTest(tool=tool):
                self.assertRegex(text, word_re(tool),
                                 "%s is not named in %s" % (
                                     tool, ipctk7_source()))


# -- the completions, run by their shells ----------------------------------

def queries(s):
    """The command lines whose completions must offer the flags: the tool
    alone (subcommands), "--" at the top, and "--" after each subcommand."""
    q = {"%s " % s.tool: ("subcommand", s.subcommands, ""),
         "%s --" % s.tool: ("global flag", GLOBAL_FLAGS, "")}
    for sub in s.subcommands:
        q["%s %s --" % (s.tool, sub)] = ("flag", s.flags[sub], sub)
    return q


class CompletionsRun(unittest.TestCase):
    """What each shell really offers after `TOOL `, `TOOL --` and
    `TOOL SUB --`."""

    def check_offers(self, tool, path, query_line, offered, kind, wanted,
                     sub):
        for word in wanted:
            with self.subTest(tool=tool, subcommand=sub, word=word,
                              file=path):
                self.assertIn(word, offered, "%s (completing %r; offered %s)"
                              % (missing(kind, word, tool, sub, path),
                                 query_line, sorted(offered)))

    @unittest.skipUnless(has_bash_completion(),
                         "bash or bash-completion is not installed")
    def test_bash_offers_every_flag(self):
        for tool in built_tools():
            s = spec(tool)
            path = completion_files(tool)["bash"]
            q = queries(s)
            proc, answers = bash_complete(path, tool, q)
            self.assertEqual(proc.returncode, 0,
                             "%s: bash could not load %s (status %d): %s" % (
                                 tool, path, proc.returncode,
                                 proc.stderr.decode(errors="replace")[:400]))
            for line, (kind, wanted, sub) in q.items():
                self.check_offers(tool, path, line, answers[line], kind,
                                  wanted, sub)

    @unittest.skipUnless(shutil.which("fish"), "fish is not installed")
    def test_fish_offers_every_flag(self):
        for tool in built_tools():
            s = spec(tool)
            path = completion_files(tool)["fish"]
            q = queries(s)
            proc, answers = fish_complete(os.path.dirname(path), q)
            self.assertEqual(proc.returncode, 0, "%s: fish failed on %s: %s"
                             % (tool, path,
                                proc.stderr.decode(errors="replace")[:400]))
            self.assertEqual(proc.stderr, b"", "%s: fish complained about %s"
                             % (tool, path))
            for line, (kind, wanted, sub) in q.items():
                self.check_offers(tool, path, line, answers[line], kind,
                                  wanted, sub)

    @unittest.skipUnless(shutil.which("zsh"), "zsh is not installed")
    def test_zsh_file_parses(self):
        for tool in built_tools():
            path = completion_files(tool)["zsh"]
            proc = subprocess.run(["zsh", "-n", path],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(proc.returncode, 0, "%s: zsh -n %s: %s" % (
                tool, path, proc.stderr.decode(errors="replace")))
            self.assertRegex(read_text(path), r"\A#compdef +%s\b" %
                             re.escape(tool),
                             "%s: %s does not start with '#compdef %s'" % (
                                 tool, path, tool))

    @unittest.skipUnless(has_zpty(), "zsh with zsh/zpty is not installed")
    def test_zsh_offers_every_flag(self):
        for tool in built_tools():
            s = spec(tool)
            path = completion_files(tool)["zsh"]
            q = queries(s)
            try:
                proc, answers = zsh_complete(os.path.dirname(path), q,
                                             key=ZSH_TAB)
            except subprocess.TimeoutExpired:
                self.fail("%s: zsh completion with %s did not finish" % (
                    tool, path))
            self.assertEqual(proc.returncode, 0,
                             "%s: zsh driver failed (status %d) on %s: %s" % (
                                 tool, proc.returncode, path,
                                 proc.stderr.decode(errors="replace")[:400]))
            for line, (kind, wanted, sub) in q.items():
                self.check_offers(tool, path, line, answers[line], kind,
                                  wanted, sub)


# -- the man pages as scdoc and man(1) see them ----------------------------

def man_pages():
    """(source, built page or None) of every man page to check."""
    pages = [(ipctk7_source(), os.path.join(BUILD_DIR, "man", "ipctk.7"))]
    for tool in built_tools():
        pages.append((man_source(tool),
                      os.path.join(BUILD_DIR, "man", tool + ".1")))
    return pages


class ManPages(unittest.TestCase):

    @unittest.skipUnless(shutil.which("scdoc"), "scdoc is not installed")
    def test_scdoc_accepts_sources(self):
        for source, _ in man_pages():
            with self.subTest(file=source):
                with open(source, "rb") as f:
                    proc = subprocess.run(["scdoc"], stdin=f,
                                          stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, timeout=30)
                self.assertEqual(proc.returncode, 0, "scdoc rejects %s: %s" % (
                    source, proc.stderr.decode(errors="replace")))

    @unittest.skipUnless(shutil.which("man"), "man is not installed")
    def test_man_renders_without_warnings(self):
        checked = 0
        for source, built in man_pages():
            with self.subTest(file=built):
                if not os.path.isfile(built):
                    if not shutil.which("scdoc"):
                        continue
                    # Not built here (no man pages in this build): render
                    # the source the way the build would.
                    with open(source, "rb") as f:
                        page = subprocess.run(["scdoc"], stdin=f,
                                              stdout=subprocess.PIPE,
                                              timeout=30).stdout
                    fd, built = tempfile.mkstemp(suffix=".man")
                    self.addCleanup(os.unlink, built)
                    with os.fdopen(fd, "wb") as out:
                        out.write(page)
                proc = man_render(built)
                checked += 1
                self.assertEqual(proc.returncode, 0, "man -l %s failed: %s" % (
                    built, proc.stderr.decode(errors="replace")))
                self.assertEqual(proc.stderr.decode(errors="replace"), "",
                                 "man warns about %s (from %s)" % (
                                     built, source))
        if checked == 0:
            self.skipTest("no man page was built and scdoc is missing")


if __name__ == "__main__":
    unittest.main(verbosity=2)
