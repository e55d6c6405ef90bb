#!/usr/bin/env python3
"""llm-compressor (the peer) quantizes a Hugging Face model with one of its standard recipes, on CPU.

Dev tool for the side-by-side of the W8A8 issue (a peer measured in the same run, never a dependency);
run it from a throwaway venv with `pip install llmcompressor`:

    /tmp/llmc/bin/python scripts/peer/llmcompressor_oneshot.py HF_DIR OUT_DIR --scheme w8a8-sq-gptq \
        --calib ../shared/data/wikitext-2/wiki.valid.tokens --samples 32 --seqlen 512 [--seed 0]

Schemes (llm-compressor's own presets, as its examples use them):
  w8a8-sq-gptq  SmoothQuantModifier(smoothing_strength=0.5) + GPTQModifier(scheme="W8A8"): int8 weights per
                channel, int8 activations per token (dynamic); the examples' SmoothQuant+GPTQ recipe
  fp8-dynamic   QuantizationModifier(scheme="FP8_DYNAMIC"): FP8 E4M3 weights per channel, FP8 activations
                per token (no calibration data)
  w4a16-gptq    GPTQModifier(scheme="W4A16"): int4 symmetric weights, groups of 128
The classifier (lm_head) is left unquantized, as in llm-compressor's examples. Calibration: the file is
tokenized by the model's tokenizer (no special tokens) and `--samples` windows of `--seqlen` tokens are
taken at seeded random offsets, each starting with BOS (the same text qforge calibrates on; qforge picks
its own windows). The checkpoint is saved compressed (compressed-tensors), as vLLM and qforge read it.
"""
import argparse
import json
import os
import random
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--scheme", required=True, choices=["w8a8-sq-gptq", "fp8-dynamic", "w4a16-gptq"])
    ap.add_argument("--calib", required=True)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--seqlen", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier
    from llmcompressor.modifiers.smoothquant import SmoothQuantModifier

    torch.set_num_threads(a.threads)
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    text = open(a.calib, encoding="utf-8").read()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    rng = random.Random(a.seed)
    windows = []
    for _ in range(a.samples):
        off = rng.randrange(0, len(ids) - a.seqlen)
        w = [tok.bos_token_id] + ids[off:off + a.seqlen - 1]
        windows.append(w)
    ds = Dataset.from_dict({"input_ids": windows, "attention_mask": [[1] * len(w) for w in windows]})

    if a.scheme == "w8a8-sq-gptq":
        recipe = [SmoothQuantModifier(smoothing_strength=0.5),
                  GPTQModifier(targets="Linear", scheme="W8A8", ignore=["lm_head"])]
    elif a.scheme == "fp8-dynamic":
        recipe = QuantizationModifier(targets="Linear", scheme="FP8_DYNAMIC", ignore=["lm_head"])
    else:
        recipe = GPTQModifier(targets="Linear", scheme="W4A16", ignore=["lm_head"])
    t0 = time.time()
    oneshot(model=model, dataset=ds, recipe=recipe, max_seq_length=a.seqlen, num_calibration_samples=a.samples,
            shuffle_calibration_samples=False)
    seconds = time.time() - t0
    os.makedirs(a.out, exist_ok=True)
    model.save_pretrained(a.out, save_compressed=True)
    tok.save_pretrained(a.out)
    import llmcompressor
    with open(os.path.join(a.out, "peer_provenance.json"), "w") as f:
        json.dump({"tool": "llmcompressor", "version": llmcompressor.__version__, "scheme": a.scheme, "calib": a.calib,
                   "samples": a.samples, "seqlen": a.seqlen, "seed": a.seed, "threads": a.threads,
                   "seconds": round(seconds, 1)}, f, indent=1)
    print(f"{a.scheme}: {seconds:.1f} s -> {a.out}")


if __name__ == "__main__":
    main()
