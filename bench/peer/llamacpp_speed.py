#!/usr/bin/env python3
"""llama.cpp's prefill and decode speed on a GGUF file, measured the way `qforge eval` measures its own.

Run by bench/vs_llamacpp.sh inside a throwaway venv that holds llama-cpp-python (a development
reference, never a dependency of qforge). Protocol, matching src/eval/eval.h's speed section:
  - prompt: the first P tokens of TEXT as llama.cpp tokenizes it (with BOS when the model adds one),
    repeated if the text is shorter;
  - prefill: from an empty KV cache, one llama_decode over the P tokens in batches of n_batch = P, logits
    of the last position only; TTFT = its wall time;
  - decode: G greedy tokens one llama_decode each (argmax of the last logits); TPOT = mean time per step;
  - one warm-up run, then REPS runs; each figure is the median over the runs.
Prints one JSON object: {"prompt_tokens", "gen_tokens", "reps", "ttft_ms", "tpot_ms", "prefill_tps",
"decode_tps", "threads", "llama_cpp_python"}.
"""
import argparse
import json
import statistics
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--text", required=True)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, required=True)
    a = ap.parse_args()

    import llama_cpp
    import numpy as np

    n_ctx = a.prompt_tokens + a.gen_tokens + 8
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=n_ctx, n_batch=a.prompt_tokens, n_ubatch=a.prompt_tokens,
                          n_threads=a.threads, n_threads_batch=a.threads, logits_all=False, verbose=False)
    with open(a.text, "rb") as f:
        text = f.read(1 << 20)
    toks = llm.tokenize(text, add_bos=True, special=False)
    if not toks:
        print(f"{a.text}: no tokens", file=sys.stderr)
        return 2
    while len(toks) < a.prompt_tokens:
        toks = toks + toks
    prompt = toks[: a.prompt_tokens]
    n_vocab = llm.n_vocab()

    def run():
        llm.reset()  # n_tokens = 0: the next eval drops every cached position (kv_cache_seq_rm from 0)
        t0 = time.perf_counter()
        llm.eval(prompt)
        ttft = time.perf_counter() - t0
        steps = []
        for _ in range(a.gen_tokens):
            # The last eval asked for the logits of its last position only: row 0 of llama_get_logits.
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm._ctx.ctx), shape=(n_vocab,))
            nxt = int(np.argmax(logits))
            t1 = time.perf_counter()
            llm.eval([nxt])
            steps.append(time.perf_counter() - t1)
        return ttft, sum(steps) / len(steps) if steps else 0.0

    run()  # warm-up
    runs = [run() for _ in range(a.reps)]
    ttft = statistics.median(r[0] for r in runs)
    tpot = statistics.median(r[1] for r in runs)
    print(json.dumps({
        "prompt_tokens": a.prompt_tokens, "gen_tokens": a.gen_tokens, "reps": a.reps, "threads": a.threads,
        "ttft_ms": ttft * 1e3, "tpot_ms": tpot * 1e3,
        "prefill_tps": a.prompt_tokens / ttft, "decode_tps": 1.0 / tpot if tpot > 0 else 0.0,
        "llama_cpp_python": llama_cpp.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
