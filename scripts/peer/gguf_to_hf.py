#!/usr/bin/env python3
"""Dequantize a GGUF (gemma3 or qwen2) into a Hugging Face directory in f32.

Dev tool for peer comparisons; it runs in a python environment with torch,
transformers, gguf, numpy and safetensors (not the project's own build).

    python scripts/peer/gguf_to_hf.py MODEL.gguf OUT_DIR [--no-verify]

It uses transformers' own GGUF loading (AutoModelForCausalLM / AutoTokenizer
with gguf_file=...), which dequantizes every tensor, undoes llama.cpp's
converter conventions (Gemma's RMSNorm weights are stored as 1+w) and builds
config.json (Gemma3ForCausalLM / gemma3_text, Qwen2ForCausalLM) and a fast
tokenizer; the model is saved with save_pretrained as f32 safetensors.

Unless --no-verify is given, it then re-reads a handful of tensors from the
GGUF with the gguf package's own dequantizer and checks that the saved
safetensors hold exactly those values (norms shifted by one for Gemma), and
that the saved tokenizer encodes a probe text to the same ids as the loaded
one.
"""
import argparse
import json
import os
import sys

import numpy as np


def hf_name(gguf_name, n_layers, arch):
    """Map the GGUF tensor names checked by verify() to the HF names."""
    fixed = {
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    }
    if gguf_name in fixed:
        return fixed[gguf_name]
    blk, i, rest = gguf_name.split(".", 2)
    assert blk == "blk" and int(i) < n_layers
    per_layer = {
        "attn_q.weight": "self_attn.q_proj.weight",
        "attn_k.weight": "self_attn.k_proj.weight",
        "attn_v.weight": "self_attn.v_proj.weight",
        "attn_output.weight": "self_attn.o_proj.weight",
        "attn_q.bias": "self_attn.q_proj.bias",
        "attn_k.bias": "self_attn.k_proj.bias",
        "attn_v.bias": "self_attn.v_proj.bias",
        "attn_q_norm.weight": "self_attn.q_norm.weight",
        "attn_k_norm.weight": "self_attn.k_norm.weight",
        "ffn_gate.weight": "mlp.gate_proj.weight",
        "ffn_up.weight": "mlp.up_proj.weight",
        "ffn_down.weight": "mlp.down_proj.weight",
        "attn_norm.weight": "input_layernorm.weight",
        "post_attention_norm.weight": "post_attention_layernorm.weight",  # gemma3
        "post_ffw_norm.weight": "post_feedforward_layernorm.weight",  # gemma3
    }
    if rest == "ffn_norm.weight":  # the norm in front of the MLP
        rest_hf = "pre_feedforward_layernorm.weight" if arch == "gemma3" else "post_attention_layernorm.weight"
        return f"model.layers.{i}.{rest_hf}"
    return f"model.layers.{i}.{per_layer[rest]}"


def verify(gguf_path, out_dir, arch, n_layers):
    from gguf import GGUFReader
    from gguf.quants import dequantize
    from safetensors import safe_open

    index = os.path.join(out_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
    else:
        weight_map = None

    def load_hf(name):
        fname = weight_map[name] if weight_map else "model.safetensors"
        with safe_open(os.path.join(out_dir, fname), "np") as f:
            return f.get_tensor(name)

    reader = GGUFReader(gguf_path)
    tensors = {t.name: t for t in reader.tensors}
    last = n_layers - 1
    names = ["token_embd.weight", "output_norm.weight", "output.weight"]
    for i in (0, last):
        names += [f"blk.{i}.{n}" for n in (
            "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
            "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "attn_norm.weight")]
        if arch == "gemma3":
            names += [f"blk.{i}.{n}" for n in (
                "attn_q_norm.weight", "attn_k_norm.weight",
                "post_attention_norm.weight", "ffn_norm.weight", "post_ffw_norm.weight")]
        else:
            names += [f"blk.{i}.{n}" for n in ("attn_q.bias", "ffn_norm.weight")]
    checked = 0
    for name in names:
        if name not in tensors:
            if name == "output.weight":
                print("verify: no output.weight in the GGUF (tied embeddings)")
                continue
            raise SystemExit(f"verify: {name} missing from {gguf_path}")
        t = tensors[name]
        want = dequantize(t.data, t.tensor_type).astype(np.float32)
        want = want.reshape(tuple(int(d) for d in reversed(t.shape)))
        if arch == "gemma3" and name.endswith("norm.weight"):
            # llama.cpp's converter stores Gemma's RMSNorm weights as 1 + w.
            want = want - 1.0
        hname = hf_name(name, n_layers, arch)
        got = load_hf(hname)
        if got.shape != want.shape:
            raise SystemExit(f"verify: {name} -> {hname}: shape {got.shape} != {want.shape}")
        if got.dtype != np.float32:
            raise SystemExit(f"verify: {hname} is {got.dtype}, not float32")
        diff = float(np.max(np.abs(got - want))) if want.size else 0.0
        if diff > 1e-6:
            raise SystemExit(f"verify: {name} -> {hname}: max |diff| {diff}")
        checked += 1
    print(f"verify: {checked} tensors match the gguf package's dequantization exactly "
          f"(max |diff| <= 1e-6)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gguf", help="the .gguf file")
    ap.add_argument("out", help="output directory (created)")
    ap.add_argument("--no-verify", action="store_true", help="skip the tensor check")
    args = ap.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = os.path.abspath(args.gguf)
    d, f = os.path.split(gguf_path)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model.eval()
    cfg = model.config
    print(f"loaded {type(model).__name__} model_type={cfg.model_type} "
          f"layers={cfg.num_hidden_layers} hidden={cfg.hidden_size} vocab={cfg.vocab_size} "
          f"tie_word_embeddings={getattr(cfg, 'tie_word_embeddings', None)}")
    for p in model.parameters():
        if p.dtype != torch.float32:
            raise SystemExit(f"parameter of dtype {p.dtype}; expected float32")
    # The tensors are plain f32 by now; transformers still marks a GGUF-loaded
    # model as "quantized with gguf" and refuses to save it, so drop the mark.
    model.hf_quantizer = None
    for c in (model.config, getattr(model.config, "text_config", None)):
        if c is not None and hasattr(c, "quantization_config"):
            delattr(c, "quantization_config")
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tok.save_pretrained(args.out)
    with open(os.path.join(args.out, "SOURCE.txt"), "w") as fh:
        fh.write(f"dequantized from {gguf_path} by scripts/peer/gguf_to_hf.py "
                 f"(transformers {transformers.__version__}, torch {torch.__version__})\n")
    print(f"wrote {args.out}")

    probe = "The capital of France is Paris.\n def fibonacci(n):\n    return n"
    tok2 = AutoTokenizer.from_pretrained(args.out)
    a, b = tok(probe)["input_ids"], tok2(probe)["input_ids"]
    if a != b:
        raise SystemExit(f"saved tokenizer differs: {a} vs {b}")
    print(f"tokenizer round trip ok: {len(a)} ids for the probe, first {a[:4]}")

    if not args.no_verify:
        arch = "gemma3" if cfg.model_type.startswith("gemma3") else cfg.model_type
        verify(gguf_path, args.out, arch, cfg.num_hidden_layers)


if __name__ == "__main__":
    sys.exit(main())
