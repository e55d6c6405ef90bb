// Float family: plain storage casts (f32 / f16 / bf16) and scaled minifloat grids (fp8_e4m3,
// fp8_e5m2, fp4_e2m1 per tensor / channel / group).
//
// Storage casts (granularity kNone): codes hold each element's little-endian bytes (4 for f32, 2 for
// f16/bf16), rows back to back; f16/bf16 round to nearest even (float16.h); no scales.
//
// Scaled minifloats: for each scale group (the whole matrix, one row, or `group_size` consecutive
// elements of a row, the last one possibly shorter),
//   scale = absmax / max_finite(format)     (448 for E4M3, 57344 for E5M2, 6 for E2M1),
// rounded UP to the scheme's scale storage type (f32/f16/bf16) so that absmax / scale stays within
// the format's range (saturation is then never needed for the group maximum, beyond one rounding
// step of the element format); element code = Encode(x / scale) with round-to-nearest-even and
// saturation (formats/minifloat.h); decode = Decode(code) * scale. A group whose absmax is 0 gets
// scale 0 and codes 0. A scale that overflows its storage type (e.g. absmax > 65504 * 448 with f16
// scales for E4M3) is an error naming the row and group, not a silent clamp.
// Codes: 8-bit formats one byte per element; E2M1 packed two per byte, low nibble first
// (formats/packing.h), each row starting on a byte boundary.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "formats/families.h"
#include "formats/float16.h"
#include "formats/minifloat.h"
#include "formats/packing.h"

namespace qforge::formats::detail {

namespace {

struct ElementCodec {
  float max_finite;
  uint8_t (*encode)(float);
  float (*decode)(uint8_t);
};

uint8_t EncodeE5M2Saturating(float x) { return EncodeE5M2(x); }

ElementCodec CodecFor(DType t) {
  switch (t) {
    case DType::kF8E4M3: return {kE4M3Max, EncodeE4M3, DecodeE4M3};
    case DType::kF8E5M2: return {kE5M2Max, EncodeE5M2Saturating, DecodeE5M2};
    case DType::kFP4E2M1: return {kE2M1Max, EncodeE2M1, DecodeE2M1};
    default: break;
  }
  assert(false && "not a minifloat element format");
  return {1.0f, EncodeE4M3, DecodeE4M3};
}

// The smallest value of storage type `t` that is >= s (s > 0 finite); inf when none is finite.
float RoundScaleUp(float s, ScaleType t) {
  switch (t) {
    case ScaleType::kF16: {
      uint16_t h = FloatToHalf(s);
      if (HalfToFloat(h) < s) ++h;  // positive codes are ordered like their values
      return HalfToFloat(h);
    }
    case ScaleType::kBF16: {
      uint16_t b = FloatToBF16(s);
      if (BF16ToFloat(b) < s) ++b;
      return BF16ToFloat(b);
    }
    default: return s;  // f32
  }
}

float AbsMax(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

Result<QuantizedTensor> QuantizeStorage(MatrixF32 w, const QuantScheme& s, ThreadPool* pool) {
  QuantizedTensor q;
  q.scheme = s;
  q.rows = w.rows;
  q.cols = w.cols;
  const int64_t row_bytes = q.RowBytes();
  q.codes.resize(static_cast<size_t>(w.rows * row_bytes));
  ForEachRow(w.rows, pool, [&](int64_t r) {
    const float* x = w.Row(r);
    uint8_t* out = q.codes.data() + r * row_bytes;
    for (int64_t c = 0; c < w.cols; ++c) {
      switch (s.format) {
        case DType::kF32: {
          uint32_t bits;
          std::memcpy(&bits, &x[c], 4);
          for (int k = 0; k < 4; ++k) out[4 * c + k] = static_cast<uint8_t>(bits >> (8 * k));
          break;
        }
        case DType::kF16:
        case DType::kBF16: {
          const uint16_t h = s.format == DType::kF16 ? FloatToHalf(x[c]) : FloatToBF16(x[c]);
          out[2 * c] = static_cast<uint8_t>(h);
          out[2 * c + 1] = static_cast<uint8_t>(h >> 8);
          break;
        }
        default: assert(false);
      }
    }
  });
  return q;
}

void DequantizeStorage(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool) {
  const int64_t row_bytes = q.RowBytes();
  ForEachRow(q.rows, pool, [&](int64_t r) {
    const uint8_t* in = q.codes.data() + r * row_bytes;
    float* y = out.Row(r);
    for (int64_t c = 0; c < q.cols; ++c) {
      if (q.scheme.format == DType::kF32) {
        uint32_t bits = 0;
        for (int k = 0; k < 4; ++k) bits |= static_cast<uint32_t>(in[4 * c + k]) << (8 * k);
        std::memcpy(&y[c], &bits, 4);
      } else {
        const uint16_t h = static_cast<uint16_t>(in[2 * c] | (in[2 * c + 1] << 8));
        y[c] = q.scheme.format == DType::kF16 ? HalfToFloat(h) : BF16ToFloat(h);
      }
    }
  });
}

}  // namespace

Result<QuantizedTensor> QuantizeFloat(MatrixF32 w, const QuantScheme& s, ThreadPool* pool) {
  if (Info(s.format).kind == FormatKind::kStorage) return QuantizeStorage(w, s, pool);
  const ElementCodec codec = CodecFor(s.format);
  const int bits = Info(s.format).bits;
  QuantizedTensor q;
  q.scheme = s;
  q.rows = w.rows;
  q.cols = w.cols;
  const int64_t row_bytes = q.RowBytes();
  q.codes.assign(static_cast<size_t>(w.rows * row_bytes), 0);

  // Scale layout: [1] per tensor, [rows] per channel, [rows, groups] per group.
  const bool per_tensor = s.granularity == Granularity::kTensor;
  const int64_t groups = per_tensor ? 1 : s.GroupsPerRow(w.cols);
  const int64_t group_len = s.granularity == Granularity::kGroup ? s.group_size : w.cols;
  q.scales.assign(static_cast<size_t>(per_tensor ? 1 : w.rows * groups), 0.0f);

  // Pass 1: scales. overflow[r] = 1 + the first group of row r whose scale overflows its storage.
  std::vector<int64_t> overflow(static_cast<size_t>(per_tensor ? 1 : w.rows), 0);
  auto make_scale = [&](float absmax, float* scale) {
    if (absmax == 0.0f) return true;
    *scale = RoundScaleUp(absmax / codec.max_finite, s.scale_type);
    return std::isfinite(*scale);
  };
  if (per_tensor) {
    float m = 0.0f;
    for (int64_t r = 0; r < w.rows; ++r) m = std::max(m, AbsMax(w.Row(r), w.cols));
    if (!make_scale(m, &q.scales[0])) overflow[0] = 1;
  } else {
    ForEachRow(w.rows, pool, [&](int64_t r) {
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t begin = g * group_len, end = std::min(begin + group_len, w.cols);
        if (!make_scale(AbsMax(w.Row(r) + begin, end - begin), &q.scales[r * groups + g]) && overflow[r] == 0)
          overflow[r] = 1 + g;
      }
    });
  }
  for (size_t r = 0; r < overflow.size(); ++r) {
    if (overflow[r] == 0) continue;
    const std::string where = per_tensor ? std::string("the tensor scale")
                                         : fmt::format("the scale of row {} group {}", r, overflow[r] - 1);
    return MakeError("cannot quantize to {}: {} overflows its storage type; use :scale=f32 or a finer granularity",
                     s.Name(), where);
  }

