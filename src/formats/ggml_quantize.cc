// QuantizeGgmlRows: the dispatcher, the unblocked types (f32 / f16 / bf16) and the 32-element and IQ4
// row quantizers, bit-exact with ggml's (see ggml_quantize.h). The k-quants are in ggml_quantize_k.cc;
// the scale searches both use (make_qx_quants, make_qkx3_quants, nearest_int) are in
// ggml_quantize_internal.h.
//
// What ggml_quantize_chunk (ggml/src/ggml.c) runs per type, and so what each QuantizeRow* mirrors
// (all in ggml/src/ggml-quants.c):
//   type     no imatrix                         imatrix (quant_weights != NULL)
//   q4_0     quantize_row_q4_0_ref              quantize_row_q4_0_impl: make_qx_quants(32, 8, rmse 1)
//   q4_1     quantize_row_q4_1_ref              quantize_row_q4_1_impl: make_qkx3_quants(32, 15)
//   q5_0     quantize_row_q5_0_ref              quantize_row_q5_0_impl: make_qx_quants(32, 16, rmse 1)
//   q5_1     quantize_row_q5_1_ref              quantize_row_q5_1_impl: make_qkx3_quants(32, 31)
//   q8_0     quantize_row_q8_0_ref              the same (quantize_q8_0 ignores quant_weights)
//   iq4_nl   quantize_iq4_nl(NULL): ntry = 7,    quantize_iq4_nl: ntry = 7,
//            weights x^2 (NOT quantize_row_      weights qw * sqrt(sigma2 + x^2)
//            iq4_nl_ref, which uses ntry = -1)
//   iq4_xs   quantize_iq4_xs(NULL) (= the _ref)  quantize_iq4_xs
// The imatrix variants weight element j of a block by qw[j] * sqrt(sigma2 + x[j]^2), where sigma2 is
// the mean of x^2 over the whole ROW (q4_0..q5_1) or 2 * mean x^2 over the super-block (iq4_nl: the
// 32-element block; iq4_xs: 256 elements).
#include "formats/ggml_quantize.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "formats/float16.h"
#include "formats/ggml_kquants.h"
#include "formats/ggml_quantize_internal.h"

namespace qforge::formats {

namespace {

namespace gi = ggml_internal;

// best_index_int8 (ggml-quants.c): index of the entry of the ascending table val[0..n) nearest to
// x, by binary search; on a tie between val[k-1] and val[k] the UPPER index k wins. Only the IQ4
// quantizers use it (with the 16-entry kIq4nlValues).
int BestIndexInt8(int n, const int8_t* val, float x) {
  if (x <= static_cast<float>(val[0])) return 0;
  if (x >= static_cast<float>(val[n - 1])) return n - 1;
  int ml = 0, mu = n - 1;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < static_cast<float>(val[mav])) {
      mu = mav;
    } else {
      ml = mav;
    }
  }
  return x - static_cast<float>(val[mu - 1]) < static_cast<float>(val[mu]) - x ? mu - 1 : mu;
}

