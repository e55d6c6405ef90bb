#!/usr/bin/env bash
# qforge vs llama.cpp on the same GGUF files, same threads, same prompt and generated lengths, in one
# run, with the machine's read bandwidth measured in the same run:
#   prefill tokens/s at P prompt tokens, decode tokens/s over G new tokens (greedy), each the median of
#   REPS runs after a warm-up (qforge: `qforge eval --reps`; llama.cpp: bench/peer/llamacpp_speed.py,
#   the same protocol through llama-cpp-python), and qforge's / llama.cpp's decode GB/s of weights
#   (bytes of the weights one token reads -- every tensor but the token embedding, which is read as
#   the output head only when the model ties them -- divided by the time per token) against the read
#   bandwidth of bench/bench_bandwidth.cc.
#
# llama.cpp is a development reference: it is installed with pip (llama-cpp-python builds it from
# source, -DGGML_NATIVE=ON) into a throwaway venv outside the repository ($QFORGE_PEER_VENV, default
# /tmp/qforge-peer), never into qforge.
#
# Usage: bench/vs_llamacpp.sh [--threads N] [--prompt P] [--gen G] [--reps R] [--out FILE.md]
#                             [--qforge-args "ARGS"] MODEL.gguf...
# --qforge-args: extra flags for `qforge eval` (e.g. "--matmul int8"). QFORGE_BIN: another qforge
# binary (e.g. an earlier build, for a before/after table). Default models: the three of
# scripts/get-models.sh. Needs build/release (scripts/setup.sh).
# Nothing else should run while it measures: it prints the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=$(nproc) prompt=512 gen=128 reps=3 out="" qf_args=""
models=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --gen) gen=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --qforge-args) qf_args=$2; shift 2 ;;
    -h|--help) sed -n "2,23p" "$0"; exit 0 ;;
    -*) echo "vs_llamacpp: unknown flag '$1'" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
if [[ ${#models[@]} -eq 0 ]]; then
  models=(models/gemma-3-270m-q4_k_m.gguf models/qwen2.5-coder-0.5b-instruct.gguf models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf)
fi
qforge=${QFORGE_BIN:-build/release/tools/qforge}
bw_bin=build/release/bench/qforge_bench_bandwidth
text=${QFORGE_TEXT:-../shared/data/wikitext-2-raw/wiki.test.raw}
for f in "$qforge" "$bw_bin"; do
  [[ -x $f ]] || { echo "vs_llamacpp: $f is missing: run scripts/setup.sh first" >&2; exit 2; }
done
[[ -f $text ]] || { echo "vs_llamacpp: prompt text $text is missing (set QFORGE_TEXT)" >&2; exit 2; }
for m in "${models[@]}"; do
  [[ -f $m ]] || { echo "vs_llamacpp: model $m is missing (scripts/get-models.sh fetches the default three)" >&2; exit 2; }
done

venv=${QFORGE_PEER_VENV:-/tmp/qforge-peer}
# llama.cpp is built for this CPU's SIMD features, named one by one rather than -march=native: with
# native, ggml also compiles its AMX kernels where the CPU reports AMX, and those crash in a VM that
# does not grant the AMX tile state (SIGSEGV in ggml_backend_amx_mul_mat, seen here). Everything else
# llama.cpp does on the CPU (its repacked Q4_0/IQ4_NL layouts, AVX-512 / VNNI dot products) stays on.
if ! "$venv/bin/python" -c "import llama_cpp, numpy" 2>/dev/null; then
  flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  has() { grep -qw "$1" /proc/cpuinfo; }
  has avx512f && flags+=" -DGGML_AVX512=ON"
  has avx512_vnni && flags+=" -DGGML_AVX512_VNNI=ON"
  has avx512vbmi && flags+=" -DGGML_AVX512_VBMI=ON"
  has avx512_bf16 && flags+=" -DGGML_AVX512_BF16=ON"
  has avx_vnni && flags+=" -DGGML_AVX_VNNI=ON"
  echo "vs_llamacpp: installing llama-cpp-python into $venv ($flags; builds llama.cpp from source, minutes)" >&2
  python3 -m venv "$venv"
  CMAKE_ARGS="$flags" "$venv/bin/pip" install --no-cache-dir llama-cpp-python numpy >&2
fi
peer_version=$("$venv/bin/python" -c "import llama_cpp; print(llama_cpp.__version__)")

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
bw_json=$("$bw_bin" --threads "$threads")
read_bw=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['read_GBps'])" "$bw_json")

rows=()
for m in "${models[@]}"; do
  echo "vs_llamacpp: $m" >&2
  weights=$("$qforge" inspect "$m" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = {x["name"]: x["bytes"] for x in d["tensors"]}
emb = t.get("model.embed_tokens.weight", 0)
print(sum(t.values()) - (emb if "lm_head.weight" in t else 0))')
  qf=$("$qforge" eval "$m" --text "$text" --ctx 64 --max-chunks 1 --protocol llamacpp --prompt-tokens "$prompt" \
       --gen-tokens "$gen" --reps "$reps" --threads "$threads" --json --quiet $qf_args)
  lc=$("$venv/bin/python" bench/peer/llamacpp_speed.py "$m" --text "$text" --prompt-tokens "$prompt" \
       --gen-tokens "$gen" --reps "$reps" --threads "$threads")
  rows+=("$(python3 bench/peer/speed_row.py "$qf" "$lc" "$weights" "$read_bw" "$m")")
done

{
  # The tree names the binary's sources only for the default build; QFORGE_BIN is whatever it was built from.
  if [[ -n ${QFORGE_BIN:-} ]]; then src="QFORGE_BIN; this script's tree $(git rev-parse --short HEAD)"; else src="tree $(git rev-parse --short HEAD)"; fi
  echo "qforge ($qforge${qf_args:+ $qf_args}; $src) vs llama.cpp (llama-cpp-python $peer_version), $threads threads, prompt $prompt, gen $gen, median of $reps"
  echo "read bandwidth (same run, $threads threads): $read_bw GB/s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| model | weights read/token (MB) | qforge prefill tok/s | llama.cpp prefill tok/s | ratio | qforge decode tok/s | llama.cpp decode tok/s | ratio | qforge decode GB/s (of read BW) | llama.cpp decode GB/s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee ${out:+"$out"}
