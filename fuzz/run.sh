#!/bin/sh
# fuzz/run.sh DIR SECONDS "LIBFUZZER FLAGS" TARGET... - `make fuzz`: runs each built target
# DIR/fuzz_<target> for SECONDS (-max_total_time), one after the other, from the repository root.
#
# Inputs: the committed seeds fuzz/corpus/<target>/ (read only) and the working corpus
# DIR/corpus/<target>/ (kept between runs, so later runs start from what earlier ones found).
# A crash, sanitizer report, leak, timeout or broken invariant stops that target; its input is
# saved as DIR/crashes/<target>-crash-<sha1> (reproduce: DIR/fuzz_<target> FILE). The full
# libFuzzer output is DIR/<target>.log; shown here are the final stats, or the report.
# Exit status 1 when any target failed (all targets still run).

dir=$1 seconds=$2 flags=$3
shift 3
[ $# -gt 0 ] || { echo "usage: fuzz/run.sh DIR SECONDS FLAGS TARGET..." >&2; exit 2; }

bad=""
for t in "$@"; do
  bin="$dir/fuzz_$t"
  mkdir -p "$dir/corpus/$t" "$dir/crashes"
  log="$dir/$t.log"
  echo "== fuzz $t: ${seconds}s"
  # The target reads its script from the repository, so it runs from anywhere; the kill
  # margin covers a slow final input on top of -max_total_time.
  # shellcheck disable=SC2086
  timeout --kill-after=10 $((seconds + 120)) "$bin" -max_total_time="$seconds" $flags \
    -artifact_prefix="$dir/crashes/$t-" "$dir/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
  status=$?
  if [ "$status" = 0 ]; then
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log" | sed 's/^/   /'
    grep -aE '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -n 1 | sed 's/^/   /'
  else
    echo "   FAILED (exit status $status); last lines of $log:"
    grep -avE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|RELOAD)' "$log" | tail -n 40 | sed 's/^/   /'
    bad="$bad $t"
  fi
done

if [ -n "$bad" ]; then
  echo "fuzz: failed:$bad (inputs in $dir/crashes/)"
  exit 1
fi
echo "fuzz: $# targets ran ${seconds}s each, nothing found"