  // Pass 2: element codes.
  ForEachRow(w.rows, pool, [&](int64_t r) {
    const float* x = w.Row(r);
    std::vector<uint8_t> row_codes(static_cast<size_t>(bits == 8 ? 0 : w.cols));
    uint8_t* out = q.codes.data() + r * row_bytes;
    for (int64_t g = 0; g < groups; ++g) {
      const float scale = q.scales[per_tensor ? 0 : r * groups + g];
      const int64_t begin = g * group_len, end = std::min(begin + group_len, w.cols);
      for (int64_t c = begin; c < end; ++c) {
        const uint8_t code = scale == 0.0f ? 0 : codec.encode(x[c] / scale);
        if (bits == 8) {
          out[c] = code;
        } else {
          row_codes[c] = code;
        }
      }
    }
    if (bits != 8) PackBits(row_codes, bits, std::span<uint8_t>(out, static_cast<size_t>(row_bytes)));
  });
  return q;
}

void DequantizeFloat(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool) {
  if (Info(q.scheme.format).kind == FormatKind::kStorage) return DequantizeStorage(q, out, pool);
  const ElementCodec codec = CodecFor(q.scheme.format);
  const int bits = Info(q.scheme.format).bits;
  const bool per_tensor = q.scheme.granularity == Granularity::kTensor;
  const int64_t groups = per_tensor ? 1 : q.scheme.GroupsPerRow(q.cols);
  const int64_t group_len = q.scheme.granularity == Granularity::kGroup ? q.scheme.group_size : q.cols;
  const int64_t row_bytes = q.RowBytes();
  ForEachRow(q.rows, pool, [&](int64_t r) {
    const uint8_t* in = q.codes.data() + r * row_bytes;
    float* y = out.Row(r);
    for (int64_t g = 0; g < groups; ++g) {
      const float scale = q.scales[per_tensor ? 0 : r * groups + g];
      const int64_t begin = g * group_len, end = std::min(begin + group_len, q.cols);
      for (int64_t c = begin; c < end; ++c) {
        const uint8_t code = bits == 8 ? in[c] : GetCode(in, bits, c);
        y[c] = codec.decode(code) * scale;
      }
    }
  });
}

}  // namespace qforge::formats::detail
