#!/usr/bin/env bash
# Runs every native Go fuzz target of the repository for FUZZTIME each
# (default 1m), one after the other; a crash stops the run and leaves its
# input in the package's testdata/fuzz/<Target>/ (commit it: it becomes a
# regression test that `go test` runs).
#   FUZZTIME=10m make fuzz        FUZZ_PKGS=./train/weights make fuzz
set -euo pipefail
fuzztime=${FUZZTIME:-1m}
pkgs=${FUZZ_PKGS:-./...}
for pkg in $(go list "$pkgs"); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== $pkg $target ($fuzztime)"
    # -fuzzminimizetime: minimizing each new input may take 60 s by default,
    # and those executions are not in the progress count; 5 s keeps a
    # campaign fuzzing.
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s 2>&1 | tail -3
  done
done
