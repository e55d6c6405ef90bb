#!/usr/bin/env python3
"""Byte-identity of `qforge quantize --format gguf` with llama.cpp's own quantizer, on a real model.

For each llama.cpp file type T: llama.cpp's llama_model_quantize (the function behind llama-quantize,
called through llama-cpp-python) and qforge both quantize the same F32 GGUF; every tensor of the two
outputs is compared: name, order, type, shape and data bytes. With --imatrix both read the same
importance matrix file (llama.cpp gets it as llama-quantize's load_imatrix would pass it).

Dev tool (llama.cpp is a development reference, never a dependency). Needs llama-cpp-python and gguf in
a throwaway venv outside the repo, e.g. the one bench/vs_llamacpp.sh makes:
    /tmp/qforge-peer/bin/python scripts/peer/gguf_quant_check.py models/gemma-3-270m-q4_k_m.gguf \
        --work /tmp/gq [--imatrix IMATRIX.gguf] [--types Q8_0,Q4_K_M,...] [--qforge build/release/tools/qforge]
The F32 source is made by qforge itself (`--type F32`: every tensor decoded, bit-exact with ggml's
decoders); the shipped file's quantized tensors are decoded first, so this measures the quantizers, not
the dequantizers. Prints a Markdown table; exits 1 if any tensor differs.
"""
import argparse
import ctypes
import pathlib
import subprocess
import sys
import time

import numpy as np
import gguf
import llama_cpp

TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L",
         "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS"]
FTYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11,
         "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18,
         "IQ4_NL": 25, "IQ4_XS": 30, "BF16": 32}


def load_imatrix(path):
    """llama-quantize's load_imatrix for the GGUF format: in_sum2 / lround(count), 1 where count == 0."""
    r = gguf.GGUFReader(path)
    sums, counts = {}, {}
    for t in r.tensors:
        if t.name.endswith(".in_sum2"):
            sums[t.name[:-8]] = np.array(t.data, dtype=np.float32).reshape(-1)
        elif t.name.endswith(".counts"):
            counts[t.name[:-7]] = np.array(t.data, dtype=np.float32).reshape(-1)
    out = {}
    for name, s in sums.items():
        c = counts[name]
        ne0 = s.size // c.size
        e = np.empty_like(s)
        for j in range(c.size):
            cnt = np.float32(round(float(c[j])))
            e[j * ne0:(j + 1) * ne0] = s[j * ne0:(j + 1) * ne0] / cnt if cnt > 0 else np.float32(1)
        out[name] = e.astype(np.float32)
    return out


def llama_quantize(src, dst, ftype, imatrix):
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = FTYPE[ftype]
    p.allow_requantize = True
    p.nthread = 2
    keep = []
    if imatrix:
        arr = (llama_cpp.llama_model_imatrix_data * (len(imatrix) + 1))()
        for i, (name, v) in enumerate(sorted(imatrix.items())):
            buf = np.ascontiguousarray(v, dtype=np.float32)
            keep.append(buf)
            nm = name.encode()
            keep.append(nm)
            arr[i].name = nm
            arr[i].data = buf.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = buf.size
        arr[len(imatrix)].name = None
        keep.append(arr)
        p.imatrix = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p))
    if rc != 0:
        sys.exit(f"llama_model_quantize {ftype} failed ({rc})")


def compare(a_path, b_path):
    a, b = gguf.GGUFReader(a_path), gguf.GGUFReader(b_path)
    n_same, n_bytes, first = 0, 0, None
    if [t.name for t in a.tensors] != [t.name for t in b.tensors]:
        first = "tensor names or order differ"
    for ta, tb in zip(a.tensors, b.tensors):
        da, db = np.asarray(ta.data).tobytes(), np.asarray(tb.data).tobytes()
        n_bytes += len(da)
        if ta.name == tb.name and ta.tensor_type == tb.tensor_type and list(ta.shape) == list(tb.shape) and da == db:
            n_same += 1
        elif first is None:
            why = "type" if ta.tensor_type != tb.tensor_type else "data"
            first = f"{ta.name}: {why} ({ta.tensor_type.name} vs {tb.tensor_type.name})"
    return len(a.tensors), n_same, n_bytes, first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--work", required=True)
    ap.add_argument("--qforge", default="build/release/tools/qforge")
    ap.add_argument("--imatrix")
    ap.add_argument("--types", default=",".join(TYPES))
    a = ap.parse_args()
    work = pathlib.Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    src = work / "source-f32.gguf"
    if not src.exists():
        subprocess.run([a.qforge, "quantize", a.model, "-o", str(src), "--format", "gguf", "--type", "F32"], check=True,
                       stdout=subprocess.DEVNULL)
    im = load_imatrix(a.imatrix) if a.imatrix else None
    print(f"llama.cpp (llama-cpp-python {llama_cpp.__version__}) vs qforge on {a.model} (F32 source by qforge)"
          f"{', imatrix ' + a.imatrix if a.imatrix else ''}\n")
    print("| type | tensors | identical | bytes compared | llama.cpp s | qforge s | first difference |")
    print("|---|---:|---:|---:|---:|---:|---|")
    bad = 0
    for t in a.types.split(","):
        lc, qf = work / f"llamacpp-{t}.gguf", work / f"qforge-{t}.gguf"
        t0 = time.time()
        llama_quantize(src, lc, t, im)
        t1 = time.time()
        cmd = [a.qforge, "quantize", str(src), "-o", str(qf), "--format", "gguf", "--type", t, "--overwrite",
               "--threads", "2"]
        if a.imatrix:
            cmd += ["--imatrix", a.imatrix]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        t2 = time.time()
        n, same, nbytes, first = compare(lc, qf)
        bad += n - same + (first is not None and same == n)
        print(f"| {t} | {n} | {same} | {nbytes:,} | {t1 - t0:.1f} | {t2 - t1:.1f} | {first or '—'} |", flush=True)
        lc.unlink()
        qf.unlink()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
