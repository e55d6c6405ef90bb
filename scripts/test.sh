#!/usr/bin/env bash
# The one test command (README, .ci/run): builds and runs the whole suite twice — release, then
# debug with AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${QFORGE_JOBS:-$(nproc)}"
for preset in release debug; do
  t0=$SECONDS
  echo "=== $preset: configure + build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  t1=$SECONDS
  echo "=== $preset: built in $((t1 - t0)) s; test"
  ctest --preset "$preset" -j "$jobs"
  echo "=== $preset: tests took $((SECONDS - t1)) s (whole script so far: $SECONDS s)"
done
