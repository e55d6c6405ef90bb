// GGML integer dot products: activation quantization, the canonical-row layout, the scalar
// reference and ISA dispatch (ggml_dot.h).
#include "kernels/ggml_dot.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <vector>

namespace qforge::kernels {

namespace ggml_dot_avx2 {
const GgmlDotTable* Table();
}

namespace {
#include "kernels/ggml_dot_decode.inc"

int64_t Align64(int64_t n) { return (n + 63) / 64 * 64; }
}  // namespace

bool GgmlDotSupported(formats::GgmlType type) {
  using formats::GgmlType;
  return type == GgmlType::kQ8_0 || type == GgmlType::kQ4_0 || type == GgmlType::kQ5_0 || type == GgmlType::kQ4_K ||
         type == GgmlType::kQ6_K;
}

const char* GgmlDotSupportedNames() { return "q8_0, q4_0, q5_0, q4_k, q6_k"; }

int64_t Q8ActivationBytes(int64_t tokens, int64_t cols) {
  const int64_t blocks = cols / kQ8Block;
  return Align64(tokens * cols) * 2 + Align64(tokens * blocks * 4) * 2 + Align64(tokens * (cols / 16) * 2);
}

int GgmlDotGroupBlocks(formats::GgmlType type) {
  return type == formats::GgmlType::kQ4_K || type == formats::GgmlType::kQ6_K ? 8 : 1;
}

namespace ref {
void QuantizeQ8Groups(const float* x, int64_t tokens, int64_t ldx, int64_t cols, int group_blocks, int8_t* q, float* d,
                      int32_t* s) {
  const int64_t blocks = cols / kQ8Block, glen = kQ8Block * group_blocks;
  for (int64_t t = 0; t < tokens; ++t) {
    const float* xr = x + t * ldx;
    for (int64_t g = 0; g < cols / glen; ++g) {
      const float* xg = xr + g * glen;
      float amax = 0.0f;
      for (int64_t j = 0; j < glen; ++j) amax = std::fmax(amax, std::fabs(xg[j]));
      const float dg = amax / 127.0f;
      for (int bi = 0; bi < group_blocks; ++bi) {
        const int64_t b = g * group_blocks + bi;
        const float* xb = xr + b * kQ8Block;
        int8_t* qb = q + t * cols + b * kQ8Block;
        int32_t sum = 0;
        for (int j = 0; j < kQ8Block; ++j) {
          // fmax first: a NaN quotient (a NaN or infinite activation) becomes -127, as the SIMD
          // max with the bound second does.
          const float v = dg > 0.0f ? std::fmin(std::fmax(std::nearbyint(xb[j] / dg), -127.0f), 127.0f) : 0.0f;
          qb[j] = static_cast<int8_t>(v);
          sum += qb[j];
        }
        d[t * blocks + b] = dg;
        s[t * blocks + b] = sum;
      }
    }
  }
}
}  // namespace ref

Q8Activations QuantizeQ8(const float* x, int64_t tokens, int64_t ldx, int64_t cols, int group_blocks,
                         std::span<uint8_t> scratch, bool unsigned_view, bool sums16) {
  assert(group_blocks >= 1 && cols % (kQ8Block * group_blocks) == 0);
  assert(static_cast<int64_t>(scratch.size()) >= Q8ActivationBytes(tokens, cols));
  const int64_t blocks = cols / kQ8Block;
  auto* q = reinterpret_cast<int8_t*>(scratch.data());
  auto* d = reinterpret_cast<float*>(scratch.data() + Align64(tokens * cols));
  auto* s = reinterpret_cast<int32_t*>(scratch.data() + Align64(tokens * cols) + Align64(tokens * blocks * 4));
  GgmlDotKernels().quantize(x, tokens, ldx, cols, group_blocks, q, d, s);
  Q8Activations a{tokens, cols, blocks, group_blocks, q, d, s};
  if (unsigned_view && tokens > kGgmlDotFusedTokens) {  // the prefill panels' unsigned view
    auto* qu = scratch.data() + Align64(tokens * cols) + 2 * Align64(tokens * blocks * 4);
    for (int64_t i = 0; i < tokens * cols; ++i) qu[i] = static_cast<uint8_t>(q[i]) ^ 0x80u;
    a.qu = qu;
  }
  if (sums16 && group_blocks == 8) {  // the q6_k quads' 16-value sums
    auto* s16 = reinterpret_cast<int16_t*>(scratch.data() + 2 * Align64(tokens * cols) + 2 * Align64(tokens * blocks * 4));
    for (int64_t i = 0; i < tokens * cols / 16; ++i) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += q[16 * i + j];
      s16[i] = static_cast<int16_t>(sum);
    }
    a.sum16 = s16;
  }
  return a;
}

