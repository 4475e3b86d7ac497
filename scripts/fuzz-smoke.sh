#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for a short time (default 4s
# each): a smoke test in CI; run with a longer time to fuzz for real.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-4s}"
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
  for t in $targets; do
    echo "fuzz $pkg $t ($fuzztime)"
    if ! go test "$pkg" -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" >/tmp/fuzz-$$.log 2>&1; then
      cat /tmp/fuzz-$$.log
      status=1
    fi
  done
done
rm -f /tmp/fuzz-$$.log
exit $status