// Writes a block struct to its (unaligned) place in the output row.
template <typename Block>
void PutQuantBlock(uint8_t* y, int64_t index, const Block& b) {
  std::memcpy(y + index * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

// sigma2 of the 32-element imatrix quantizers: sum of x^2 over the row, in order, divided by n.
float RowMeanSquare(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}

// weight[j] = qw[j] * sqrt(sigma2 + x[j]^2), the importance of the imatrix variants.
void ImatrixBlockWeights(const float* xb, const float* qw, float sigma2, int n, float* weight) {
  for (int j = 0; j < n; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// The signed value of largest magnitude of a block (the first one on ties; 0 for an all-zero block),
// as quantize_row_q4_0_ref / _q5_0_ref find it.

// Packs 32 5-bit codes (q4 low nibbles as Q4_0, bit 4 of code j into bit j of qh).
void PackQ5Codes(const uint8_t* codes, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < kGgmlQK / 2; ++j) {
    const uint8_t xi0 = codes[j];
    const uint8_t xi1 = codes[j + kGgmlQK / 2];
    qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((xi0 & 0x10u) >> 4) << j;
    qh |= ((xi1 & 0x10u) >> 4) << (j + kGgmlQK / 2);
  }
  std::memcpy(qh_bytes, &qh, sizeof(qh));
}

// quantize_row_iq4_nl_impl for one super-block of `super_block_size` elements made of 32-element
// blocks (32 for IQ4_NL: one block, no sub-block scales; 256 for IQ4_XS: 8 blocks with 6-bit scales
// relative to the f16 super-block scale). ntry is 7 on every path ggml_quantize_chunk takes. Writes
// the f16 scale to *dh, codes to q4 (super_block_size / 2 bytes, Q4_0 nibble order per 32), and for
// IQ4_XS scales_h / scales_l. qw: super_block_size weights or nullptr (then x^2).
void QuantizeIq4SuperBlock(int super_block_size, const float* x, uint16_t* dh, uint8_t* q4, uint16_t* scales_h,
                           uint8_t* scales_l, const float* qw, int ntry) {
  constexpr int kBlock = 32;
  const int8_t* values = kIq4nlValues;
  float scales[kQK_K / kBlock];
  float weight[kBlock];
  uint8_t L[kQK_K];

  float sigma2 = 0;
  for (int j = 0; j < super_block_size; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / static_cast<float>(super_block_size);

  std::memset(q4, 0, static_cast<size_t>(super_block_size / 2));
  *dh = FloatToHalf(0.f);

  const int nb = super_block_size / kBlock;
  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < nb; ++ib) {
    const float* xb = x + ib * kBlock;
    uint8_t* Lb = L + ib * kBlock;
    if (qw != nullptr) {
      for (int j = 0; j < kBlock; ++j) weight[j] = qw[ib * kBlock + j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    } else {
      for (int j = 0; j < kBlock; ++j) weight[j] = xb[j] * xb[j];
    }
    float amax = 0, max = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < gi::kGroupMaxEps) {  // codes of this block are set below from a zero scale
      scales[ib] = 0;
      continue;
    }
    const float v0 = static_cast<float>(values[0]);
    float d = ntry > 0 ? -max / v0 : max / v0;
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float al = id * xb[j];
      const int l = BestIndexInt8(16, values, al);
      Lb[j] = static_cast<uint8_t>(l);
      const float q = static_cast<float>(values[l]);
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = static_cast<float>(itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < kBlock; ++j) {
        const float al = id * xb[j];
        const int l = BestIndexInt8(16, values, al);
        const float q = static_cast<float>(values[l]);
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    const float abs_d = std::fabs(d);
    if (abs_d > amax_scale) {
      amax_scale = abs_d;
      max_scale = d;
    }
  }

  if (nb > 1) {
    // 6-bit signed sub-block scales l in [-32, 31] of d = -max_scale / 32, stored as l + 32. When
    // every block is zero, d is -0.0f and the stored f16 scale is 0x8000 (as in ggml).
    *scales_h = 0;
    const float d = -max_scale / 32;
    *dh = FloatToHalf(d);
    const float id = d != 0 ? 1 / d : 0.f;
    for (int ib = 0; ib < nb; ++ib) {
      int l = gi::NearestInt(id * scales[ib]);
      l = std::max(-32, std::min(31, l));
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0 ? 1 / dl : 0.f;
      uint8_t* Lb = L + ib * kBlock;
      const float* xb = x + ib * kBlock;
      for (int j = 0; j < kBlock; ++j) Lb[j] = static_cast<uint8_t>(BestIndexInt8(16, values, idl * xb[j]));
      l += 32;
      const uint8_t l_l = static_cast<uint8_t>(l & 0xf);
      const uint8_t l_h = static_cast<uint8_t>(l >> 4);
      if (ib % 2 == 0) {
        scales_l[ib / 2] = l_l;
      } else {
        scales_l[ib / 2] = static_cast<uint8_t>(scales_l[ib / 2] | (l_l << 4));
      }
      *scales_h = static_cast<uint16_t>(*scales_h | (l_h << 2 * (ib % 8)));
    }
  } else {
    // One block: the f32 scale itself is stored as f16, but the codes are chosen for the f32 scale.
    *dh = FloatToHalf(scales[0]);
    if (ntry > 0) {
      const float id = scales[0] != 0 ? 1 / scales[0] : 0;
      for (int j = 0; j < super_block_size; ++j) L[j] = static_cast<uint8_t>(BestIndexInt8(16, values, id * x[j]));
    }
  }

  for (int i = 0; i < super_block_size / kBlock; ++i) {
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
  }
}

// ntry of quantize_iq4_nl / quantize_iq4_xs (ggml-quants.c): 2 * 7 + 1 inverse scales around -127 / max.
constexpr int kIq4Ntry = 7;

using RowQuantizer = void (*)(const float* x, uint8_t* y, int64_t n, const float* qw);

RowQuantizer FindRowQuantizer(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0: return QuantizeRowQ4_0;
    case GgmlType::kQ4_1: return QuantizeRowQ4_1;
    case GgmlType::kQ5_0: return QuantizeRowQ5_0;
    case GgmlType::kQ5_1: return QuantizeRowQ5_1;
    case GgmlType::kQ8_0: return QuantizeRowQ8_0;
    case GgmlType::kQ2_K: return QuantizeRowQ2_K;
    case GgmlType::kQ3_K: return QuantizeRowQ3_K;
    case GgmlType::kQ4_K: return QuantizeRowQ4_K;
    case GgmlType::kQ5_K: return QuantizeRowQ5_K;
    case GgmlType::kQ6_K: return QuantizeRowQ6_K;
    case GgmlType::kIQ4_NL: return QuantizeRowIQ4_NL;
    case GgmlType::kIQ4_XS: return QuantizeRowIQ4_XS;
    default: return nullptr;
  }
}

}  // namespace

bool GgmlQuantizable(GgmlType type) {
  return type == GgmlType::kF32 || type == GgmlType::kF16 || type == GgmlType::kBF16 || FindRowQuantizer(type) != nullptr;
}

Status QuantizeGgmlRows(GgmlType type, std::span<const float> src, int64_t rows, int64_t cols,
                        std::span<const float> imatrix, std::span<uint8_t> out) {
  const GgmlTypeInfo* info = FindGgmlTypeInfo(static_cast<uint32_t>(type));
  if (info == nullptr || !GgmlQuantizable(type)) {
    return MakeError("cannot quantize to ggml type {} (qforge writes f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k "
                     "q3_k q4_k q5_k q6_k iq4_nl iq4_xs)",
                     info ? std::string(info->name) : std::to_string(static_cast<uint32_t>(type)));
  }
  if (rows < 0 || cols <= 0) return MakeError("ggml type {}: bad shape {} x {}", info->name, rows, cols);
  const std::optional<int64_t> row_bytes = GgmlRowBytes(type, cols);
  if (!row_bytes) {
    return MakeError("ggml type {}: a row of {} elements is not a multiple of the block size {}", info->name, cols,
                     info->block_size);
  }
  if (static_cast<int64_t>(src.size()) / cols < rows || static_cast<int64_t>(src.size()) != rows * cols) {
    return MakeError("ggml type {}: {} source values for {} x {}", info->name, src.size(), rows, cols);
  }
  if (static_cast<int64_t>(out.size()) != rows * *row_bytes) {
    return MakeError("ggml type {}: {} x {} needs {} bytes, the output has {}", info->name, rows, cols,
                     rows * *row_bytes, out.size());
  }
  if (!imatrix.empty() && static_cast<int64_t>(imatrix.size()) != cols) {
    return MakeError("ggml type {}: the importance matrix row has {} values, the tensor {} columns", info->name,
                     imatrix.size(), cols);
  }
  const float* qw = imatrix.empty() ? nullptr : imatrix.data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = src.data() + r * cols;
    uint8_t* y = out.data() + r * *row_bytes;
    switch (type) {
      case GgmlType::kF32: std::memcpy(y, x, static_cast<size_t>(cols) * 4); break;
      case GgmlType::kF16:
        for (int64_t j = 0; j < cols; ++j) {
          const uint16_t h = FloatToHalf(x[j]);
          std::memcpy(y + 2 * j, &h, 2);
        }
        break;
      case GgmlType::kBF16:
        for (int64_t j = 0; j < cols; ++j) {
          const uint16_t h = FloatToBF16(x[j]);
          std::memcpy(y + 2 * j, &h, 2);
        }
        break;
      default: FindRowQuantizer(type)(x, y, cols, qw); break;
    }
  }
  return Status::Ok();
}

// ---- 32-element types ----

namespace {

// The imatrix path of quantize_row_q4_0_impl / q5_0_impl for one block of 32: ggml's weights
// qw * sqrt(sigma2 + x^2), make_qx_quants with nmax (8 / 16, rmse type 1); codes 0 .. 2 nmax - 1 into L.
float WeightedSymmetricBlock(const float* xb, const float* qwb, float sigma2, int nmax, uint8_t* L) {
  float weight[kGgmlQK];
  int8_t l[kGgmlQK];
  ImatrixBlockWeights(xb, qwb, sigma2, kGgmlQK, weight);
  const float d = gi::MakeQxQuants(kGgmlQK, nmax, xb, l, 1, weight);
  for (int j = 0; j < kGgmlQK; ++j) L[j] = static_cast<uint8_t>(l[j]);
  return d;
}

// The imatrix path of quantize_row_q4_1_impl / q5_1_impl for one block of 32: the same weights,
// make_qkx3_quants with nmax (15 / 31) and ggml's search (-0.9, 0.05, 36 steps); *min as ggml returns it.
float WeightedAffineBlock(const float* xb, const float* qwb, float sigma2, int nmax, uint8_t* L, float* min) {
  float weight[kGgmlQK];
  uint8_t laux[kGgmlQK];
  ImatrixBlockWeights(xb, qwb, sigma2, kGgmlQK, weight);
  return gi::MakeQkxQuants(kGgmlQK, nmax, xb, weight, L, min, laux, -0.9f, 0.05f, 36, false);
}

}  // namespace

void QuantizeRowQ4_0(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kGgmlQK;
  if (qw == nullptr) {  // quantize_row_q4_0_ref: the extreme value maps to code 0 (-8 * d)
    for (int64_t i = 0; i < nb; ++i) {
      const float* xb = x + i * kGgmlQK;
      float amax_unused = 0;
      const float max = gi::SignedAbsMax(xb, kGgmlQK, &amax_unused);
      const float d = max / -8;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      BlockQ4_0 b;
      b.d = FloatToHalf(d);
      for (int j = 0; j < kGgmlQK / 2; ++j) {
        const float x0 = xb[j] * id;
        const float x1 = xb[j + kGgmlQK / 2] * id;
        const uint8_t xi0 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 8.5f))));
        const uint8_t xi1 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 8.5f))));
        b.qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
      }
      PutQuantBlock(y, i, b);
    }
    return;
  }
  const float sigma2 = RowMeanSquare(x, n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    uint8_t L[kGgmlQK];
    BlockQ4_0 b;
    b.d = FloatToHalf(WeightedSymmetricBlock(x + kGgmlQK * ib, qw + kGgmlQK * ib, sigma2, 8, L));
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    PutQuantBlock(y, ib, b);
  }
}