int64_t CanonRowBytes(int64_t cols) {
  const int64_t blocks = cols / kQ8Block;
  return Align64(cols) + 5 * Align64(blocks * 4);
}

CanonRow MakeCanonRow(int64_t cols, std::span<uint8_t> scratch) {
  assert(cols % kQ8Block == 0);
  assert(static_cast<int64_t>(scratch.size()) >= CanonRowBytes(cols));
  assert(reinterpret_cast<uintptr_t>(scratch.data()) % 4 == 0);
  CanonRow r;
  r.cols = cols;
  r.blocks = cols / kQ8Block;
  uint8_t* p = scratch.data();
  r.code = reinterpret_cast<int8_t*>(p);
  p += Align64(cols);
  const int64_t fb = Align64(r.blocks * 4);
  r.wd = reinterpret_cast<float*>(p);
  r.la = reinterpret_cast<int32_t*>(p + fb);
  r.lb = reinterpret_cast<int32_t*>(p + 2 * fb);
  r.wmin = reinterpret_cast<float*>(p + 3 * fb);
  r.wm = reinterpret_cast<int32_t*>(p + 4 * fb);
  return r;
}

bool GgmlQuadSupported(formats::GgmlType type) {
  return type == formats::GgmlType::kQ4_0 || type == formats::GgmlType::kQ5_0 || type == formats::GgmlType::kQ8_0 ||
         type == formats::GgmlType::kQ4_K || type == formats::GgmlType::kQ6_K;
}

namespace {
// Quads are chunks of up to 8 groups (q4_0, q5_0, q8_0: 32-blocks; q4_k, q6_k: 256-element super-blocks); a
// chunk holds each group's interleaved code bytes (and for q4_k its unpacked scales and mins, for q6_k its
// scales), then (q5_0) the high bits and the four rows' f16 scales, 8 per row (q4_k: d, then dmin).
struct QuadGeom {
  int64_t group_cols, group_bytes, tail_bytes, row_group_bytes;
};
QuadGeom QuadGeometry(formats::GgmlType type) {
  if (type == formats::GgmlType::kQ4_K) return {256, 512 + 32 + 32, 128, 144};
  if (type == formats::GgmlType::kQ6_K) return {256, 768 + 64, 64, 210};
  if (type == formats::GgmlType::kQ5_0) return {32, 64, 128 + 64, 22};
  if (type == formats::GgmlType::kQ8_0) return {32, 128, 64, 34};
  return {32, 64, 64, formats::kQ4_0BlockBytes};
}
constexpr int64_t kQuadChunkGroups = 8;

// The 12 packed bytes of a q4_k super-block <-> its eight 6-bit scales and mins (a bijection: all
// 96 bits are used).
void UnpackK4(const uint8_t* p, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = p[j] & 63;
    mn[j] = p[j + 4] & 63;
    sc[j + 4] = static_cast<uint8_t>((p[j + 8] & 0x0f) | ((p[j] >> 6) << 4));
    mn[j + 4] = static_cast<uint8_t>((p[j + 8] >> 4) | ((p[j + 4] >> 6) << 4));
  }
}
void PackK4(const uint8_t sc[8], const uint8_t mn[8], uint8_t* p) {
  for (int j = 0; j < 4; ++j) {
    p[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    p[j + 4] = static_cast<uint8_t>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
    p[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0f) | ((mn[j + 4] & 0x0f) << 4));
  }
}
}  // namespace

