#!/usr/bin/env bash
# Produces the weight-only quantization table of docs/results.md with qforge itself: stories260K
# quantized by RTN / GPTQ / AWQ / AWQ+GPTQ at 8, 4, 3 and 2 bits with group sizes 32 and 64,
# calibrated on the first 15,000 bytes of the TinyStories fragment and evaluated (llama.cpp
# perplexity protocol, ctx 256) on the rest, so calibration and evaluation text are disjoint.
#   scripts/quant_table.sh [QFORGE_BINARY] > table.md
set -euo pipefail
cd "$(dirname "$0")/.."
QF="${1:-build/release/tools/qforge}"
SHARED="${QFORGE_SHARED:-../shared}"
MODEL="$SHARED/models/stories260K/hf"
FRAG="$SHARED/data/tinystories/tinystories_valid_fragment.txt"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
head -c 15000 "$FRAG" > "$WORK/calib.txt"
tail -c +15001 "$FRAG" > "$WORK/eval.txt"
SAMPLES="${SAMPLES:-128}"
SEQLEN="${SEQLEN:-256}"

json() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }

ppl_of() {
  "$QF" ppl "$1" --text "$WORK/eval.txt" --ctx 256 --json --threads "${THREADS:-0}"
}

model_bytes() { du -cb "$1"/*.safetensors | tail -1 | cut -f1; }

echo "| method | bits | group | size (bytes) | bits/weight (linears) | rel. output error (calib) | PPL (eval) | ± |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
p="$(ppl_of "$MODEL")"
echo "| fp32 | 32 | - | $(model_bytes "$MODEL") | 32.00 | 0 | $(printf %.4f "$(json "$p" ppl)") | $(printf %.4f "$(json "$p" stderr)") |"
for bits in 8 4 3 2; do
  for group in 32 64; do
    for method in rtn gptq awq awq+gptq; do
      out="$WORK/${method}_${bits}_${group}"
      q="$("$QF" quantize "$MODEL" -o "$out" --method "$method" --bits "$bits" --group-size "$group" --asym \
            --calib "$WORK/calib.txt" --calib-samples "$SAMPLES" --calib-seqlen "$SEQLEN" --seed 0 \
            --threads "${THREADS:-0}" --json 2>/dev/null)"
      p="$(ppl_of "$out")"
      printf '| %s | %s | %s | %s | %.3f | %.4f | %.4f | %.4f |\n' "$method" "$bits" "$group" "$(model_bytes "$out")" \
        "$(json "$q" linear_bits_per_weight)" "$(json "$q" total_error)" "$(json "$p" ppl)" "$(json "$p" stderr)"
      rm -rf "$out"
    done
  done
done
echo
echo "Calibration: $SAMPLES segments of $SEQLEN tokens (seed 0) from the first 15,000 bytes of $(basename "$FRAG");"
echo "evaluation: \`qforge ppl --ctx 256\` (llama.cpp protocol) on the remaining bytes. Asymmetric grids, f16 scales."
