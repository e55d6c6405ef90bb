// GGML integer dot products (ggml_dot.h): the decoded canonical rows reproduce the reference
// dequantizer's values for every supported type; every ISA gives the scalar reference's bits, from a
// canonical row or straight from the GGML bytes; a token alone equals the same token inside a batch; the error against the exact float dot product stays
// within the bound of the activation rounding; the activation quantizer's invariants.
#include "kernels/ggml_dot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "core/random.h"
#include "formats/float16.h"

namespace qforge::kernels {
namespace {

using formats::GgmlType;

// Random bytes for a row of `type`, with every f16 scale field set to a finite value of a realistic
// magnitude (random bytes there could be inf / nan).
std::vector<uint8_t> RandomGgmlRow(GgmlType type, int64_t cols, Rng& rng) {
  const int64_t bytes = *formats::GgmlRowBytes(type, cols);
  std::vector<uint8_t> row(static_cast<size_t>(bytes));
  for (auto& b : row) b = static_cast<uint8_t>(rng.NextU64());
  auto put = [&](int64_t off, float v) {
    const uint16_t h = FloatToHalf(v);
    row[off] = static_cast<uint8_t>(h & 0xff);
    row[off + 1] = static_cast<uint8_t>(h >> 8);
  };
  // Every fifth scale is an f16 subnormal (3 * 2^-24): the decoders' f16 conversions must be exact there too.
  int calls = 0;
  auto scale = [&] {
    const float v = static_cast<float>((rng.Uniform() * 2 - 1) * 0.02);
    return ++calls % 5 == 0 ? 3 * 5.9604644775390625e-8f : v;
  };
  switch (type) {
    case GgmlType::kQ8_0: for (int64_t b = 0; b < cols / 32; ++b) put(b * 34, scale()); break;
    case GgmlType::kQ4_0: for (int64_t b = 0; b < cols / 32; ++b) put(b * 18, scale()); break;
    case GgmlType::kQ5_0: for (int64_t b = 0; b < cols / 32; ++b) put(b * 22, scale()); break;
    case GgmlType::kQ4_K:
      for (int64_t s = 0; s < cols / 256; ++s) {
        put(s * 144, std::fabs(scale()));
        put(s * 144 + 2, std::fabs(scale()));
      }
      break;
    case GgmlType::kQ6_K: for (int64_t s = 0; s < cols / 256; ++s) put(s * 210 + 208, scale()); break;
    default: ADD_FAILURE() << "type";
  }
  return row;
}

struct CanonBuf {
  std::vector<uint8_t> buf;
  CanonRow row;
  explicit CanonBuf(int64_t cols) : buf(static_cast<size_t>(CanonRowBytes(cols))), row(MakeCanonRow(cols, buf)) {}
};

std::vector<Int8Isa> GgmlDotIsas() {
  std::vector<Int8Isa> v;
  for (Int8Isa i : {Int8Isa::kScalar, Int8Isa::kAvx2, Int8Isa::kAvx512Vnni})
    if (Int8IsaSupported(i)) v.push_back(i);
  return v;
}

const GgmlType kTypes[] = {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ4_K, GgmlType::kQ6_K};

TEST(GgmlDot, CanonicalRowsReproduceTheReferenceDequantizer) {
  Rng rng(11);
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(formats::GgmlInfo(type).name);
    ASSERT_TRUE(GgmlDotSupported(type));
    const int64_t cols = 768;
    const std::vector<uint8_t> row = RandomGgmlRow(type, cols, rng);
    std::vector<float> ref(cols);
    ASSERT_TRUE(formats::DequantizeGgmlRow(type, row, ref).ok());
    CanonBuf c(cols);
    ref::GgmlDecodeRow(type, row.data(), c.row);
    for (int64_t i = 0; i < cols; ++i) {
      const int64_t b = i / 32;
      const int32_t ls = i % 32 < 16 ? c.row.la[b] : c.row.lb[b];
      const double v = static_cast<double>(c.row.wd[b]) * ls * c.row.code[i] -
                       static_cast<double>(c.row.wmin[b]) * c.row.wm[b];
      ASSERT_NEAR(v, ref[i], 1e-6 * std::fabs(ref[i]) + 1e-12) << "element " << i;
    }
    // Every ISA's decoder writes the same canonical row.
    for (Int8Isa isa : GgmlDotIsas()) {
      CanonBuf d(cols);
      GgmlDotKernels(isa).decode_row(type, row.data(), d.row);
      EXPECT_EQ(0, std::memcmp(c.buf.data(), d.buf.data(), c.buf.size())) << Int8IsaName(isa);
    }
  }
}

TEST(GgmlDot, QuantizerInvariants) {
  Rng rng(3);
  const int64_t cols = 96, tokens = 3;
  std::vector<float> x(tokens * cols);
  for (auto& v : x) v = static_cast<float>(rng.Gaussian());
  for (int j = 0; j < 32; ++j) x[32 + j] = 0.0f;  // token 0, block 1: all zero
  x[5] = 1000.0f;                                 // an outlier owns its block's scale
  std::vector<uint8_t> s(static_cast<size_t>(Q8ActivationBytes(tokens, cols)));
  const Q8Activations a = QuantizeQ8(x.data(), tokens, cols, cols, 1, s);
  EXPECT_EQ(a.d[1], 0.0f);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t b = 0; b < a.blocks; ++b) {
      int32_t sum = 0;
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[t * cols + b * 32 + j]));
      EXPECT_EQ(a.d[t * a.blocks + b], amax / 127.0f);
      for (int j = 0; j < 32; ++j) {
        const int64_t i = t * cols + b * 32 + j;
        const int q = a.q[i];
        ASSERT_LE(std::abs(q), 127);
        EXPECT_LE(std::fabs(x[i] - q * a.d[t * a.blocks + b]), 0.5f * a.d[t * a.blocks + b] * (1 + 1e-5f) + 1e-30f);
        sum += q;
      }
      EXPECT_EQ(sum, a.sum[t * a.blocks + b]);
    }
  }
  EXPECT_EQ(a.q[5], 127);
  // Groups of 8 blocks (the k-quants' 256): one scale, amax of the group / 127, repeated per block;
  // the code sums stay per 32-block.
  std::vector<float> x2(512);
  for (auto& v : x2) v = static_cast<float>(rng.Gaussian());
  x2[300] = 50.0f;
  std::vector<uint8_t> s2(static_cast<size_t>(Q8ActivationBytes(1, 512)));
  const Q8Activations g = QuantizeQ8(x2.data(), 1, 512, 512, 8, s2);
  EXPECT_EQ(g.group_blocks, 8);
  for (int grp = 0; grp < 2; ++grp) {
    float amax = 0;
    for (int j = 0; j < 256; ++j) amax = std::fmax(amax, std::fabs(x2[grp * 256 + j]));
    for (int b = 0; b < 8; ++b) {
      EXPECT_EQ(g.d[grp * 8 + b], amax / 127.0f);
      int32_t sum = 0;
      for (int j = 0; j < 32; ++j) sum += g.q[(grp * 8 + b) * 32 + j];
      EXPECT_EQ(sum, g.sum[grp * 8 + b]);
    }
  }
  EXPECT_EQ(g.q[300], 127);
}

