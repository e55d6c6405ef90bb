// Integer grids: the primitives of int_grid.h and the kIntGrid codec family (families.h).
//
// QuantizedTensor layout for int grids (see quantized_tensor.h): codes row-packed LSB-first at
// `bits` per code; scales [rows, GroupsPerRow] ([1] for :tensor); zeros (asymmetric only) the same
// shape, one unpacked byte per scale (StorageBytes counts them bit-packed).
#include "formats/int_grid.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "formats/families.h"
#include "formats/float16.h"
#include "formats/packing.h"

namespace qforge::formats {

namespace {

// Picks a positive finite code of a float type (decoded by `dec`, codes ordered like magnitudes)
// for the value s >= 0, given a guess within one code of the nearest. Candidates are restricted to
// [1, max_code], which implements both edge conventions (never 0, never above the largest finite).
template <typename Decode>
uint32_t PickScaleCode(double s, uint32_t guess, uint32_t max_code, bool nearest, Decode dec) {
  // Beyond the largest finite value: saturate (distances in double could tie there).
  if (s >= static_cast<double>(dec(max_code))) return max_code;
  const uint32_t g = std::clamp<uint32_t>(guess, 1, max_code);
  const uint32_t first = g > 3 ? g - 2 : 1;
  const uint32_t last = std::min<uint32_t>(g + 2, max_code);
  uint32_t best = first;
  if (nearest) {
    double best_d = std::abs(static_cast<double>(dec(first)) - s);
    for (uint32_t c = first + 1; c <= last; ++c) {
      const double d = std::abs(static_cast<double>(dec(c)) - s);
      if (d < best_d || (d == best_d && (c & 1) == 0)) {
        best = c;
        best_d = d;
      }
    }
  } else {
    for (uint32_t c = first; c <= last; ++c) {
      if (static_cast<double>(dec(c)) <= s) best = c;  // the largest code not above s (or code 1)
    }
  }
  return best;
}

// A grid on which both ends of the range (hence, codes being monotonic, every value in it) code
// to the zero code is stored as an all-zero group (scale 0; zero 0 when asymmetric). This only
// happens with the smallest positive scale; it keeps the representation canonical, so quantizing
// the (all-zero) dequantized group gives the same scale and zero again.
GridParams Canonical(GridParams p, double lo, double hi) {
  if (p.scale > 0.0f && QuantizeValue(static_cast<float>(lo), p) == p.zero &&
      QuantizeValue(static_cast<float>(hi), p) == p.zero) {
    p.scale = 0.0f;
    if (!p.symmetric) p.zero = 0;
  }
  return p;
}

}  // namespace

float RoundScale(double s, ScaleType type, bool symmetric) {
  assert(s >= 0.0 && !std::isnan(s));
  if (s == 0.0) return 0.0f;
  const float approx = s > static_cast<double>(FLT_MAX) ? std::numeric_limits<float>::infinity()
                                                          : static_cast<float>(s);
  switch (type) {
    case ScaleType::kF32: {
      const uint32_t c = PickScaleCode(s, std::bit_cast<uint32_t>(approx), 0x7f7fffffu, symmetric,
                                       [](uint32_t b) { return std::bit_cast<float>(b); });
      return std::bit_cast<float>(c);
    }
    case ScaleType::kF16: {
      const uint32_t c = PickScaleCode(s, FloatToHalf(approx), 0x7bffu, symmetric,
                                       [](uint32_t b) { return HalfToFloat(static_cast<uint16_t>(b)); });
      return HalfToFloat(static_cast<uint16_t>(c));
    }
    case ScaleType::kBF16: {
      const uint32_t c = PickScaleCode(s, FloatToBF16(approx), 0x7f7fu, symmetric,
                                       [](uint32_t b) { return BF16ToFloat(static_cast<uint16_t>(b)); });
      return BF16ToFloat(static_cast<uint16_t>(c));
    }
    default:
      assert(false && "int grids store scales as f32, f16 or bf16");
      return static_cast<float>(s);
  }
}

GridParams GridFromRange(double lo, double hi, const GridOptions& opt) {
  assert(opt.bits >= 2 && opt.bits <= 8);
  assert(lo <= 0.0 && hi >= 0.0);
  GridParams p;
  p.bits = opt.bits;
  p.symmetric = opt.symmetric;
  if (opt.symmetric) {
    p.zero = 1 << (opt.bits - 1);
    const int qmax = p.zero - 1;
    const double amax = std::max(-lo, hi);
    if (!(amax > 0.0)) {
      p.scale = 0.0f;
      return p;
    }
    p.scale = RoundScale(amax / qmax, opt.scale_type, true);
    // Keep absmax on code +-qmax (idempotence): only a subnormal scale can miss it when rounded up.
    if (RoundHalfEven(static_cast<float>(amax) / p.scale) < static_cast<float>(qmax))
      p.scale = RoundScale(amax / qmax, opt.scale_type, false);
    return Canonical(p, lo, hi);
  }
  const int m = (1 << opt.bits) - 1;
  const double range = hi - lo;
  if (!(range > 0.0)) {
    p.zero = 0;
    p.scale = 0.0f;
    return p;
  }
  p.scale = RoundScale(range / m, opt.scale_type, false);
  const double z = std::nearbyint(-lo / static_cast<double>(p.scale));
  p.zero = static_cast<int>(std::clamp(z, 0.0, static_cast<double>(m)));
  return Canonical(p, lo, hi);
}

double GridSquaredError(std::span<const float> x, const GridParams& p) {
  double sum = 0.0;
  for (float v : x) {
    const double d = static_cast<double>(v) - static_cast<double>(DequantizeValue(QuantizeValue(v, p), p));
    sum += d * d;
  }
  return sum;
}

GridParams ComputeGridParams(std::span<const float> x, const GridOptions& opt) {
  float lo = 0.0f, hi = 0.0f;
  for (float v : x) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return SearchClip(lo, hi, opt, [&](const GridParams& p) { return GridSquaredError(x, p); });
}

namespace detail {

namespace {

GridOptions OptionsOf(const QuantScheme& s) {
  GridOptions o;
  o.bits = Info(s.format).bits;
  o.symmetric = s.symmetric;
  o.scale_type = s.scale_type;
  o.clip_search = s.clip_search;
  return o;
}

// Codes of one span with hoisted constants (the loop vectorises: divide, clamp, magic rounding).
void QuantizeSpan(const float* x, int64_t n, const GridParams& p, uint8_t* codes) {
  if (p.scale == 0.0f) {
    std::fill(codes, codes + n, static_cast<uint8_t>(p.zero));
    return;
  }
  const float s = p.scale;
  const float lo = static_cast<float>(p.MinCode() - p.zero), hi = static_cast<float>(p.MaxCode() - p.zero);
  const int zero = p.zero;
  for (int64_t i = 0; i < n; ++i) {
    float t = x[i] / s;
    t = t < lo ? lo : (t > hi ? hi : t);
    codes[i] = static_cast<uint8_t>(static_cast<int>(RoundHalfEven(t)) + zero);
  }
}

}  // namespace

Result<QuantizedTensor> QuantizeIntGrid(MatrixF32 w, const QuantScheme& s, ThreadPool* pool) {
  const GridOptions opt = OptionsOf(s);
  QuantizedTensor q;
  q.scheme = s;
  q.rows = w.rows;
  q.cols = w.cols;
  const int64_t row_bytes = q.RowBytes();
  const bool per_tensor = s.granularity == Granularity::kTensor;
  const int64_t groups = per_tensor ? 1 : s.GroupsPerRow(w.cols);
  const int64_t gsize = per_tensor ? w.cols : s.ElementsPerScale(w.cols);
  const int64_t num_scales = per_tensor ? 1 : w.rows * groups;
  q.codes.assign(static_cast<size_t>(w.rows * row_bytes), 0);
  q.scales.assign(static_cast<size_t>(num_scales), 0.0f);
  if (!s.symmetric) q.zeros.assign(static_cast<size_t>(num_scales), 0);

  GridParams tensor_grid;
  if (per_tensor) {
    // Range over the whole matrix (per-row partial min/max: exact, so thread-count independent);
    // the clip search error is summed per row, then over rows in row order.
    std::vector<float> row_lo(static_cast<size_t>(w.rows), 0.0f), row_hi(static_cast<size_t>(w.rows), 0.0f);
    ForEachRow(w.rows, pool, [&](int64_t r) {
      const float* x = w.Row(r);
      float lo = 0.0f, hi = 0.0f;
      for (int64_t c = 0; c < w.cols; ++c) {
        lo = std::min(lo, x[c]);
        hi = std::max(hi, x[c]);
      }
      row_lo[r] = lo;
      row_hi[r] = hi;
    });
    const double lo = w.rows ? *std::min_element(row_lo.begin(), row_lo.end()) : 0.0;
    const double hi = w.rows ? *std::max_element(row_hi.begin(), row_hi.end()) : 0.0;
    std::vector<double> row_err(static_cast<size_t>(w.rows));
    tensor_grid = SearchClip(lo, hi, opt, [&](const GridParams& p) {
      ForEachRow(w.rows, pool, [&](int64_t r) {
        row_err[r] = GridSquaredError(std::span<const float>(w.Row(r), static_cast<size_t>(w.cols)), p);
      });
      double sum = 0.0;
      for (double e : row_err) sum += e;
      return sum;
    });
    q.scales[0] = tensor_grid.scale;
    if (!s.symmetric) q.zeros[0] = static_cast<uint8_t>(tensor_grid.zero);
  }

  ForEachRow(w.rows, pool, [&](int64_t r) {
    std::vector<uint8_t> codes(static_cast<size_t>(w.cols));
    const float* x = w.Row(r);
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t begin = g * gsize, n = std::min(gsize, w.cols - begin);
      GridParams p = tensor_grid;
      if (!per_tensor) {
        p = ComputeGridParams(std::span<const float>(x + begin, static_cast<size_t>(n)), opt);
        q.scales[r * groups + g] = p.scale;
        if (!s.symmetric) q.zeros[r * groups + g] = static_cast<uint8_t>(p.zero);
      }
      QuantizeSpan(x + begin, n, p, codes.data() + begin);
    }
    PackBits(codes, opt.bits, std::span<uint8_t>(q.codes.data() + r * row_bytes, static_cast<size_t>(row_bytes)));
  });
  return q;
}

void DequantizeIntGrid(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool) {
  const QuantScheme& s = q.scheme;
  const int bits = Info(s.format).bits;
  const bool per_tensor = s.granularity == Granularity::kTensor;
  const int64_t groups = per_tensor ? 1 : s.GroupsPerRow(q.cols);
  const int64_t gsize = per_tensor ? q.cols : s.ElementsPerScale(q.cols);
  const int64_t row_bytes = q.RowBytes();
  ForEachRow(q.rows, pool, [&](int64_t r) {
    std::vector<uint8_t> codes(static_cast<size_t>(q.cols));
    UnpackBits(std::span<const uint8_t>(q.codes.data() + r * row_bytes, static_cast<size_t>(row_bytes)), bits, codes);
    float* y = out.Row(r);
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t idx = per_tensor ? 0 : r * groups + g;
      const float scale = q.scales[idx];
      const int zero = s.symmetric ? 1 << (bits - 1) : q.zeros[idx];
      const int64_t begin = g * gsize, end = std::min(begin + gsize, q.cols);
      for (int64_t c = begin; c < end; ++c) y[c] = static_cast<float>(static_cast<int>(codes[c]) - zero) * scale;
    }
  });
}

}  // namespace detail

}  // namespace qforge::formats
