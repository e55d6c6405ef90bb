#!/usr/bin/env bash
# End-to-end checks of the qforge command line: exit codes, one-line errors, no partial output.
# Usage: cli_test.sh path/to/qforge path/to/shared
set -u
Q="$1"
SHARED="${2:-}"
fails=0; passes=0
expect() {  # expect STATUS DESCRIPTION -- command...
  local want="$1" desc="$2"; shift 3
  local out err status
  out=$("$@" 2>/tmp/qf_cli_err.$$); status=$?
  err=$(cat /tmp/qf_cli_err.$$)
  if [ "$status" != "$want" ]; then
    echo "FAIL: $desc: exit $status, wanted $want"; echo "  stderr: $err"; fails=$((fails+1))
  else
    passes=$((passes+1))
  fi
  LAST_OUT="$out"; LAST_ERR="$err"
}
expect_err_one_line() {
  local n; n=$(printf '%s' "$LAST_ERR" | grep -c '')
  if [ "$n" != 1 ]; then echo "FAIL: $1: stderr has $n lines: $LAST_ERR"; fails=$((fails+1)); else passes=$((passes+1)); fi
}

expect 0 "--help" -- "$Q" --help
expect 0 "--version" -- "$Q" --version
expect 2 "no subcommand" -- "$Q"
expect_err_one_line "no subcommand"
expect 2 "unknown flag" -- "$Q" --no-such-flag
expect_err_one_line "unknown flag"
expect 2 "unknown subcommand" -- "$Q" frobnicate
expect_err_one_line "unknown subcommand"

# Per-subcommand checks are appended by each command's author below.
for f in "$(dirname "$0")"/cli_test.d/*.sh; do
  [ -f "$f" ] && . "$f"
done
rm -f /tmp/qf_cli_err.$$
echo
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