TEST(GgmlDot, EveryIsaGivesTheReferenceBitsAloneOrInABatchWithinTheRoundingBound) {
  Rng rng(5);
  const int64_t tokens = 9;
  for (GgmlType type : kTypes) {
    for (int64_t cols : {256, 1024, 2304}) {  // 2304: 72 blocks, 9 super-blocks (a partial 8-group lane cycle)
      SCOPED_TRACE(std::string(formats::GgmlInfo(type).name) + " cols " + std::to_string(cols));
      const std::vector<uint8_t> row = RandomGgmlRow(type, cols, rng);
      std::vector<float> x(tokens * cols);
      for (auto& v : x) v = static_cast<float>(rng.Gaussian());
      for (int64_t i = 0; i < cols; i += 37) x[i] *= 30.0f;  // outliers
      std::vector<uint8_t> s(static_cast<size_t>(Q8ActivationBytes(tokens, cols)));
      const Q8Activations a = QuantizeQ8(x.data(), tokens, cols, cols, GgmlDotGroupBlocks(type), s);
      CanonBuf c(cols);
      ref::GgmlDecodeRow(type, row.data(), c.row);
      std::vector<float> want(tokens);
      ref::GgmlDotRow(c.row, a, want.data(), 1);
      // Against the exact product of the dequantized row: the activation rounding moves each x by at
      // most d/2, so |error| <= sum_i |w_i| d_b / 2 (plus float rounding).
      std::vector<float> w(cols);
      ASSERT_TRUE(formats::DequantizeGgmlRow(type, row, w).ok());
      for (int64_t t = 0; t < tokens; ++t) {
        double exact = 0, bound = 0;
        for (int64_t i = 0; i < cols; ++i) {
          exact += static_cast<double>(w[i]) * x[t * cols + i];
          bound += std::fabs(w[i]) * a.d[t * a.blocks + i / 32] * 0.5;
        }
        EXPECT_LE(std::fabs(want[t] - exact), bound * 1.001 + 1e-4 * std::fabs(exact) + 1e-6) << "token " << t;
      }
      for (Int8Isa isa : GgmlDotIsas()) {
        const GgmlDotTable& k = GgmlDotKernels(isa);
        std::vector<float> got(tokens);
        k.dot_row(c.row, a, got.data(), 1);
        EXPECT_EQ(0, std::memcmp(want.data(), got.data(), tokens * 4)) << Int8IsaName(isa);
        for (int64_t t = 0; t < tokens; ++t) {
          const Q8Activations one{1, a.cols, a.blocks, a.group_blocks, a.q + t * a.cols, a.d + t * a.blocks, a.sum + t * a.blocks};
          float y1 = 0;
          k.dot_row(c.row, one, &y1, 1);
          EXPECT_EQ(0, std::memcmp(&y1, &want[t], 4)) << Int8IsaName(isa) << " token " << t << " alone";
        }
        // Straight from the GGML bytes (registers at 1-4 tokens, a canonical row beyond): the same
        // bits for every leading run of tokens, into a strided output.
        for (int64_t n = 1; n <= tokens; ++n) {
          const Q8Activations head{n, a.cols, a.blocks, a.group_blocks, a.q, a.d, a.sum};
          CanonBuf scratch(cols);
          std::vector<float> raw(static_cast<size_t>(n * 3), -1.0f);
          k.dot_raw(type, row.data(), head, raw.data(), 3, scratch.row);
          for (int64_t t = 0; t < n; ++t) {
            EXPECT_EQ(0, std::memcmp(&raw[t * 3], &want[t], 4)) << Int8IsaName(isa) << " dot_raw of " << n << " token " << t;
          }
        }
      }
    }
  }
}

