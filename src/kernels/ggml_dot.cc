// GGML integer dot products: activation quantization, the canonical-row layout, the scalar
// reference and ISA dispatch (ggml_dot.h).
#include "kernels/ggml_dot.h"

#include <cassert>
#include <cmath>
#include <cstring>

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
  return Align64(tokens * cols) * 2 + Align64(tokens * blocks * 4) * 2;
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
                         std::span<uint8_t> scratch) {
  assert(group_blocks >= 1 && cols % (kQ8Block * group_blocks) == 0);
  assert(static_cast<int64_t>(scratch.size()) >= Q8ActivationBytes(tokens, cols));
  const int64_t blocks = cols / kQ8Block;
  auto* q = reinterpret_cast<int8_t*>(scratch.data());
  auto* d = reinterpret_cast<float*>(scratch.data() + Align64(tokens * cols));
  auto* s = reinterpret_cast<int32_t*>(scratch.data() + Align64(tokens * cols) + Align64(tokens * blocks * 4));
  GgmlDotKernels().quantize(x, tokens, ldx, cols, group_blocks, q, d, s);
  Q8Activations a{tokens, cols, blocks, group_blocks, q, d, s};
  if (tokens > kGgmlDotFusedTokens) {  // the prefill kernels' unsigned view
    auto* qu = scratch.data() + Align64(tokens * cols) + 2 * Align64(tokens * blocks * 4);
    for (int64_t i = 0; i < tokens * cols; ++i) qu[i] = static_cast<uint8_t>(q[i]) ^ 0x80u;
    a.qu = qu;
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
}  // namespace ref

namespace {
const GgmlDotTable kGgmlDotScalarTable = {.isa = Int8Isa::kScalar,
                                          .decode_row = ref::GgmlDecodeRow,
                                          .dot_row = ref::GgmlDotRow,
                                          .dot_raw = ref::GgmlDotRaw,
                                          .dot_rows = ref::GgmlDotRows,
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