int64_t GgmlQuadBytes(formats::GgmlType type, int64_t cols) {
  const QuadGeom g = QuadGeometry(type);
  assert(GgmlQuadSupported(type) && cols % g.group_cols == 0);
  const int64_t ng = cols / g.group_cols;
  return ng * g.group_bytes + (ng + kQuadChunkGroups - 1) / kQuadChunkGroups * g.tail_bytes;
}

// Chunk layouts (n groups in the chunk, group j at j * group_bytes, the scales at n * group_bytes):
//   q4_0: group j = [r0 r1 r2 r3 code bytes 0-7 | r0 r1 r2 r3 code bytes 8-15]; scales: row i's 8 f16
//         d at 16 i.
//   q5_0: group j as q4_0 (the low 4 bits); then the high bits, block j's four rows' qh words at 16 j
//         (128 bytes, zeros past the n-th), and the d as q4_0's at 128 + 16 i.
//   q8_0: group j = for k = 0..3, 32 bytes at 32 k: [r0 r1 r2 r3 codes 8 k .. 8 k + 7]; scales as q4_0's.
//   q4_k: group j = for each pair p of 32-blocks (0..3) and c (0..3), 32 bytes at 128 p + 32 c:
//         [r0 r1 r2 r3 qs bytes 32 p + 8 c .. + 8]; at 512: the 6-bit scales as bytes [sub-block][row];
//         at 544: the mins as bytes [row][sub-block]; scales: row i's 8 f16 d at 16 i, dmin at 64 + 16 i.
//   q6_k: group j = for c = 0..23, 32 bytes at 32 c: [r0 r1 r2 r3 bytes 8 c .. 8 c + 7 of ql, then qh] (the
//         super-block's first 192 bytes: ql chunks at 0-511, qh chunks at 512-767); at 768, per pair m
//         of 16-value sub-blocks (0..7), 8 bytes: [r0 r1 r2 r3 int8 scales 2 m, 2 m + 1]; scales: row
//         i's 8 f16 d at 16 i.
void GgmlPackQuad(formats::GgmlType type, const uint8_t* row0, size_t stride, int64_t cols, uint8_t* dst) {
  const QuadGeom g = QuadGeometry(type);
  assert(GgmlQuadSupported(type) && cols % g.group_cols == 0);
  const int64_t ng = cols / g.group_cols;
  const bool k4 = type == formats::GgmlType::kQ4_K, q5 = type == formats::GgmlType::kQ5_0, q8 = type == formats::GgmlType::kQ8_0;
  const bool k6 = type == formats::GgmlType::kQ6_K;
  uint8_t* o = dst;
  for (int64_t c0 = 0; c0 < ng; c0 += kQuadChunkGroups) {
    const int64_t n = std::min(kQuadChunkGroups, ng - c0);
    uint8_t* tail = o + n * g.group_bytes;
    std::memset(tail, 0, static_cast<size_t>(g.tail_bytes));
    for (int64_t j = 0; j < n; ++j) {
      uint8_t* gp = o + j * g.group_bytes;
      for (int i = 0; i < 4; ++i) {
        const uint8_t* src = row0 + i * stride + (c0 + j) * g.row_group_bytes;
        if (q8) {
          for (int k = 0; k < 4; ++k) std::memcpy(gp + 32 * k + 8 * i, src + 2 + 8 * k, 8);
          std::memcpy(tail + 16 * i + 2 * j, src, 2);
          continue;
        }
        if (k6) {
          for (int c = 0; c < 24; ++c) std::memcpy(gp + 32 * c + 8 * i, src + 8 * c, 8);
          for (int m = 0; m < 8; ++m) std::memcpy(gp + 768 + 8 * m + 2 * i, src + 192 + 2 * m, 2);
          std::memcpy(tail + 16 * i + 2 * j, src + 208, 2);
          continue;
        }
        if (!k4) {
          const int qs = q5 ? 6 : 2;  // q5_0: d, qh, qs; q4_0: d, qs
          std::memcpy(gp + 8 * i, src + qs, 8);
          std::memcpy(gp + 32 + 8 * i, src + qs + 8, 8);
          if (q5) std::memcpy(tail + 16 * j + 4 * i, src + 2, 4);
          std::memcpy(tail + (q5 ? 128 : 0) + 16 * i + 2 * j, src, 2);
          continue;
        }
        for (int p = 0; p < 4; ++p) {
          for (int c = 0; c < 4; ++c) std::memcpy(gp + 128 * p + 32 * c + 8 * i, src + 16 + 32 * p + 8 * c, 8);
        }
        uint8_t sc[8], mn[8];
        UnpackK4(src + 4, sc, mn);
        for (int sb = 0; sb < 8; ++sb) {
          gp[512 + 4 * sb + i] = sc[sb];
          gp[544 + 8 * i + sb] = mn[sb];
        }
        std::memcpy(tail + 16 * i + 2 * j, src, 2);
        std::memcpy(tail + 64 + 16 * i + 2 * j, src + 2, 2);
      }
    }
    o += n * g.group_bytes + g.tail_bytes;
  }
}

