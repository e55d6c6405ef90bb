// Reference decoders of the k-quants and IQ4 formats (layouts in ggml_kquants.h). Each mirrors the
// float operations of ggml's dequantize_row_* in ggml/src/ggml-quants.c, in the same order:
// sub-block scale = f32(d) * integer, then value = scale * integer (- min), so the results are
// bit-identical with ggml and with gguf-py (gguf/quants.py), which the golden test checks.
#include "formats/ggml_kquants.h"
#include "formats/ggml_block_load.h"

#include <bit>
#include <cstddef>
#include <cstring>

#include "formats/float16.h"

namespace qforge::formats {

static_assert(std::endian::native == std::endian::little, "GGML blocks are little-endian; so is every target");
// Sizes and offsets of ggml-common.h (static_asserts there: e.g. sizeof(block_q2_K) ==
// 2*sizeof(ggml_half) + QK_K/16 + QK_K/4). The ggml_half fields sit where ggml puts them.
static_assert(sizeof(BlockQ2_K) == 84 && offsetof(BlockQ2_K, d) == 80);
static_assert(sizeof(BlockQ3_K) == 110 && offsetof(BlockQ3_K, scales) == 96 && offsetof(BlockQ3_K, d) == 108);
static_assert(sizeof(BlockQ4_K) == 144 && offsetof(BlockQ4_K, scales) == 4 && offsetof(BlockQ4_K, qs) == 16);
static_assert(sizeof(BlockQ5_K) == 176 && offsetof(BlockQ5_K, qh) == 16 && offsetof(BlockQ5_K, qs) == 48);
static_assert(sizeof(BlockQ6_K) == 210 && offsetof(BlockQ6_K, scales) == 192 && offsetof(BlockQ6_K, d) == 208);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136 && offsetof(BlockIQ4_XS, scales_l) == 4 && offsetof(BlockIQ4_XS, qs) == 8);

namespace {

// get_scale_min_k4 of ggml-quants.c: the 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K.
void ScaleMinK4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace

QF_DECODE_CLONES void DecodeQ2_K(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const BlockQ2_K b = LoadBlock<BlockQ2_K>(blocks, i);
    const float d = HalfToFloat(b.d), dmin = HalfToFloat(b.dmin);
    int is = 0;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = b.qs + 32 * h;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {  // two sub-blocks of 16 per shift
          const uint8_t sc = b.scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF), ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

QF_DECODE_CLONES void DecodeQ3_K(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const BlockQ3_K b = LoadBlock<BlockQ3_K>(blocks, i);
    const float d = HalfToFloat(b.d);
    int scales[16];
    for (int j = 0; j < 16; ++j) {
      const int lo = (b.scales[j % 8] >> (4 * (j / 8))) & 0xF;
      const int hi = (b.scales[8 + j % 4] >> (2 * (j / 4))) & 3;
      scales[j] = (lo | (hi << 4)) - 32;
    }
    int is = 0;
    int bit = 0;  // hmask bit, 0..7 across both halves
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = b.qs + 32 * h;
      for (int shift = 0; shift < 8; shift += 2, ++bit) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d * static_cast<float>(scales[is++]);
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int code = ((q[l] >> shift) & 3) - (((b.hmask[l] >> bit) & 1) ? 0 : 4);
            *y++ = dl * static_cast<float>(code);
          }
        }
      }
    }
  }
}

QF_DECODE_CLONES void DecodeQ4_K(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const BlockQ4_K b = LoadBlock<BlockQ4_K>(blocks, i);
    const float d = HalfToFloat(b.d), dmin = HalfToFloat(b.dmin);
    for (int c = 0; c < 4; ++c) {
      const uint8_t* q = b.qs + 32 * c;
      int sc, m;
      ScaleMinK4(2 * c, b.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      ScaleMinK4(2 * c + 1, b.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

QF_DECODE_CLONES void DecodeQ5_K(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const BlockQ5_K b = LoadBlock<BlockQ5_K>(blocks, i);
    const float d = HalfToFloat(b.d), dmin = HalfToFloat(b.dmin);
    for (int c = 0; c < 4; ++c) {
      const uint8_t* q = b.qs + 32 * c;
      const int u1 = 1 << (2 * c), u2 = 2 << (2 * c);
      int sc, m;
      ScaleMinK4(2 * c, b.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      ScaleMinK4(2 * c + 1, b.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((q[l] & 0xF) + (b.qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((q[l] >> 4) + (b.qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

QF_DECODE_CLONES void DecodeQ6_K(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const BlockQ6_K b = LoadBlock<BlockQ6_K>(blocks, i);
    const float d = HalfToFloat(b.d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t* qh = b.qh + 32 * h;
      const int8_t* sc = b.scales + 8 * h;
      float* o = y + 128 * h;
      // l in [0, 16) uses scales is = 0 (+2, +4, +6), l in [16, 32) is = 1: two loops of 16 with a
      // fixed scale each (so they vectorise), the same values as ggml's single loop.
      for (int is = 0; is < 2; ++is) {
        const float s1 = d * static_cast<float>(sc[is]), s2 = d * static_cast<float>(sc[is + 2]);
        const float s3 = d * static_cast<float>(sc[is + 4]), s4 = d * static_cast<float>(sc[is + 6]);
        for (int l = 16 * is; l < 16 * is + 16; ++l) {
          const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
          const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
          const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
          const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
          // ggml: y = d * sc * q, evaluated left to right as (d * sc) * q.
          o[l] = s1 * static_cast<float>(q1);
          o[l + 32] = s2 * static_cast<float>(q2);
          o[l + 64] = s3 * static_cast<float>(q3);
          o[l + 96] = s4 * static_cast<float>(q4);
        }
      }
    }
    y += kQK_K;
  }
}

QF_DECODE_CLONES void DecodeIQ4_NL(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const BlockIQ4_NL b = LoadBlock<BlockIQ4_NL>(blocks, i);
    const float d = HalfToFloat(b.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIq4nlValues[b.qs[j] & 0xF]);
      y[j + 16] = d * static_cast<float>(kIq4nlValues[b.qs[j] >> 4]);
    }
    y += 32;
  }
}

QF_DECODE_CLONES void DecodeIQ4_XS(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const BlockIQ4_XS b = LoadBlock<BlockIQ4_XS>(blocks, i);
    const float d = HalfToFloat(b.d);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = b.qs + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIq4nlValues[qs[j] & 0xF]);
        y[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
      }
      y += 32;
    }
  }
}

}  // namespace qforge::formats
