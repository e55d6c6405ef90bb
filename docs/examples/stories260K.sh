#!/usr/bin/env bash
# Regenerates docs/examples/stories260K/: the tradeoff matrix and report of `qforge compare` on
# stories260K, calibrated on the first 15,000 bytes of the TinyStories fragment and evaluated on the
# remaining bytes (disjoint). Run from anywhere; needs build/release/tools/qforge and ../shared.
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED="${QFORGE_SHARED:-../shared}"
mkdir -p build/examples
head -c 15000 "$SHARED/data/tinystories/tinystories_valid_fragment.txt" > build/examples/tinystories_calib.txt
tail -c +15001 "$SHARED/data/tinystories/tinystories_valid_fragment.txt" > build/examples/tinystories_eval.txt
build/release/tools/qforge compare "$SHARED/models/stories260K/hf" -o build/examples/stories260K \
  --calib build/examples/tinystories_calib.txt --text build/examples/tinystories_eval.txt \
  --ctx 256 --calib-samples 128 --calib-seqlen 256 --threads "${THREADS:-2}"
mkdir -p docs/examples/stories260K
cp build/examples/stories260K/{matrix.md,matrix.csv,matrix.json,report.html} docs/examples/stories260K/