void QuantizeRowQ4_1(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kGgmlQK;
  if (qw == nullptr) {  // quantize_row_q4_1_ref: min/max grid, 15 steps
    for (int64_t i = 0; i < nb; ++i) {
      const float* xb = x + i * kGgmlQK;
      float min = FLT_MAX, max = -FLT_MAX;
      for (int j = 0; j < kGgmlQK; ++j) {
        if (xb[j] < min) min = xb[j];
        if (xb[j] > max) max = xb[j];
      }
      const float d = (max - min) / 15;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      BlockQ4_1 b;
      b.d = FloatToHalf(d);
      b.m = FloatToHalf(min);
      for (int j = 0; j < kGgmlQK / 2; ++j) {
        const float x0 = (xb[j] - min) * id;
        const float x1 = (xb[j + kGgmlQK / 2] - min) * id;
        const uint8_t xi0 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 0.5f))));
        const uint8_t xi1 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 0.5f))));
        b.qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
      }
      PutQuantBlock(y, i, b);
    }
    return;
  }
  const float sigma2 = RowMeanSquare(x, n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    uint8_t L[kGgmlQK];
    float min = 0;
    const float d = WeightedAffineBlock(x + kGgmlQK * ib, qw + kGgmlQK * ib, sigma2, 15, L, &min);
    BlockQ4_1 b;
    b.d = FloatToHalf(d);
    b.m = FloatToHalf(-min);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    PutQuantBlock(y, ib, b);
  }
}