void GgmlUnpackQuadRow(formats::GgmlType type, const uint8_t* quad, int i, int64_t cols, uint8_t* row) {
  const QuadGeom g = QuadGeometry(type);
  assert(GgmlQuadSupported(type) && cols % g.group_cols == 0 && i >= 0 && i < 4);
  const int64_t ng = cols / g.group_cols;
  const bool k4 = type == formats::GgmlType::kQ4_K, q5 = type == formats::GgmlType::kQ5_0, q8 = type == formats::GgmlType::kQ8_0;
  const bool k6 = type == formats::GgmlType::kQ6_K;
  const uint8_t* o = quad;
  for (int64_t c0 = 0; c0 < ng; c0 += kQuadChunkGroups) {
    const int64_t n = std::min(kQuadChunkGroups, ng - c0);
    const uint8_t* tail = o + n * g.group_bytes;
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t* gp = o + j * g.group_bytes;
      uint8_t* dst = row + (c0 + j) * g.row_group_bytes;
      if (q8) {
        std::memcpy(dst, tail + 16 * i + 2 * j, 2);
        for (int k = 0; k < 4; ++k) std::memcpy(dst + 2 + 8 * k, gp + 32 * k + 8 * i, 8);
        continue;
      }
      if (k6) {
        for (int c = 0; c < 24; ++c) std::memcpy(dst + 8 * c, gp + 32 * c + 8 * i, 8);
        for (int m = 0; m < 8; ++m) std::memcpy(dst + 192 + 2 * m, gp + 768 + 8 * m + 2 * i, 2);
        std::memcpy(dst + 208, tail + 16 * i + 2 * j, 2);
        continue;
      }
      if (!k4) {
        const int qs = q5 ? 6 : 2;
        std::memcpy(dst, tail + (q5 ? 128 : 0) + 16 * i + 2 * j, 2);
        if (q5) std::memcpy(dst + 2, tail + 16 * j + 4 * i, 4);
        std::memcpy(dst + qs, gp + 8 * i, 8);
        std::memcpy(dst + qs + 8, gp + 32 + 8 * i, 8);
        continue;
      }
      std::memcpy(dst, tail + 16 * i + 2 * j, 2);
      std::memcpy(dst + 2, tail + 64 + 16 * i + 2 * j, 2);
      uint8_t sc[8], mn[8];
      for (int sb = 0; sb < 8; ++sb) {
        sc[sb] = gp[512 + 4 * sb + i];
        mn[sb] = gp[544 + 8 * i + sb];
      }
      PackK4(sc, mn, dst + 4);
      for (int p = 0; p < 4; ++p) {
        for (int c = 0; c < 4; ++c) std::memcpy(dst + 16 + 32 * p + 8 * c, gp + 128 * p + 32 * c + 8 * i, 8);
      }
    }
    o += n * g.group_bytes + g.tail_bytes;
  }
}

