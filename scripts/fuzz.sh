#!/usr/bin/env bash
# Fuzzes qforge's loaders with libFuzzer under AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/fuzz.sh [SECONDS] [TARGET...]    SECONDS per target (default 60); all targets by default
#   QFORGE_FUZZ_PARALLEL=N runs N targets at a time (default 1).
# Builds the "fuzz" preset (clang-14), makes seed corpora from ../shared/models (and models/ when
# scripts/get-models.sh has fetched the real models), runs each target for SECONDS, and prints a
# Markdown table: executions, coverage (edges), corpus size and crashes per target. The growing corpus
# stays in build/fuzz/corpus/TARGET between runs; crash inputs go to build/fuzz/crashes/. Exit status
# 1 when any target crashed (or leaked, or ran out of memory / time on one input).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER="${1:-60}"
shift || true
SHARED="${QFORGE_SHARED:-$(cd .. && pwd)/shared}"
B=build/fuzz
ALL=(gguf safetensors config_json tokenizer_json tokenizer_files llama2c checkpoint matrix manifest logit_cache imatrix)
TARGETS=("${@:-${ALL[@]}}")
[ "$#" -gt 0 ] && TARGETS=("$@") || TARGETS=("${ALL[@]}")

scripts/setup.sh --fuzz
cmake --preset fuzz > /dev/null
cmake --build --preset fuzz -j "${QFORGE_JOBS:-$(nproc)}" > "$B/build.log" 2>&1 || { tail -30 "$B/build.log"; exit 2; }

# ---- seed corpora (rebuilt each run; small, derived from real files) ----
S="$B/seeds"
mkdir -p "$B/crashes"
for t in "${ALL[@]}"; do mkdir -p "$B/corpus/$t"; done
real=()
for f in models/*.gguf; do [ -f "$f" ] && real+=("$f"); done
Q=build/release/tools/qforge
if [ ! -x "$Q" ]; then
  echo "fuzz: $Q is not built; the checkpoint/manifest/logit_cache seeds are thinner (cmake --build --preset release)"
  Q=""
fi
fuzz/make_seeds.sh "$S" "$SHARED" "$Q" "${real[@]}"

# ---- run ----
# QFORGE_FUZZ_PARALLEL targets at a time (default 1; one core each): each writes its table row and exit
# status beside its log, and the rows are printed in target order at the end.
parallel="${QFORGE_FUZZ_PARALLEL:-1}"
run_target() {
  local t=$1 log="$B/fuzz_$1.log" before after rc execs cov ft corpus crashes
  before=$(ls "$B/crashes" | grep -c "^$t-" || true)
  set +e
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$B/fuzz/fuzz_$t" "$B/corpus/$t" "$S/$t" -max_total_time="$SECONDS_PER" -timeout=30 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$B/crashes/$t-" > "$log" 2>&1
  rc=$?
  set -e
  after=$(ls "$B/crashes" | grep -c "^$t-" || true)
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  cov=$(grep -oE '(DONE|pulse|NEW|REDUCE|INITED) +cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | awk '{print $3}')
  ft=$(grep -oE '(DONE|pulse|NEW|REDUCE|INITED) +cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | awk '{print $5}')
  corpus=$(ls "$B/corpus/$t" | wc -l)
  crashes=$((after - before))
  echo "| $t | $SECONDS_PER | ${execs:-?} | ${cov:-?} | ${ft:-?} | $corpus | $crashes |" > "$B/row_$t.md"
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then echo 1 > "$B/rc_$t"; else echo 0 > "$B/rc_$t"; fi
}
for t in "${TARGETS[@]}"; do
  rm -f "$B/row_$t.md" "$B/rc_$t"
  run_target "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
done
wait
echo "| target | seconds | executions | coverage (edges) | features | corpus | crashes |"
echo "|---|---|---|---|---|---|---|"
status=0
for t in "${TARGETS[@]}"; do
  cat "$B/row_$t.md"
  if [ "$(cat "$B/rc_$t" 2>/dev/null || echo 1)" != 0 ]; then
    status=1
    echo "fuzz: $t failed; log $B/fuzz_$t.log:" >&2
    grep -E "ERROR|SUMMARY|runtime error|#[0-9]+ 0x" "$B/fuzz_$t.log" | head -20 >&2
  fi
done
exit $status