void QuantizeRowQ5_0(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kGgmlQK;
  uint8_t codes[kGgmlQK];
  if (qw == nullptr) {  // quantize_row_q5_0_ref: the extreme value maps to code 0 (-16 * d)
    for (int64_t i = 0; i < nb; ++i) {
      const float* xb = x + i * kGgmlQK;
      float amax_unused = 0;
      const float max = gi::SignedAbsMax(xb, kGgmlQK, &amax_unused);
      const float d = max / -16;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      BlockQ5_0 b;
      b.d = FloatToHalf(d);
      for (int j = 0; j < kGgmlQK; ++j) {
        codes[j] = static_cast<uint8_t>(std::min(31, static_cast<int>(static_cast<int8_t>(xb[j] * id + 16.5f))));
      }
      PackQ5Codes(codes, b.qs, b.qh);
      PutQuantBlock(y, i, b);
    }
    return;
  }
  const float sigma2 = RowMeanSquare(x, n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    BlockQ5_0 b;
    b.d = FloatToHalf(WeightedSymmetricBlock(x + kGgmlQK * ib, qw + kGgmlQK * ib, sigma2, 16, codes));
    PackQ5Codes(codes, b.qs, b.qh);
    PutQuantBlock(y, ib, b);
  }
}

void QuantizeRowQ5_1(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kGgmlQK;
  uint8_t codes[kGgmlQK];
  if (qw == nullptr) {  // quantize_row_q5_1_ref: min/max grid, 31 steps (no clamp to 31, as ggml)
    for (int64_t i = 0; i < nb; ++i) {
      const float* xb = x + i * kGgmlQK;
      float min = FLT_MAX, max = -FLT_MAX;
      for (int j = 0; j < kGgmlQK; ++j) {
        if (xb[j] < min) min = xb[j];
        if (xb[j] > max) max = xb[j];
      }
      const float d = (max - min) / 31;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      BlockQ5_1 b;
      b.d = FloatToHalf(d);
      b.m = FloatToHalf(min);
      for (int j = 0; j < kGgmlQK; ++j) codes[j] = static_cast<uint8_t>((xb[j] - min) * id + 0.5f);
      PackQ5Codes(codes, b.qs, b.qh);
      PutQuantBlock(y, i, b);
    }
    return;
  }
  const float sigma2 = RowMeanSquare(x, n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    float min = 0;
    const float d = WeightedAffineBlock(x + kGgmlQK * ib, qw + kGgmlQK * ib, sigma2, 31, codes, &min);
    BlockQ5_1 b;
    b.d = FloatToHalf(d);
    b.m = FloatToHalf(-min);
    PackQ5Codes(codes, b.qs, b.qh);
    PutQuantBlock(y, ib, b);
  }
}