namespace ref {

void GgmlDecodeRow(formats::GgmlType type, const uint8_t* row, CanonRow& out) { DecodeRowImpl(type, row, out); }

void GgmlDotRow(const CanonRow& w, const Q8Activations& x, float* y, int64_t ldy) {
  assert(w.group_blocks == x.group_blocks && w.blocks == x.blocks);
  const int gb = w.group_blocks;
  for (int64_t t = 0; t < x.tokens; ++t) {
    const int8_t* xq = x.q + t * x.cols;
    const float* xd = x.d + t * x.blocks;
    const int32_t* xs = x.sum + t * x.blocks;
    float acc[8] = {};
    for (int64_t g = 0; g < w.blocks; g += gb) {
      int32_t sum = 0, mins = 0;
      for (int64_t b = g; b < g + gb; ++b) {
        for (int i = 0; i < kQ8Block; ++i) {
          const int64_t e = b * kQ8Block + i;
          sum += static_cast<int32_t>(w.code[e]) * static_cast<int32_t>(xq[e]) * (i < 16 ? w.la[b] : w.lb[b]);
        }
        mins += w.wm[b] * xs[b];
      }
      float& a = acc[(g / gb) % 8];
      a = std::fma(w.wd[g] * xd[g], static_cast<float>(sum), a);
      if (w.has_min) a = std::fma(-(w.wmin[g] * xd[g]), static_cast<float>(mins), a);
    }
    y[t * ldy] = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  }
}

void GgmlDotRaw(formats::GgmlType type, const uint8_t* row, const Q8Activations& x, float* y, int64_t ldy,
                CanonRow& scratch) {
  GgmlDecodeRow(type, row, scratch);
  GgmlDotRow(scratch, x, y, ldy);
}
void GgmlDotRows(const CanonRow* rows, int nrows, const Q8Activations& x, float* y, int64_t ldy) {
  for (int i = 0; i < nrows; ++i) GgmlDotRow(rows[i], x, y + i, ldy);
}
void GgmlDotQuads(formats::GgmlType type, const uint8_t* quads, int64_t nquads, const Q8Activations& x, float* y,
                  int64_t ldy) {
  const int64_t qb = GgmlQuadBytes(type, x.cols);
  std::vector<uint8_t> row(static_cast<size_t>(*formats::GgmlRowBytes(type, x.cols)));
  std::vector<uint8_t> scratch(static_cast<size_t>(CanonRowBytes(x.cols)) + 4);
  const size_t pad = (4 - reinterpret_cast<uintptr_t>(scratch.data()) % 4) % 4;
  CanonRow canon = MakeCanonRow(x.cols, std::span<uint8_t>(scratch.data() + pad, scratch.size() - pad));
  for (int64_t q = 0; q < nquads; ++q) {
    for (int i = 0; i < 4; ++i) {
      GgmlUnpackQuadRow(type, quads + q * qb, i, x.cols, row.data());
      GgmlDotRaw(type, row.data(), x, y + 4 * q + i, ldy, canon);
    }
  }
}
}  // namespace ref

namespace {
const GgmlDotTable kGgmlDotScalarTable = {.isa = Int8Isa::kScalar,
                                          .decode_row = ref::GgmlDecodeRow,
                                          .dot_row = ref::GgmlDotRow,
                                          .dot_raw = ref::GgmlDotRaw,
                                          .dot_rows = ref::GgmlDotRows,
                                          .dot_quads = ref::GgmlDotQuads,
                                          .quantize = ref::QuantizeQ8Groups};
}

const GgmlDotTable& GgmlDotKernels(Int8Isa isa) {
  assert(Int8IsaSupported(isa));
  // The AVX2 kernels serve AVX-512 machines too (a VNNI version would give the same bits).
  if (isa == Int8Isa::kScalar) return kGgmlDotScalarTable;
  return *ggml_dot_avx2::Table();
}

const GgmlDotTable& GgmlDotKernels() {
  static const GgmlDotTable& k = GgmlDotKernels(ActiveInt8Isa());
  return k;
}

}  // namespace qforge::kernels
