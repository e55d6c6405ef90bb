#!/usr/bin/env python3
"""Teacher-forced f32 log-probabilities and perplexity from a Hugging Face model.

Dev tool for peer comparisons; it runs in a python environment with torch and
transformers (not the project's own build).

Logits of one window:
    python scripts/peer/hf_logits.py HF_DIR TEXT --start S --n N --out PREFIX [--bos]
tokenizes the whole of TEXT with the directory's tokenizer (no special tokens
added), takes the N (<= 512 by default) tokens from token offset S, prepends
the BOS id if --bos is given, runs the model once on that window in float32 and
writes
    PREFIX.logprobs.npy  float32 [T, vocab]: log-softmax of the logits at every
                         position (row t predicts token t+1 of the window)
    PREFIX.ids.npy       int32 [T]: the window's token ids (BOS included if added)
    PREFIX.json          what was run, and the window's own perplexity over its
                         T-1 next-token predictions

Baseline log-probabilities for `qforge eval --baseline-logprobs`:
    python scripts/peer/hf_logits.py HF_DIR TEXT --qforge-kld OUT.bin --chunks K [--ctx 512] [--bos]
reads TEXT as llama-perplexity -f does (bytes, one trailing newline removed),
tokenizes it (no special tokens; --bos puts the BOS id first, as qforge does for
a vocabulary that adds BOS), runs the first K chunks of --ctx tokens (the
chunk's first token replaced by BOS with --bos) and writes the log-softmax at
llama.cpp's scored positions ctx/2 .. ctx-2 of every chunk, with their targets,
in qforge's KLD cache format (src/eval/logit_cache.h, "QFKLDLP1").

Windows-protocol perplexity:
    python scripts/peer/hf_logits.py HF_DIR TEXT --ppl-windows K [--ctx 512]
splits the token stream of TEXT (no BOS anywhere) into non-overlapping windows
of --ctx tokens, scores every next-token prediction inside each of the first K
windows (ctx-1 per window) and prints exp(mean NLL).
"""
import argparse
import json
import math
import sys
import time

import numpy as np


def load(hf_dir, attn):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32,
                                                 attn_implementation=attn)
    model.eval()
    return tok, model