void QuantizeRowQ8_0(const float* x, uint8_t* y, int64_t n, const float* /*qw: ignored, as quantize_q8_0*/) {
  const int64_t nb = n / kGgmlQK;
  for (int64_t i = 0; i < nb; ++i) {  // quantize_row_q8_0_ref
    const float* xb = x + i * kGgmlQK;
    float amax = 0.0f;
    for (int j = 0; j < kGgmlQK; ++j) {
      const float ax = std::fabs(xb[j]);
      amax = amax > ax ? amax : ax;  // MAX(amax, fabsf(v)), also for NaN
    }
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ8_0 b;
    b.d = FloatToHalf(d);
    for (int j = 0; j < kGgmlQK; ++j) b.qs[j] = static_cast<int8_t>(std::round(xb[j] * id));
    PutQuantBlock(y, i, b);
  }
}

// ---- IQ4 ----

void QuantizeRowIQ4_NL(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kGgmlQK;
  for (int64_t ib = 0; ib < nb; ++ib) {
    BlockIQ4_NL b;
    uint16_t unused_h = 0;
    QuantizeIq4SuperBlock(kGgmlQK, x + kGgmlQK * ib, &b.d, b.qs, &unused_h, nullptr,
                          qw != nullptr ? qw + kGgmlQK * ib : nullptr, kIq4Ntry);
    PutQuantBlock(y, ib, b);
  }
}

void QuantizeRowIQ4_XS(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kQK_K;
  for (int64_t ib = 0; ib < nb; ++ib) {
    BlockIQ4_XS b;
    QuantizeIq4SuperBlock(kQK_K, x + kQK_K * ib, &b.d, b.qs, &b.scales_h, b.scales_l,
                          qw != nullptr ? qw + kQK_K * ib : nullptr, kIq4Ntry);
    PutQuantBlock(y, ib, b);
  }
}

}  // namespace qforge::formats
