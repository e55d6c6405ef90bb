#!/usr/bin/env python3
"""llama.cpp's perplexity of a GGUF file, with llama-perplexity's protocol, through llama-cpp-python.

Dev tool (a peer measured side by side, never a dependency); run it from a throwaway venv, e.g. the one
bench/vs_llamacpp.sh makes:
    /tmp/qforge-peer/bin/python scripts/peer/llamacpp_ppl.py FILE.gguf --text wiki.test.raw --ctx 512 --chunks 40
The protocol of tools/perplexity/perplexity.cpp (perplexity()): the text with one trailing newline
dropped, tokenized by llama.cpp with BOS as the vocabulary says; chunks of ctx tokens whose first token
is replaced by BOS; the second half of each chunk scored (logits at j predict token j+1 for j in
[ctx/2, ctx-1)); log-softmax with the max in f32 and the sum of exps in double; PPL = exp(mean NLL),
with llama-perplexity's stderr estimate. It is the protocol `qforge ppl --protocol llamacpp` implements,
so the two numbers on the same file compare the engines' arithmetic only.
"""
import argparse
import json
import math

import numpy as np
import llama_cpp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--text", required=True)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    llm = llama_cpp.Llama(a.model, n_ctx=a.ctx, n_batch=a.ctx, n_ubatch=a.ctx, logits_all=True, n_threads=a.threads,
                          n_threads_batch=a.threads, verbose=False)
    text = open(a.text, "rb").read()
    if text.endswith(b"\n"):
        text = text[:-1]
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
    bos = llama_cpp.llama_vocab_bos(vocab)
    toks = llm.tokenize(text, add_bos=add_bos, special=False)
    n_chunk = min(len(toks) // a.ctx, a.chunks)
    first = a.ctx // 2
    nll, nll2, count = 0.0, 0.0, 0
    n_vocab = llm.n_vocab()
    for i in range(n_chunk):
        batch = list(toks[i * a.ctx:(i + 1) * a.ctx])
        if add_bos:
            batch[0] = bos
        llm.reset()
        llm.eval(batch)
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(a.ctx, n_vocab))
        for j in range(first, a.ctx - 1):
            row = logits[j]
            mx = np.float32(row.max())
            lse = math.log(float(np.exp((row - mx).astype(np.float64)).sum())) + float(mx)
            v = lse - float(row[batch[j + 1]])
            nll += v
            nll2 += v * v
            count += 1
    mean = nll / count
    var = nll2 / count - mean * mean
    stderr = math.sqrt(var / (count - 1)) * math.exp(mean) if count > 1 and var > 0 else 0.0
    print(json.dumps({"model": a.model, "ppl": math.exp(mean), "stderr": stderr, "tokens": count, "chunks": n_chunk,
                      "engine": f"llama.cpp via llama-cpp-python {llama_cpp.__version__}"}))


if __name__ == "__main__":
    main()