TEST(GgmlDot, EveryIsaQuantizesActivationsToTheReferenceBits) {
  // Gaussian values with outliers, exact halves (ties to even), zeros, an all-zero group, and
  // non-finite values (NaN, +-inf): codes, scales and sums are the same on every ISA.
  Rng rng(23);
  const int64_t tokens = 5, cols = 512, ldx = cols + 3;
  std::vector<float> x(tokens * ldx);
  for (auto& v : x) v = static_cast<float>(rng.Gaussian());
  for (int64_t j = 0; j < 256; ++j) x[ldx + j] = 0.0f;                          // token 1, group 0: zeros
  for (int64_t j = 0; j < 32; ++j) x[2 * ldx + j] = static_cast<float>(j) - 15.5f;  // halves after scaling
  x[2 * ldx + 31] = 127.0f;  // the scale becomes 1: the others are exact halves
  x[3 * ldx + 7] = std::numeric_limits<float>::quiet_NaN();
  x[3 * ldx + 300] = std::numeric_limits<float>::infinity();
  x[4 * ldx + 9] = -std::numeric_limits<float>::infinity();
  x[4 * ldx + 100] = 1e30f;
  for (int gb : {1, 8}) {
    const int64_t blocks = cols / 32;
    std::vector<int8_t> q0(tokens * cols);
    std::vector<float> d0(tokens * blocks);
    std::vector<int32_t> s0(tokens * blocks);
    ref::QuantizeQ8Groups(x.data(), tokens, ldx, cols, gb, q0.data(), d0.data(), s0.data());
    for (Int8Isa isa : GgmlDotIsas()) {
      std::vector<int8_t> q(tokens * cols, 99);
      std::vector<float> d(tokens * blocks, -1.0f);
      std::vector<int32_t> s(tokens * blocks, -1);
      GgmlDotKernels(isa).quantize(x.data(), tokens, ldx, cols, gb, q.data(), d.data(), s.data());
      EXPECT_EQ(q, q0) << Int8IsaName(isa) << " group blocks " << gb;
      EXPECT_EQ(0, std::memcmp(d.data(), d0.data(), d.size() * 4)) << Int8IsaName(isa) << " group blocks " << gb;
      EXPECT_EQ(s, s0) << Int8IsaName(isa) << " group blocks " << gb;
    }
  }
}

