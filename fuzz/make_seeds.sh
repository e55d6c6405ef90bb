#!/usr/bin/env bash
# Seed inputs for the fuzz targets, derived from real files: ../shared's models and tokenizers, the
# committed matrices, and checkpoints, manifests and a log-probability file that qforge itself writes.
# Deterministic (the same files every run), so CTest's replay sweep is too.
#   fuzz/make_seeds.sh OUT SHARED [QFORGE [REAL_GGUF...]]
# OUT/TARGET/ gets each target's seeds (OUT is emptied first). Without QFORGE the checkpoint,
# manifest, logit_cache and imatrix seeds are thinner. REAL_GGUF: the first 4 MiB (metadata and tensor infos)
# of each real model file named.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ "$#" -ge 2 ] || { echo "usage: make_seeds.sh OUT SHARED [QFORGE [REAL_GGUF...]]"; exit 2; }
S="$1"; SHARED="$2"; Q="${3:-}"
shift 2; [ "$#" -gt 0 ] && shift
REAL=("$@")
cd "$ROOT"
ALL=(gguf safetensors config_json tokenizer_json tokenizer_files llama2c checkpoint matrix manifest logit_cache imatrix)
rm -rf "$S" && mkdir -p "$S"
for t in "${ALL[@]}"; do mkdir -p "$S/$t"; done
M="$SHARED/models"
[ -d "$M" ] || { echo "make_seeds: $M is missing (the seed corpora come from ../shared/models)"; exit 2; }
lenpre() {  # lenpre FIRST REST > out: FIRST prefixed with its u32 LE length, then REST
  python3 -c 'import struct,sys; a=open(sys.argv[1],"rb").read(); b=open(sys.argv[2],"rb").read(); sys.stdout.buffer.write(struct.pack("<I",len(a))+a+b)' "$1" "$2"
}
cp "$M/stories260K/stories260K.gguf" "$M"/gguf-vocab/*.gguf "$S/gguf/"
for f in "${REAL[@]}"; do  # the real models: their headers (metadata + tensor infos), not their data
  head -c 4194304 "$f" > "$S/gguf/head-$(basename "$f")"
done
cp "$M/stories260K/hf/model.safetensors" "$S/safetensors/stories260K.safetensors"
cp "$M/stories260K/hf/config.json" "$S/config_json/stories260K.json"
cp "$M/stories260K/stories260K.bin" "$S/llama2c/"
cp docs/matrices/*.json "$S/matrix/"
printf '{"configs": [{"method": "gptq", "bits": 4, "group_size": 32, "act_order": true}], "baseline": true, "metrics": ["ppl", "kld"]}' > "$S/matrix/small.json"
{ printf '\x00'; cat "$M/llama2-tokenizer/tokenizer.model"; } > "$S/tokenizer_files/spm-llama2.bin"
{ printf '\x00'; cat "$M/stories260K/hf/tokenizer.model"; } > "$S/tokenizer_files/spm-stories.bin"
{ printf '\x01'; cat "$M/stories260K/tok512.bin"; } > "$S/tokenizer_files/llama2c-tok512.bin"
{ printf '\x02'; lenpre "$M/gpt2-tokenizer/vocab.json" "$M/gpt2-tokenizer/merges.no_version_header.txt"; } > "$S/tokenizer_files/gpt2.bin"
# tokenizer.json seeds: GPT-2's byte-level BPE, and a Llama-style one with byte fallback.
python3 - "$M/gpt2-tokenizer" "$S/tokenizer_json" <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
vocab = json.load(open(os.path.join(src, "vocab.json")))
merges = [l.rstrip("\n") for l in open(os.path.join(src, "merges.no_version_header.txt")) if l.strip()]
small = dict(list(vocab.items())[:2000]); merges = merges[:1500]
gpt2 = {"version": "1.0", "added_tokens": [{"id": 0, "content": "<|endoftext|>", "special": True, "single_word": False,
        "lstrip": False, "rstrip": False, "normalized": False}], "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None, "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": small, "merges": merges, "dropout": None, "unk_token": None,
                  "byte_fallback": False}}
json.dump(gpt2, open(os.path.join(out, "gpt2.json"), "w"))
llama_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for b in range(256): llama_vocab[f"<0x{b:02X}>"] = len(llama_vocab)
for p in ["\u2581", "h", "e", "l", "o", "w", "r", "d", "\u2581h", "he", "ll", "lo", "\u2581w", "or", "ld"]:
    llama_vocab.setdefault(p, len(llama_vocab))
llama = {"version": "1.0", "added_tokens": [{"id": 1, "content": "<s>", "special": True}, {"id": 2, "content": "</s>", "special": True}],
         "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
         "pre_tokenizer": None,
         "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                     {"Sequence": {"id": "A", "type_id": 0}}]},
         "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                      {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
         "model": {"type": "BPE", "vocab": llama_vocab, "merges": ["\u2581 h", "h e", "l l", "l o", "\u2581 w", "o r", "l d"],
                   "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True}}
json.dump(llama, open(os.path.join(out, "llama.json"), "w"))
PY
# Checkpoints, manifests and a log-probability file made by qforge itself from stories260K.
if [ -n "$Q" ]; then
  [ -x "$Q" ] || { echo "make_seeds: $Q is not an executable"; exit 2; }
  T=$(mktemp -d)
  # The GPTQ / AWQ layouts, and compressed-tensors: pack-quantized (GPTQ 4-bit), int-quantized (W8A8
  # static and dynamic), float-quantized (FP8 W8A8).
  for m in rtn gptq awq ct-gptq ct-w8a8-static ct-w8a8-dynamic ct-fp8; do
    case $m in
      ct-gptq) margs=(--method gptq --bits 4 --group-size 4 --sym --format compressed-tensors) ;;
      ct-w8a8-static) margs=(--method w8a8 --activations static) ;;
      ct-w8a8-dynamic) margs=(--method smoothquant --activations dynamic) ;;
      ct-fp8) margs=(--method fp8 --activations dynamic) ;;
      *) margs=(--method $m --bits 4 --group-size 32) ;;
    esac
    "$Q" quantize "$M/stories260K/hf" -o "$T/$m" "${margs[@]}" \
      --calib "$SHARED/data/tinystories/tinystories_valid_fragment.txt" --calib-samples 4 --calib-seqlen 32 --threads 1 > /dev/null 2>&1 \
      || { echo "make_seeds: qforge quantize $m failed"; exit 1; }
    if [ -f "$T/$m/model.safetensors" ]; then
      lenpre "$T/$m/config.json" "$T/$m/model.safetensors" > "$S/checkpoint/$m.bin"
      cp "$T/$m/model.safetensors" "$S/safetensors/$m.safetensors"
      cp "$T/$m/config.json" "$S/config_json/$m.json"
      cp "$T/$m/qforge-manifest.json" "$S/manifest/$m.json"
    fi
  done
  "$Q" imatrix "$M/stories260K/stories260K.gguf" -o "$S/imatrix/qforge-stories260K.gguf" \
    --calib "$SHARED/data/tinystories/tinystories_valid_fragment.txt" --calib-samples 4 --calib-seqlen 32 --threads 1 > /dev/null 2>&1 \
    || { echo "make_seeds: qforge imatrix failed"; exit 1; }
  "$Q" eval "$M/stories260K/hf" --baseline "$M/stories260K/hf" --text "$SHARED/data/tinystories/tinystories_valid_fragment.txt" \
    --ctx 64 --max-chunks 2 --cache-dir "$T/cache" --threads 1 > /dev/null 2>&1 \
    || { echo "make_seeds: qforge eval failed"; exit 1; }
  for f in "$T"/cache/*; do [ -f "$f" ] && cp "$f" "$S/logit_cache/"; done
  rm -rf "$T"
fi
lenpre "$M/stories260K/hf/config.json" "$M/stories260K/hf/model.safetensors" > "$S/checkpoint/stories260K.bin"
# A legacy (.dat) imatrix as llama-imatrix wrote them before GGUF: two entries, a chunk count, a dataset.
python3 - "$S/imatrix/legacy.dat" <<'PY'
import struct, sys
out = open(sys.argv[1], "wb")
entries = [("blk.0.attn_q.weight", 3, [0.5 * (i + 1) for i in range(64)]), ("blk.0.ffn_down.weight", 2, [1.0] * 172)]
out.write(struct.pack("<i", len(entries)))
for name, ncall, vals in entries:
    b = name.encode()
    out.write(struct.pack("<i", len(b)) + b + struct.pack("<ii", ncall, len(vals)) + struct.pack(f"<{len(vals)}f", *vals))
ds = b"tinystories_valid_fragment.txt"
out.write(struct.pack("<i", 7) + struct.pack("<i", len(ds)) + ds)
PY

