#!/bin/sh
# run_fuzzer.sh EXE NAME SEEDS BUILD_DIR SECONDS: runs one libFuzzer target
# for SECONDS on a fresh corpus <BUILD_DIR>/fuzz-corpus/NAME that starts
# from the seed corpus SEEDS (only read). Crash, leak, timeout and
# out-of-memory inputs go to <BUILD_DIR>/fuzz-artifacts/NAME; on failure
# their paths are printed with the command that reproduces them.
set -u
exe=$1 name=$2 seeds=$3 build=$4 seconds=$5
# meson may give EXE relative to the test's workdir, which is left below.
case $exe in /*) ;; *) exe=$PWD/$exe ;; esac
corpus=$build/fuzz-corpus/$name
artifacts=$build/fuzz-artifacts/$name
tmp=$build/fuzz-tmp/$name
rm -rf "$corpus" "$tmp"
mkdir -p "$corpus" "$artifacts" "$tmp" || exit 1
cd "$artifacts" || exit 1
: >.started
# Temporary files a target makes (fuzz_lock_segment's) stay in the build
# dir even when a crash ends it before it can remove them.
TMPDIR=$tmp "$exe" -artifact_prefix="$artifacts/" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$corpus" "$seeds"
status=$?
if [ "$status" -ne 0 ]; then
  echo "$name: libFuzzer ended with status $status" >&2
  for f in $(find "$artifacts" -type f -newer .started ! -name .started); do
    echo "$name: failing input: $f" >&2
    echo "$name: reproduce with: $exe $f" >&2
  done
  # libFuzzer ends with 77 after a deadly signal or a leak, which meson
  # would count as a skipped test.
  exit 1
fi
exit 0
