#!/bin/sh
# run_fuzzer.sh EXE NAME SEEDS BUILD_DIR SECONDS: runs one libFuzzer target
# for SECONDS on a fresh corpus <BUILD_DIR>/fuzz-corpus/NAME that starts
# from the seed corpus SEEDS (only read). Crash, leak, timeout and
# out-of-memory inputs go to <BUILD_DIR>/fuzz-artifacts/NAME; on failure
# their paths are printed with the command that reproduces them. The
# output is kept in <BUILD_DIR>/fuzz-logs/NAME.log, printed at the end,
# and summed up in one line: "NAME: summary: N runs, cov ..., ft ...".
set -u
exe=$1 name=$2 seeds=$3 build=$4 seconds=$5
# meson may give EXE relative to the test's workdir, which is left below.
case $exe in /*) ;; *) exe=$PWD/$exe ;; esac
corpus=$build/fuzz-corpus/$name
artifacts=$build/fuzz-artifacts/$name
tmp=$build/fuzz-tmp/$name
log=$build/fuzz-logs/$name.log
rm -rf "$corpus" "$tmp"
mkdir -p "$corpus" "$artifacts" "$tmp" "$build/fuzz-logs" || exit 1
cd "$artifacts" || exit 1
: >.started
echo "$name: $seconds s, output in $log"
# Temporary files a target makes (fuzz_lock_segment's) stay in the build
# dir even when a crash ends it before it can remove them.
TMPDIR=$tmp "$exe" -artifact_prefix="$artifacts/" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$corpus" "$seeds" >"$log" 2>&1
status=$?
cat "$log"
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
# "#5939118 DONE cov: 571 ft: 953 corp: 182/3341b lim: 4096 exec/s: 97362 ..."
sed -n 's/^#\([0-9]*\)[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\)\/\([0-9a-zA-Z]*\) .*exec\/s: \([0-9]*\).*/'"$name"': summary: \1 runs, cov \2, ft \3, corpus \4 inputs (\5), \6 exec\/s/p' "$log"
exit 0