TEST(GgmlDot, RowPanelsGiveEachRowsBits) {
  // dot_rows over 1-5 rows and 37 tokens (more than one token chunk, tails of the 4-token and
  // 2-row tiles): every output equals the reference dot_row of its row, on every ISA.
  Rng rng(17);
  const int64_t tokens = 37, cols = 512;
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(formats::GgmlInfo(type).name);
    std::vector<float> x(tokens * cols);
    for (auto& v : x) v = static_cast<float>(rng.Gaussian());
    std::vector<uint8_t> s(static_cast<size_t>(Q8ActivationBytes(tokens, cols)));
    const Q8Activations a = QuantizeQ8(x.data(), tokens, cols, cols, GgmlDotGroupBlocks(type), s);
    std::vector<CanonBuf> bufs;
    for (int i = 0; i < 5; ++i) bufs.emplace_back(cols);
    std::vector<CanonRow> rows;
    std::vector<float> want(tokens * 5);
    for (int i = 0; i < 5; ++i) {
      const std::vector<uint8_t> row = RandomGgmlRow(type, cols, rng);
      ref::GgmlDecodeRow(type, row.data(), bufs[i].row);
      rows.push_back(bufs[i].row);
      ref::GgmlDotRow(bufs[i].row, a, want.data() + i, 5);
    }
    for (Int8Isa isa : GgmlDotIsas()) {
      for (int n = 1; n <= 5; ++n) {
        std::vector<float> got(tokens * 5, -1.0f);
        GgmlDotKernels(isa).dot_rows(rows.data(), n, a, got.data(), 5);
        for (int64_t t = 0; t < tokens; ++t) {
          for (int i = 0; i < 5; ++i) {
            if (i < n) {
              ASSERT_EQ(0, std::memcmp(&got[t * 5 + i], &want[t * 5 + i], 4)) << Int8IsaName(isa) << " rows " << n << " t " << t << " i " << i;
            } else {
              ASSERT_EQ(got[t * 5 + i], -1.0f) << "wrote outside its rows";
            }
          }
        }
      }
    }
  }
}

