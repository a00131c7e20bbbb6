#!/bin/sh
# spec/support/run_all.sh VERSION... - runs the whole spec suite once per interpreter.
#
#   sh spec/support/run_all.sh 5.4 5.3 5.2 5.1 luajit     (from the repository root)
#
# Each VERSION runs as `<interpreter> /usr/bin/busted --output=spec/support/summary.lua spec`
# (lua5.x, or luajit for "luajit") with the module built for it in build/<VERSION>/. Every
# interpreter runs even when an earlier one failed. At the end: one line per interpreter
# ("lua5.4: 260 passed, 0 failed, 0 skipped") and, last, exactly one aggregated line
# "N passed, N failed, N skipped", the line CI counts.
#
# An interpreter whose run prints no summary line (busted could not start, crashed, or was
# killed), or exits non-zero although its summary reports no failure, counts as 1 failed, so
# the closing line never reads as a clean run. A run that executed no test at all fails too.
# Exit status: 0 when every interpreter passed, 1 otherwise.

LUA_PATH=${LUA_PATH:-"lua/?.lua;lua/?/init.lua;spec/?.lua;server/?.lua;;"}
export LUA_PATH

log=$(mktemp "${TMPDIR:-/tmp}/koodrive-specs.XXXXXX") || exit 1
trap 'rm -f "$log" "$log.status"' EXIT
trap 'exit 130' INT TERM

total_passed=0 total_failed=0 total_skipped=0 lines="" bad=0
[ $# -gt 0 ] || { echo "run_all: no interpreter given (e.g. INTERPRETERS=\"5.4 luajit\")" >&2; bad=1; }

for v in "$@"; do
  case $v in
    luajit) lua=luajit ;;
    *) lua=lua$v ;;
  esac
  echo "== $lua"
  rm -f "$log.status"
  if [ ! -f "build/$v/koodrive/core.so" ] || [ ! -f "build/$v/koodrive/sign.so" ] ||
     [ ! -f "build/$v/koodrive/curl.so" ]; then
    echo "missing a module in build/$v/koodrive/ (make build/$v/koodrive/core.so)" >"$log"
    echo 127 >"$log.status"
  else
    # The status goes through a file: sh has no pipefail, and the output is shown as it comes.
    { LUA_CPATH="build/$v/?.so;;" "$lua" /usr/bin/busted --output=spec/support/summary.lua spec 2>&1
      echo $? >"$log.status"; } | tee "$log"
  fi
  status=$(cat "$log.status" 2>/dev/null)
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
  if [ -n "$summary" ]; then
    passed=$(echo "$summary" | cut -d' ' -f1)
    failed=$(echo "$summary" | cut -d' ' -f3)
    skipped=$(echo "$summary" | cut -d' ' -f5)
    line="$lua: $summary"
    if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
      failed=1
      line="$lua: $passed passed, 1 failed, $skipped skipped (busted exited with status $status)"
    elif [ $((passed + failed + skipped)) = 0 ]; then
      failed=1
      line="$lua: 0 passed, 1 failed, 0 skipped (no test ran)"
    fi
  else
    passed=0 failed=1 skipped=0
    line="$lua: 0 passed, 1 failed, 0 skipped (no summary line; exit status ${status:-unknown}: $(tail -n 1 "$log"))"
  fi
  [ "$failed" = 0 ] || bad=1
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  lines="$lines$line
"
done

echo
printf '%s' "$lines"
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
[ $((total_passed + total_failed + total_skipped)) -gt 0 ] || bad=1
exit $bad
