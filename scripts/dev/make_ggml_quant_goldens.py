#!/usr/bin/env python3
"""Writes the GGML *quantizer* golden vectors of src/formats/testdata/ with llama.cpp itself: the
bytes of ggml_quantize_chunk(type, src, dst, 0, rows, cols, imatrix) (ggml/src/ggml.c, the function
llama-quantize calls per tensor) for every type qforge writes, without and with an importance matrix.

Dev tool, not run by the build; llama.cpp is a development reference, never a dependency. It needs
llama-cpp-python (which builds llama.cpp from source and ships its shared libraries) in a throwaway
venv outside the repo, e.g. the one bench/vs_llamacpp.sh makes:
    python3 -m venv /tmp/qforge-peer && /tmp/qforge-peer/bin/pip install llama-cpp-python numpy
    /tmp/qforge-peer/bin/python scripts/dev/make_ggml_quant_goldens.py [--out src/formats/testdata] [TYPE...]

The reference quantizers live in ggml-base (ggml.c, ggml-quants.c), which llama.cpp compiles for
the baseline ISA whatever GGML_NATIVE/AVX flags the CPU backend gets, so the bytes do not depend on
the machine that made them.

Files (all little-endian):
  ggml_quant_inputs.bin: char[4] "QFQI", u32 version = 1, u32 rows, u32 cols,
      rows*cols f32 (row-major source), cols f32 (the importance matrix row).
  ggml_quant_<type>.bin / ggml_quant_<type>_imatrix.bin: char[4] "QFQO", u32 version = 1,
      u32 ggml type number, u32 rows, u32 cols, u32 has_imatrix, u64 n_bytes, n_bytes of quantized rows.
  No file for f32 (llama.cpp copies the source: asserted here, and the test compares with the inputs),
  and no _imatrix file for the types whose quantizer ignores the importance matrix (f16, bf16, q8_0:
  asserted here to give the same bytes with and without it; the test then uses the plain file).
Rows of the source (cols = 512: 2 super-blocks, 16 blocks of 32) are chosen to reach the quantizers'
branches: gaussians of several scales, heavy tails, outlier elements, all zeros, constants, one sign
only, a single non-zero per block, scales varying per 16 elements, f16-subnormal magnitudes, values on
a coarse grid (rounding ties), zero blocks inside a row.
"""
import argparse
import ctypes
import glob
import os
import pathlib
import struct
import sys

import numpy as np
import llama_cpp

SEED = 20261207
ROWS_COLS = 512

TYPES = {  # name -> ggml type number (enum ggml_type, ggml/include/ggml.h)
    "f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8,
    "q2_k": 10, "q3_k": 11, "q4_k": 12, "q5_k": 13, "q6_k": 14, "iq4_nl": 20, "iq4_xs": 23, "bf16": 30,
}


IMATRIX_IGNORED = {"f16", "bf16", "q8_0"}  # ggml_quantize_chunk passes no imatrix to these


def make_inputs(rng):
    c = ROWS_COLS
    rows = []
    g = lambda s: rng.standard_normal(c) * s
    rows += [g(1.0), g(0.02), g(1e-3), g(50.0)]
    rows += [rng.standard_t(3, c) * 0.05, rng.standard_t(2, c) * 0.01]
    for _ in range(2):
        r = g(0.05)
        idx = rng.choice(c, c // 50, replace=False)
        r[idx] *= 20
        rows.append(r)
    rows.append(np.zeros(c))
    rows.append(np.full(c, 0.5))
    r = np.full(c, -0.25)
    r[32:64] = 0
    rows.append(r)
    rows.append(rng.uniform(0, 1, c))
    rows.append(-rng.uniform(0.1, 0.3, c))
    r = np.zeros(c)
    r[np.arange(0, c, 32) + rng.integers(0, 32, c // 32)] = rng.standard_normal(c // 32)
    rows.append(r)
    rows.append(g(1.0) * np.repeat(10.0 ** rng.uniform(-3, 1, c // 16), 16))
    rows.append(g(1e-7))
    rows.append(np.round(g(1.0) * 8) / 8)
    r = g(0.1)
    r[: c // 2] = 0
    rows.append(r)
    rows.append(rng.uniform(-1, 1, c))
    rows.append(rng.laplace(0, 0.03, c))
    for _ in range(4):
        rows.append(g(1.0) * np.repeat(rng.lognormal(-3, 1, c // 32), 32))
    src = np.stack(rows).astype(np.float32)
    # An importance matrix row: mean x^2 per input column as llama-imatrix accumulates it, with some
    # exact zeros (columns never activated) and a few outlier channels.
    imat = (rng.gamma(0.5, 1.0, c) * 0.1).astype(np.float32)
    imat[rng.choice(c, c // 20, replace=False)] = 0
    imat[rng.choice(c, 4, replace=False)] *= 100
    return src, imat.astype(np.float32)


def load_ggml():
    libdir = pathlib.Path(llama_cpp.__file__).parent / "lib"
    cands = sorted(glob.glob(str(libdir / "libggml-base.so*"))) + sorted(glob.glob(str(libdir / "libggml.so*")))
    for path in cands:
        try:
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            lib.ggml_quantize_chunk
        except (OSError, AttributeError):
            continue
        lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                            ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        lib.ggml_row_size.restype = ctypes.c_size_t
        lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        return lib, path
    sys.exit(f"no libggml with ggml_quantize_chunk under {libdir}")


def quantize(lib, tnum, src, imat):
    rows, cols = src.shape
    n = lib.ggml_row_size(tnum, cols) * rows
    dst = (ctypes.c_uint8 * n)()
    s = np.ascontiguousarray(src, dtype=np.float32)
    im = None if imat is None else np.ascontiguousarray(imat, dtype=np.float32)
    got = lib.ggml_quantize_chunk(tnum, s.ctypes.data, ctypes.addressof(dst), 0, rows, cols,
                                  None if im is None else im.ctypes.data)
    assert got == n, (got, n)
    return bytes(dst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="src/formats/testdata")
    ap.add_argument("types", nargs="*", default=list(TYPES))
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    lib, path = load_ggml()
    src, imat = make_inputs(np.random.default_rng(SEED))
    rows, cols = src.shape
    with open(out / "ggml_quant_inputs.bin", "wb") as f:
        f.write(b"QFQI" + struct.pack("<III", 1, rows, cols) + src.tobytes() + imat.tobytes())
    for name in a.types:
        tnum = TYPES[name]
        if name == "f32":
            assert quantize(lib, tnum, src, None) == src.tobytes() == quantize(lib, tnum, src, imat)
            print("f32: the source bytes, with and without imatrix (no file)")
            continue
        for weights, suffix in ((None, ""), (imat, "_imatrix")):
            data = quantize(lib, tnum, src, weights)
            if weights is not None and name in IMATRIX_IGNORED:
                assert data == quantize(lib, tnum, src, None), name
                print(f"{name}_imatrix: the same bytes as without (no file)")
                continue
            with open(out / f"ggml_quant_{name}{suffix}.bin", "wb") as f:
                f.write(b"QFQO" + struct.pack("<IIIIIQ", 1, tnum, rows, cols, weights is not None, len(data)) + data)
            print(f"{name}{suffix}: {len(data)} bytes")
    print(f"llama-cpp-python {llama_cpp.__version__}, {os.path.basename(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