TEST(GgmlDot, QuadsRoundTripAndGiveEachRowsBits) {
  // Four rows packed once (q4_0, q5_0, q8_0, q4_k, q6_k): the layout holds the rows' bytes (unpacking gives them back;
  // q4_0 rows of whole 8-block chunks take exactly the rows' size); dot_quads over 1-3 quads equals
  // dot_raw on each row bit for bit, on every ISA, at 1-9 tokens (decode, the tile tails) and 37 (more
  // than one token chunk), for row lengths with a partial last chunk of groups (q4_0, q5_0, q8_0: 11 blocks; q4_k:
  // 6 and 9 super-blocks) and Qwen2.5-0.5B's 896 (q8_0: Gemma 3's 640). Extreme rows too: every code 15 (q5_0: 31; q8_0: -128; q4_k's
  // scales and mins 63; q6_k: 63 with scales -128, and 0 (code -32) with scales -128 in the next row), the largest
  // int16 sums of the kernels' register adds, against activations of +-127.
  Rng rng(29);
  EXPECT_FALSE(GgmlQuadSupported(GgmlType::kQ4_1));
  EXPECT_EQ(GgmlQuadBytes(GgmlType::kQ4_0, 512), 4 * *formats::GgmlRowBytes(GgmlType::kQ4_0, 512));
  EXPECT_EQ(GgmlQuadBytes(GgmlType::kQ6_K, 2048), 4 * *formats::GgmlRowBytes(GgmlType::kQ6_K, 2048));
  const std::pair<GgmlType, std::vector<int64_t>> cases[] = {{GgmlType::kQ4_0, {352, 896}},
                                                              {GgmlType::kQ5_0, {352, 896}},
                                                              {GgmlType::kQ8_0, {352, 640}},
                                                              {GgmlType::kQ4_K, {1536, 2304}},
                                                              {GgmlType::kQ6_K, {1536, 2304}}};
  for (const auto& [type, lengths] : cases) {
    ASSERT_TRUE(GgmlQuadSupported(type));
    for (int64_t cols : lengths) {
      SCOPED_TRACE(std::string(formats::GgmlInfo(type).name) + " cols " + std::to_string(cols));
      const int64_t rb = *formats::GgmlRowBytes(type, cols), qb = GgmlQuadBytes(type, cols);
      EXPECT_EQ(qb % 64, 0);
      const int nq = 3;
      std::vector<uint8_t> rows;
      for (int r = 0; r < 4 * nq; ++r) {
        std::vector<uint8_t> row = RandomGgmlRow(type, cols, rng);
        if (r == 5 && type == GgmlType::kQ4_0) {
          for (int64_t b = 0; b < cols / 32; ++b) std::memset(row.data() + b * 18 + 2, 0xff, 16);
        }
        if (r == 5 && type == GgmlType::kQ8_0) {
          for (int64_t b = 0; b < cols / 32; ++b) std::memset(row.data() + b * 34 + 2, 0x80, 32);  // -128
        }
        if (r == 5 && type == GgmlType::kQ5_0) {
          for (int64_t b = 0; b < cols / 32; ++b) std::memset(row.data() + b * 22 + 2, 0xff, 20);
        }
        if (r == 5 && type == GgmlType::kQ4_K) {
          for (int64_t sb = 0; sb < cols / 256; ++sb) std::memset(row.data() + sb * 144 + 4, 0xff, 140);
        }
        if ((r == 5 || r == 6) && type == GgmlType::kQ6_K) {
          for (int64_t sb = 0; sb < cols / 256; ++sb) {
            std::memset(row.data() + sb * 210, r == 5 ? 0xff : 0x00, 192);
            std::memset(row.data() + sb * 210 + 192, 0x80, 16);
          }
        }
        rows.insert(rows.end(), row.begin(), row.end());
      }
      std::vector<uint8_t> quads(static_cast<size_t>(nq * qb), 0xcd);
      for (int q = 0; q < nq; ++q) {
        GgmlPackQuad(type, rows.data() + 4 * q * rb, static_cast<size_t>(rb), cols, quads.data() + q * qb);
      }
      for (int r = 0; r < 4 * nq; ++r) {
        std::vector<uint8_t> back(static_cast<size_t>(rb));
        GgmlUnpackQuadRow(type, quads.data() + (r / 4) * qb, r % 4, cols, back.data());
        ASSERT_EQ(0, std::memcmp(back.data(), rows.data() + r * rb, static_cast<size_t>(rb))) << "row " << r;
      }
      for (int64_t tokens : {1, 2, 3, 4, 5, 6, 7, 8, 9, 37}) {
        std::vector<float> x(tokens * cols);
        for (auto& v : x) v = static_cast<float>(rng.Gaussian());
        for (int64_t j = 0; j < cols; ++j) x[j] = j % 2 ? 1.0f : -1.0f;  // token 0: codes +-127
        for (int64_t t = 1; t < std::min<int64_t>(tokens, 3); ++t) {
          for (int64_t j = 0; j < cols; ++j) x[t * cols + j] = t == 1 ? 1.0f : -1.0f;  // every code 127, then -127
        }
        std::vector<uint8_t> s(static_cast<size_t>(Q8ActivationBytes(tokens, cols)));
        const Q8Activations a = QuantizeQ8(x.data(), tokens, cols, cols, GgmlDotGroupBlocks(type), s);
        const int64_t ld = 4 * nq + 1;
        std::vector<float> want(static_cast<size_t>(tokens * ld), -1.0f);
        CanonBuf scratch(cols);
        for (int r = 0; r < 4 * nq; ++r) ref::GgmlDotRaw(type, rows.data() + r * rb, a, want.data() + r, ld, scratch.row);
        for (Int8Isa isa : GgmlDotIsas()) {
          for (int n = 1; n <= nq; ++n) {
            std::vector<float> got(static_cast<size_t>(tokens * ld), -1.0f);
            GgmlDotKernels(isa).dot_quads(type, quads.data(), n, a, got.data(), ld);
            for (int64_t t = 0; t < tokens; ++t) {
              for (int r = 0; r < ld; ++r) {
                if (r < 4 * n) {
                  ASSERT_EQ(0, std::memcmp(&got[t * ld + r], &want[t * ld + r], 4))
                      << Int8IsaName(isa) << " tokens " << tokens << " quads " << n << " t " << t << " row " << r;
                } else {
                  ASSERT_EQ(got[t * ld + r], -1.0f) << "wrote outside its rows";
                }
              }
            }
          }
        }
      }
    }
  }
}