def encode_all(tok, path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return tok(text, add_special_tokens=False)["input_ids"]


def window_logprobs(model, ids):
    import torch

    with torch.inference_mode():
        x = torch.tensor([ids], dtype=torch.long)
        logits = model(input_ids=x).logits[0].float()
        return torch.log_softmax(logits, dim=-1)


def write_qforge_kld(path, model_hash, text_hash, ctx, chunks, targets, logprobs):
    """The QFKLDLP1 layout of src/eval/logit_cache.h, written under a temporary name then renamed."""
    import hashlib
    import os
    import struct

    positions, vocab = logprobs.shape
    payload = np.asarray(targets, dtype="<i4").tobytes() + np.ascontiguousarray(logprobs, dtype="<f4").tobytes()
    header = bytearray(256)
    header[0:8] = b"QFKLDLP1"
    struct.pack_into("<II", header, 8, 1, 256)
    header[16:80] = model_hash.encode()
    header[80:144] = text_hash.encode()
    struct.pack_into("<qqqq", header, 144, ctx, chunks, vocab, positions)
    header[176:240] = hashlib.sha256(payload).hexdigest().encode()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(payload)
    os.replace(tmp, path)


def qforge_kld(tok, model, args):
    import hashlib

    import torch

    with open(args.text, "rb") as f:
        raw = f.read()
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    ids = tok(raw.decode("utf-8"), add_special_tokens=False)["input_ids"]
    if args.bos:
        if tok.bos_token_id is None:
            raise SystemExit("the tokenizer has no BOS token")
        ids = [tok.bos_token_id] + ids
    ctx = args.ctx
    if len(ids) < max(2 * ctx, args.chunks * ctx):
        raise SystemExit(f"{len(ids)} tokens: too few for {args.chunks} chunks of {ctx}")
    targets, rows = [], []
    t0 = time.time()
    for c in range(args.chunks):
        chunk = ids[c * ctx:(c + 1) * ctx]
        if args.bos:
            chunk = [tok.bos_token_id] + chunk[1:]
        lp = window_logprobs(model, chunk)
        for j in range(ctx // 2, ctx - 1):
            targets.append(ids[c * ctx + j + 1])
        rows.append(lp[ctx // 2:ctx - 1].numpy().astype(np.float32))
        print(f"chunk {c + 1}/{args.chunks} ({time.time() - t0:.0f} s)", flush=True)
    logprobs = np.concatenate(rows)
    cfg = open(args.hf_dir.rstrip("/") + "/config.json", "rb").read()
    model_hash = hashlib.sha256(b"transformers " + cfg).hexdigest()
    write_qforge_kld(args.qforge_kld, model_hash, hashlib.sha256(raw).hexdigest(), ctx, args.chunks, targets,
                     logprobs)
    # transformers' own perplexity over these positions (llama-perplexity's protocol), for comparing the
    # engines' PPL on the same checkpoint.
    nll = -float(np.mean(logprobs[np.arange(len(targets)), np.asarray(targets)].astype(np.float64)))
    print(json.dumps({"out": args.qforge_kld, "text_tokens": len(ids), "chunks": args.chunks, "ctx": ctx,
                      "positions": len(targets), "vocab": logprobs.shape[1], "bos": args.bos,
                      "ppl_llamacpp_protocol": math.exp(nll)}))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("hf_dir")
    ap.add_argument("text")
    ap.add_argument("--start", type=int, default=0, help="token offset of the window")
    ap.add_argument("--n", type=int, default=512, help="tokens in the window (<= --max-window)")
    ap.add_argument("--max-window", type=int, default=512)
    ap.add_argument("--bos", action="store_true", help="prepend the tokenizer's BOS id")
    ap.add_argument("--out", help="output prefix for the window's .npy files")
    ap.add_argument("--ppl-windows", type=int, default=0,
                    help="instead: perplexity over the first K non-overlapping windows")
    ap.add_argument("--ctx", type=int, default=512, help="window length for --ppl-windows")
    ap.add_argument("--qforge-kld", help="instead: write llama.cpp-protocol scored log-probabilities here")
    ap.add_argument("--chunks", type=int, default=2, help="chunks for --qforge-kld")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--attn", default="eager", help="attn_implementation (eager, sdpa)")
    args = ap.parse_args()

    import torch
    import transformers

    torch.set_num_threads(args.threads)
    tok, model = load(args.hf_dir, args.attn)
    if args.qforge_kld:
        return qforge_kld(tok, model, args)
    stream = encode_all(tok, args.text)
    info = {
        "hf_dir": args.hf_dir, "text": args.text, "text_tokens": len(stream),
        "transformers": transformers.__version__, "torch": torch.__version__,
        "dtype": "float32", "attn_implementation": args.attn, "threads": args.threads,
    }
    print(f"{args.text}: {len(stream)} tokens with {args.hf_dir}'s tokenizer (no special tokens)")

    if args.ppl_windows:
        nll, count, t0 = 0.0, 0, time.time()
        n_avail = len(stream) // args.ctx
        if args.ppl_windows > n_avail:
            raise SystemExit(f"only {n_avail} windows of {args.ctx} tokens in {args.text}")
        for w in range(args.ppl_windows):
            ids = stream[w * args.ctx:(w + 1) * args.ctx]
            lp = window_logprobs(model, ids)
            tgt = torch.tensor(ids[1:])
            nll -= float(lp[:-1].gather(1, tgt[:, None]).sum())
            count += len(ids) - 1
            print(f"window {w + 1}/{args.ppl_windows}: running ppl {math.exp(nll / count):.4f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
        info.update(protocol="non-overlapping windows, no BOS, all next-token predictions scored",
                    ctx=args.ctx, windows=args.ppl_windows, predictions=count,
                    mean_nll=nll / count, ppl=math.exp(nll / count))
        print(json.dumps(info, indent=1))
        return 0

    if not args.out:
        raise SystemExit("--out is needed (or --ppl-windows)")
    if args.n < 1 or args.n > args.max_window:
        raise SystemExit(f"--n must be in 1..{args.max_window}")
    ids = stream[args.start:args.start + args.n]
    if len(ids) < args.n:
        raise SystemExit(f"only {len(ids)} tokens from offset {args.start}")
    if args.bos:
        if tok.bos_token_id is None:
            raise SystemExit("the tokenizer has no BOS token")
        ids = [tok.bos_token_id] + ids
    t0 = time.time()
    lp = window_logprobs(model, ids)
    secs = time.time() - t0
    np.save(args.out + ".logprobs.npy", lp.numpy().astype(np.float32))
    np.save(args.out + ".ids.npy", np.asarray(ids, dtype=np.int32))
    tgt = torch.tensor(ids[1:])
    nll = -float(lp[:-1].gather(1, tgt[:, None]).mean())
    info.update(start=args.start, n=args.n, bos=args.bos, window_tokens=len(ids),
                shape=list(lp.shape), forward_seconds=secs, window_mean_nll=nll,
                window_ppl=math.exp(nll), first_ids=ids[:8])
    with open(args.out + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
