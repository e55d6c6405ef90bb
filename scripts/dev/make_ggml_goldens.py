#!/usr/bin/env python3
"""Writes the GGML decoder golden vectors of src/formats/testdata/ from gguf-py, an independent
numpy implementation of ggml's dequantize_row_* (gguf/quants.py in ggml-org/llama.cpp's gguf-py).

Dev tool, not run by the build. Needs a throwaway venv outside the repo:
    python3 -m venv /work/venv-gguf && /work/venv-gguf/bin/pip install gguf numpy
    /work/venv-gguf/bin/python scripts/dev/make_ggml_goldens.py [--out src/formats/testdata]

For every type: a few blocks of random bytes (numpy PCG64, fixed seed) whose f16 scale fields are
overwritten with finite, chosen values (positive / negative / zero / subnormal / the largest f16),
plus two blocks with every code byte 0x00 and 0xFF (extreme codes: for the k-quants this also sets
every sub-block scale to 0 / 63). gguf.quants.dequantize decodes them.

File layout (all little-endian), one file per type, ggml_golden_<type>.bin:
    char[4] "QFGG", u32 version = 1, u32 ggml type number, u32 n_blocks, u32 type_size (bytes per
    block), u32 block_size (elements per block), n_blocks * type_size block bytes,
    n_blocks * block_size u32: the bits of the expected float32 values.
"""
import argparse
import pathlib
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

SEED = 20250601

# Byte offsets of the ggml_half fields of each block (ggml-common.h), and blocks per type.
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0], T.IQ4_NL: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208], T.IQ4_XS: [0],
}
# f16 bit patterns for the scale fields, cycled over the blocks: normal values of several magnitudes
# and both signs, +-0, the smallest subnormal (2^-24), the largest subnormal, the smallest normal,
# and +-65504 (the largest finite f16).
SCALES = [0x2E66, 0xB0CD, 0x1C00, 0x3C00, 0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x2400,
          0xA3D7, 0x3555, 0x0E00, 0x9400]


def quant_blocks(qtype, rng):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks = 18 if block_size == 32 else 6
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    fields = F16_FIELDS[qtype]
    code_bytes = np.ones(type_size, dtype=bool)
    for off in fields:
        code_bytes[off:off + 2] = False
    raw[0, code_bytes] = 0x00
    raw[1, code_bytes] = 0xFF
    k = int(rng.integers(0, len(SCALES)))
    for b in range(n_blocks):
        for f, off in enumerate(fields):
            # Keep the first two (extreme-code) blocks at ordinary positive scales so their values
            # are informative; the rest walk through SCALES, the second field offset by 5.
            v = [0x2E66, 0x3C00][f] if b < 2 else SCALES[(k + b + 5 * f) % len(SCALES)]
            raw[b, off:off + 2] = np.frombuffer(struct.pack("<H", v), dtype=np.uint8)
    return raw


def plain_values(qtype, rng):
    if qtype == T.F32:
        bits = rng.integers(0, 2**32, size=256, dtype=np.uint64).astype(np.uint32)
        bits[:8] = [0, 0x80000000, 0x00000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0x7F800000, 0xFF800000]
        nan = (bits & 0x7F800000) == 0x7F800000
        bits[8:][nan[8:]] &= 0xBFFFFFFF  # clear an exponent bit: no NaN, and no inf beyond the listed ones
        return bits.view(np.uint8).reshape(-1, 4)
    bits = rng.integers(0, 2**16, size=1024, dtype=np.uint32).astype(np.uint16)
    if qtype == T.F16:
        bits[:8] = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00]
        inf_nan = (bits & 0x7C00) == 0x7C00
    else:  # BF16
        bits[:8] = [0x0000, 0x8000, 0x0001, 0x007F, 0x0080, 0x7F7F, 0x7F80, 0xFF80]
        inf_nan = (bits & 0x7F80) == 0x7F80
    mask = np.uint16(0xBFFF)
    bits[8:][inf_nan[8:]] &= mask
    return bits.view(np.uint8).reshape(-1, 2)


TYPES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K,
         T.IQ4_NL, T.IQ4_XS]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parents[2] / "src/formats/testdata"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    rows = []
    for qtype in TYPES:
        rng = np.random.Generator(np.random.PCG64(SEED + int(qtype)))
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        blocks = plain_values(qtype, rng) if block_size == 1 else quant_blocks(qtype, rng)
        n_blocks = blocks.shape[0]
        values = gguf.quants.dequantize(blocks.reshape(-1), qtype).astype(np.float32, copy=False).reshape(-1)
        assert values.size == n_blocks * block_size, (qtype.name, values.shape)
        if qtype not in (T.F32, T.F16, T.BF16):
            assert np.isfinite(values).all(), qtype.name
        header = b"QFGG" + struct.pack("<5I", 1, int(qtype), n_blocks, type_size, block_size)
        data = header + blocks.tobytes() + values.view(np.uint32).astype("<u4").tobytes()
        path = out / f"ggml_golden_{qtype.name.lower()}.bin"
        path.write_bytes(data)
        total += len(data)
        rows.append(f"| {qtype.name.lower()} | {n_blocks} | {len(data)} |")
        print(f"{path.name}: {n_blocks} blocks, {len(data)} bytes", file=sys.stderr)
    readme = out / "README.md"
    readme.write_text(
        "# GGML decoder goldens\n\n"
        "Written by `scripts/dev/make_ggml_goldens.py` (seed {seed}) with gguf-py {gv} and numpy {nv}: "
        "blocks of random bytes with chosen finite f16 scales, decoded by `gguf.quants.dequantize`, the numpy "
        "port of ggml's `dequantize_row_*`. Read by `src/formats/ggml_codecs_test.cc`, which requires qforge's "
        "decoders to reproduce every float bit for bit. Layout: see the script's docstring.\n\n"
        "| type | blocks | bytes |\n|---|---|---|\n{rows}\n\nTotal {total} bytes.\n".format(
            seed=SEED, gv=getattr(gguf, "__version__", None) or _dist_version("gguf"), nv=np.__version__,
            rows="\n".join(rows), total=total))
    print(f"total {total} bytes", file=sys.stderr)


def _dist_version(name):
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    main()