TEST(GgmlDot, ExtremeCodesDoNotSaturate) {
  // q8_0 codes of -128 and activations of +-127 everywhere: the largest int16 pair sums of the AVX2
  // sign trick (2 * 128 * 127).
  const int64_t cols = 64;
  std::vector<uint8_t> row(static_cast<size_t>(*formats::GgmlRowBytes(GgmlType::kQ8_0, cols)));
  for (int b = 0; b < 2; ++b) {
    const uint16_t h = FloatToHalf(1.0f);
    row[b * 34] = static_cast<uint8_t>(h & 0xff);
    row[b * 34 + 1] = static_cast<uint8_t>(h >> 8);
    for (int j = 0; j < 32; ++j) row[b * 34 + 2 + j] = 0x80;  // -128
  }
  std::vector<float> x(cols, -127.0f);
  std::vector<uint8_t> s(static_cast<size_t>(Q8ActivationBytes(1, cols)));
  const Q8Activations a = QuantizeQ8(x.data(), 1, cols, cols, 1, s);
  CanonBuf c(cols);
  ref::GgmlDecodeRow(GgmlType::kQ8_0, row.data(), c.row);
  for (Int8Isa isa : GgmlDotIsas()) {
    float y = 0;
    GgmlDotKernels(isa).dot_row(c.row, a, &y, 1);
    EXPECT_EQ(y, 64.0f * 128.0f * 127.0f) << Int8IsaName(isa);
    CanonBuf scratch(cols);
    float yr = 0;
    GgmlDotKernels(isa).dot_raw(GgmlType::kQ8_0, row.data(), a, &yr, 1, scratch.row);
    EXPECT_EQ(yr, 64.0f * 128.0f * 127.0f) << Int8IsaName(isa) << " dot_raw";
  }
}

}  // namespace
}  // namespace qforge::kernels
