"""`meson install` into a DESTDIR puts every tool, man page and completion
where its reader looks for it.

Where the completions must go is asked of the shells themselves, for the
prefix the build is configured with (meson's default, /usr/local, in CI):
the directories bash-completion's loader searches, zsh's $fpath and fish's
$fish_complete_path, besides what their pkg-config files say. Then each
shell is run with the directory it reads moved under the DESTDIR, and must
load the installed file from there by itself (bash-completion's loader,
zsh's compinit, fish's autoloading) and complete with it.

The man pages are rendered from where they are installed, and their
directory must be on man's search path.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipctk_test import (  # noqa: E402
    BASH_COMPLETION, BUILD_DIR, has_bash_completion, man_render, shell_env)
from test_docs import subcommands  # noqa: E402

TOOLS = ["sysv-shm", "sysv-sem", "shmctl-lock"]
MAN_PAGES = ["man1/%s.1" % t for t in TOOLS] + ["man7/ipctk.7"]

# A tool's completion files in the source tree, as bash-completion, zsh
# and fish name them.
COMPLETION_SOURCES = {
    "bash": lambda tool: "completions/bash/" + tool,
    "zsh": lambda tool: "completions/zsh/_" + tool,
    "fish": lambda tool: "completions/fish/%s.fish" % tool,
}

# The XDG base directory specification's XDG_DATA_DIRS when it is unset,
# which bash-completion assumes; fish 3.6 does not (it reads only its own
# /usr/share/fish/vendor_completions.d then: fish-shell issue #11349), so
# fish reads a /usr/local one only in sessions that set XDG_DATA_DIRS, as
# desktop sessions do.
XDG_DATA_DIRS_DEFAULT = ["/usr/local/share", "/usr/share"]

# Asks bash-completion's loader for a command that has no completion, with
# xtrace on: its `[[ -d DIR ]]` lines are the directories it searches.
BASH_SEARCHED = r"""
source "$1" >/dev/null 2>&1 || exit 3
set -x
__load_completion ipctk-no-such-command-$$
"""

# bash-completion loads a completion file only when a command is first
# completed, through the default completion (`complete -D`). Calls that
# loader for the tool ($2) as bash would on TAB, then prints the tool's
# completion spec, where its function comes from, and the words offered
# after "TOOL ".
BASH_AUTOLOAD = r"""
source "$1" >/dev/null 2>&1 || exit 3
tool=$2
loader=$(complete -p -D 2>/dev/null | sed -n 's/.*-F \([^ ]*\).*/\1/p')
[[ -n $loader ]] || exit 4
"$loader" "$tool"
spec=$(complete -p "$tool") || exit 5
func=$(sed -n 's/.*-F \([^ ]*\).*/\1/p' <<<"$spec")
printf 'spec %s\n' "$spec"
shopt -s extdebug
printf 'func %s\n' "$(declare -F "$func")"
COMP_WORDS=("$tool" "")
COMP_CWORD=1
COMP_LINE="$tool "
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$func" "$tool" "" "$tool" 2>/dev/null
printf 'offers %s\n' "${COMPREPLY[*]}"
"""


def meson_info(name):
    with open(os.path.join(BUILD_DIR, "meson-info", name)) as f:
        return json.load(f)


def under(base, rel):
    """`rel` (prefix-relative, as meson's datadir) under `base`."""
    return os.path.normpath(os.path.join(base, rel))


def pkg_config_dir(package, datadir):
    """`completionsdir` of a shell's .pc file with our datadir, as
    completions/meson.build asks for it; None without the .pc file."""
    if not shutil.which("pkg-config"):
        return None
    proc = subprocess.run(
        ["pkg-config", "--define-variable=datadir=" + datadir,
         "--variable=completionsdir", package],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def lines(text):
    return [line for line in text.splitlines() if line]


class InstallTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.destdir = tempfile.mkdtemp(prefix="ipctk-install-")
        meson = shutil.which("meson")
        if meson is None:
            shutil.rmtree(cls.destdir, ignore_errors=True)
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
                cls.files.add("/" + os.path.relpath(
                    os.path.join(root, name), cls.destdir))
        options = {o["name"]: o["value"]
                   for o in meson_info("intro-buildoptions.json")}
        # {file in the source or build tree: where it is installed}
        cls.install_plan = meson_info("intro-installed.json")
        cls.prefix = options["prefix"]
        cls.datadir = under(cls.prefix, options["datadir"])
        cls.mandir = under(cls.prefix, options["mandir"])
        cls.bindir = under(cls.prefix, options["bindir"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.destdir, ignore_errors=True)

    def in_destdir(self, path):
        """Where an installed `path` (absolute, as on the target) is."""
        return os.path.join(self.destdir, path.lstrip("/"))

    def installed_from(self, source):
        """Where the file `source` (relative to the source tree) was
        installed, as on the target; it must be in the DESTDIR."""
        planned = [dest for src, dest in self.install_plan.items()
                   if src.endswith("/" + source)]
        self.assertEqual(len(planned), 1, "meson installs %s %d times: %s"
                         % (source, len(planned), self.install_plan))
        self.assertIn(planned[0], self.files, "%s is not installed as %s" % (
            source, planned[0]))
        return planned[0]

    def completion_dir(self, shell):
        """The one directory the three tools' `shell` completion files
        were installed in (as on the target, without the DESTDIR)."""
        dirs = {os.path.dirname(self.installed_from(
            COMPLETION_SOURCES[shell](tool))) for tool in TOOLS}
        self.assertEqual(len(dirs), 1, "%s completions are in several "
                         "directories: %s" % (shell, sorted(dirs)))
        return dirs.pop()

    def run_shell(self, argv, **env):
        with tempfile.TemporaryDirectory(prefix="ipctk-home-") as home:
            e = shell_env(home, **env)
            # The installed tools, first.
            e["PATH"] = self.in_destdir(self.bindir) + os.pathsep + e["PATH"]
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=e,
                                  timeout=60, text=True)
        return proc

    # -- what is installed -------------------------------------------------

    def test_install_succeeds(self):
        self.assertEqual(self.rc, 0, self.output)

    def test_binaries(self):
        for tool in TOOLS:
            path = os.path.join(self.bindir, tool)
            self.assertIn(path, self.files)
            self.assertTrue(os.access(self.in_destdir(path), os.X_OK))

    def test_man_pages(self):
        for page in MAN_PAGES:
            self.assertIn(os.path.join(self.mandir, page), self.files)

    def test_completions(self):
        for shell, source in COMPLETION_SOURCES.items():
            for tool in TOOLS:
                path = self.installed_from(source(tool))
                self.assertEqual(os.path.basename(path),
                                 os.path.basename(source(tool)))

    # -- man(1) ------------------------------------------------------------

    @unittest.skipUnless(shutil.which("man"), "man is not installed")
    def test_installed_man_pages_render_without_warnings(self):
        for page in MAN_PAGES:
            with self.subTest(page=page):
                path = self.in_destdir(os.path.join(self.mandir, page))
                proc = man_render(path)
                self.assertEqual(proc.returncode, 0, "man -l %s failed: %s" % (
                    path, proc.stderr.decode(errors="replace")))
                self.assertEqual(proc.stderr.decode(errors="replace"), "",
                                 "man warns about the installed %s" % path)
                self.assertGreater(len(proc.stdout), 1000,
                                   "man -l %s renders next to nothing" % path)

    @unittest.skipUnless(shutil.which("manpath"), "man-db is not installed")
    def test_man_reads_the_man_directory(self):
        # man's search path as a user's PATH with our bindir gives it.
        env = {k: v for k, v in os.environ.items() if k != "MANPATH"}
        env["PATH"] = os.pathsep.join([self.bindir, "/usr/bin", "/bin"])
        proc = subprocess.run(["manpath", "-q"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        searched = proc.stdout.strip().split(":")
        self.assertIn(self.mandir, searched,
                      "man pages installed in %s, which man does not search"
                      " (manpath: %s)" % (self.mandir, searched))

    # -- bash-completion -----------------------------------------------------

    @unittest.skipUnless(has_bash_completion(),
                         "bash or bash-completion is not installed")
    def test_bash_dir_is_the_pkg_config_one(self):
        wanted = pkg_config_dir("bash-completion", self.datadir)
        if wanted is None:
            self.skipTest("no bash-completion.pc")
        self.assertEqual(self.completion_dir("bash"), wanted)

    def bash_searched(self):
        """The directories bash-completion's loader searches, in order
        (XDG_DATA_DIRS unset, as in a login on a console)."""
        proc = self.run_shell(["bash", "--norc", "--noprofile", "-c",
                               BASH_SEARCHED, "bash", BASH_COMPLETION],
                              XDG_DATA_DIRS=None)
        dirs = []
        for line in proc.stderr.splitlines():
            line = line.lstrip("+ ")
            if line.startswith("[[ -d ") and line.endswith(" ]]"):
                dirs.append(line[len("[[ -d "):-len(" ]]")])
        self.assertTrue(dirs, "found no directory bash-completion searches "
                        "(xtrace: %r)" % proc.stderr[-400:])
        return dirs

    @unittest.skipUnless(has_bash_completion(),
                         "bash or bash-completion is not installed")
    def test_bash_completion_searches_the_dir(self):
        installed = self.completion_dir("bash")
        searched = self.bash_searched()
        self.assertIn(installed, searched,
                      "bash completions installed in %s, which "
                      "bash-completion does not search: %s" % (
                          installed, searched))

    @unittest.skipUnless(has_bash_completion(),
                         "bash or bash-completion is not installed")
    def test_bash_completion_loads_the_installed_files(self):
        installed = self.completion_dir("bash")
        # The data directories it searches, moved under the DESTDIR.
        suffix = "/bash-completion/completions"
        xdg = []
        for d in self.bash_searched():
            if d.endswith(suffix) and self.in_destdir(d[:-len(suffix)]) not in xdg:
                xdg.append(self.in_destdir(d[:-len(suffix)]))
        for tool in TOOLS:
            with self.subTest(tool=tool):
                proc = self.run_shell(
                    ["bash", "--norc", "--noprofile", "-c", BASH_AUTOLOAD,
                     "bash", BASH_COMPLETION, tool],
                    XDG_DATA_DIRS=":".join(xdg))
                self.assertEqual(proc.returncode, 0, "%s: %r" % (
                    tool, proc.stderr[-400:]))
                out = dict(line.split(" ", 1) for line in lines(proc.stdout))
                func = out.get("func", "").split(" ", 2)
                self.assertEqual(len(func), 3, out)
                self.assertEqual(
                    func[2], self.in_destdir(os.path.join(installed, tool)),
                    "%s: bash-completion loaded %s, not the installed file"
                    " (%s)" % (tool, func[0], out))
                offered = out.get("offers", "").split()
                for sub in subcommands(tool):
                    self.assertIn(sub, offered, "%s: the installed file does "
                                  "not offer %s: %s" % (tool, sub, out))

    # -- zsh -----------------------------------------------------------------

    def zsh_fpath(self):
        proc = self.run_shell(["zsh", "-fc", "print -l $fpath"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return lines(proc.stdout)

    @unittest.skipUnless(shutil.which("zsh"), "zsh is not installed")
    def test_zsh_fpath_has_the_dir(self):
        installed = self.completion_dir("zsh")
        fpath = self.zsh_fpath()
        self.assertIn(installed, fpath,
                      "zsh completions installed in %s, which is not in "
                      "zsh's $fpath: %s" % (installed, fpath))

    @unittest.skipUnless(shutil.which("zsh"), "zsh is not installed")
    def test_zsh_compinit_loads_the_installed_files(self):
        installed = self.completion_dir("zsh")
        fpath = [self.in_destdir(d) if d == installed else d
                 for d in self.zsh_fpath()]
        script = "fpath=(%s)\nautoload -Uz compinit\ncompinit -u -D\n" % (
            " ".join("'%s'" % d for d in fpath))
        for tool in TOOLS:
            script += ("print -r -- %s $_comps[%s]\nautoload +X _%s\n"
                       "whence -v _%s\n" % (tool, tool, tool, tool))
        proc = self.run_shell(["zsh", "-fc", script])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = lines(proc.stdout)
        for tool in TOOLS:
            with self.subTest(tool=tool):
                self.assertIn("%s _%s" % (tool, tool), out,
                              "compinit did not bind %s to _%s: %s" % (
                                  tool, tool, out))
                self.assertIn("_%s is a shell function from %s" % (
                    tool, self.in_destdir(os.path.join(installed, "_" + tool))),
                    out)

    # -- fish ----------------------------------------------------------------

    @unittest.skipUnless(shutil.which("fish"), "fish is not installed")
    def test_fish_dir_is_the_pkg_config_one(self):
        wanted = pkg_config_dir("fish", self.datadir)
        if wanted is None:
            self.skipTest("no fish.pc")
        self.assertEqual(self.completion_dir("fish"), wanted)

    def fish_complete_path(self, xdg_data_dirs):
        proc = self.run_shell(["fish", "-c",
                               "printf '%s\\n' $fish_complete_path"],
                              XDG_DATA_DIRS=xdg_data_dirs)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return lines(proc.stdout)

    @unittest.skipUnless(shutil.which("fish"), "fish is not installed")
    def test_fish_complete_path_has_the_dir(self):
        installed = self.completion_dir("fish")
        path = self.fish_complete_path(":".join(XDG_DATA_DIRS_DEFAULT))
        self.assertIn(installed, path,
                      "fish completions installed in %s, which is not in "
                      "$fish_complete_path: %s" % (installed, path))
        proc = subprocess.run(["pkg-config", "--variable=prefix", "fish"],
                              stdout=subprocess.PIPE, text=True)
        if proc.returncode == 0 and proc.stdout.strip() == self.prefix:
            # fish's own prefix: read even without XDG_DATA_DIRS.
            path = self.fish_complete_path(None)
            self.assertIn(installed, path, "with XDG_DATA_DIRS unset")

    @unittest.skipUnless(shutil.which("fish"), "fish is not installed")
    def test_fish_loads_the_installed_files(self):
        installed = self.completion_dir("fish")
        xdg = ":".join(self.in_destdir(d) for d in XDG_DATA_DIRS_DEFAULT)
        for tool in TOOLS:
            with self.subTest(tool=tool):
                # fish autoloads the first TOOL.fish in $fish_complete_path.
                script = ("for d in $fish_complete_path\n"
                          "  test -f $d/%s.fish; and echo \"from $d\"; "
                          "and break\nend\ncomplete -C '%s '\n" % (tool, tool))
                proc = self.run_shell(["fish", "-c", script],
                                      XDG_DATA_DIRS=xdg)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(proc.stderr, "", tool)
                out = lines(proc.stdout)
                self.assertTrue(out, tool)
                self.assertEqual(out[0], "from " + self.in_destdir(installed))
                offered = {row.split("\t")[0] for row in out[1:]}
                for sub in subcommands(tool):
                    self.assertIn(sub, offered, "%s: fish does not offer %s "
                                  "from the installed file" % (tool, sub))


if __name__ == "__main__":
    unittest.main(verbosity=2)
