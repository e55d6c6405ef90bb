// Codebook family (nf4, fp4_bnb) with optional QLoRA double quantization; see codebook.h.
#include "formats/codebook.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "formats/families.h"
#include "formats/packing.h"

namespace qforge::formats {

namespace {

// Sorted distinct values of a table with, for each, the lowest code holding it, and the exact
// midpoints between neighbours (in double: the midpoint of two binary32 values is exact there).
template <size_t N>
struct SortedTable {
  std::vector<float> values;
  std::vector<uint8_t> codes;
  std::vector<double> midpoints;

  explicit SortedTable(const std::array<float, N>& table) {
    std::vector<std::pair<float, int>> v;
    for (size_t c = 0; c < N; ++c) v.emplace_back(table[c] == 0.0f ? 0.0f : table[c], static_cast<int>(c));
    std::sort(v.begin(), v.end());
    for (const auto& [value, code] : v) {
      if (!values.empty() && values.back() == value) continue;  // keep the lowest code
      values.push_back(value);
      codes.push_back(static_cast<uint8_t>(code));
    }
    for (size_t i = 0; i + 1 < values.size(); ++i)
      midpoints.push_back((static_cast<double>(values[i]) + values[i + 1]) / 2);
  }

  // Entry nearest to x; an exact tie goes to the lower value (x must exceed a midpoint to go up).
  size_t Nearest(float x) const {
    return static_cast<size_t>(std::lower_bound(midpoints.begin(), midpoints.end(), static_cast<double>(x)) -
                               midpoints.begin());
  }
};

std::array<float, 256> BuildDynamicMap() {
  // Mirrors bitsandbytes.functional.create_dynamic_map(signed=True, max_exponent_bits=7,
  // total_bits=8) in binary32: torch.linspace(0.1, 1, k) computes step = (end - start) / (k - 1)
  // and fills the first half as start + i * step, the second half as end - (k - 1 - i) * step.
  std::vector<float> data;
  for (int i = 0; i < 7; ++i) {
    const int k = (1 << i) + 1;  // fraction_items
    const float start = 0.1f, end = 1.0f;
    const float step = (end - start) / static_cast<float>(k - 1);
    std::vector<float> b(static_cast<size_t>(k));
    for (int j = 0; j < k; ++j)
      b[j] = j < k / 2 ? start + step * static_cast<float>(j) : end - step * static_cast<float>(k - 1 - j);
    const float decade = static_cast<float>(std::pow(10.0, i - 6));
    for (int j = 0; j + 1 < k; ++j) {
      const float mean = (b[j] + b[j + 1]) / 2.0f;
      data.push_back(decade * mean);
      data.push_back(-(decade * mean));
    }
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  assert(data.size() == 256);
  std::sort(data.begin(), data.end());
  std::array<float, 256> out;
  std::copy(data.begin(), data.end(), out.begin());
  return out;
}

const SortedTable<16>& Sorted(DType format) {
  static const SortedTable<16> nf4(kNF4Levels), fp4(kFP4BNBLevels);
  return format == DType::kNF4 ? nf4 : fp4;
}

const SortedTable<256>& SortedDynamic() {
  static const SortedTable<256> t(DynamicMap());
  return t;
}

}  // namespace

const std::array<float, 16>& CodebookLevels(DType format) {
  assert(format == DType::kNF4 || format == DType::kFP4BNB);
  return format == DType::kNF4 ? kNF4Levels : kFP4BNBLevels;
}

uint8_t NearestLevel(float n, DType format) {
  const SortedTable<16>& t = Sorted(format);
  return t.codes[t.Nearest(n)];
}

const std::array<float, 256>& DynamicMap() {
  static const std::array<float, 256> map = BuildDynamicMap();
  return map;
}

uint8_t NearestDynamicCode(float v) {
  const SortedTable<256>& t = SortedDynamic();
  return t.codes[t.Nearest(v)];  // the map is sorted and distinct, so code == index
}

namespace detail {

Result<QuantizedTensor> QuantizeCodebook(MatrixF32 w, const QuantScheme& s, ThreadPool* pool) {
  QuantizedTensor q;
  q.scheme = s;
  q.rows = w.rows;
  q.cols = w.cols;
  const int64_t block = s.group_size;  // 64, fixed by Validate()
  const int64_t groups = s.GroupsPerRow(w.cols);
  const int64_t row_bytes = q.RowBytes();
  q.codes.assign(static_cast<size_t>(w.rows * row_bytes), 0);
  q.scales.assign(static_cast<size_t>(w.rows * groups), 0.0f);

  // Pass 1: absmax per block.
  ForEachRow(w.rows, pool, [&](int64_t r) {
    const float* x = w.Row(r);
    for (int64_t g = 0; g < groups; ++g) {
      float m = 0.0f;
      for (int64_t c = g * block; c < std::min((g + 1) * block, w.cols); ++c) m = std::max(m, std::fabs(x[c]));
      q.scales[r * groups + g] = m;
    }
  });

  // Optional pass: double quantization of the scales; `scales` becomes the decoded values.
  if (s.double_quant && !q.scales.empty()) {
    const size_t n = q.scales.size();
    double sum = 0.0;  // sequential sum in double: deterministic, and exact enough for a mean
    for (float v : q.scales) sum += v;
    q.dq_offset = static_cast<float>(sum / static_cast<double>(n));
    const size_t nblocks = (n + kDoubleQuantBlock - 1) / kDoubleQuantBlock;
    q.dq_codes.assign(n, 0);
    q.dq_scales.assign(nblocks, 0.0f);
    const std::array<float, 256>& map = DynamicMap();
    for (size_t b = 0; b < nblocks; ++b) {
      const size_t begin = b * kDoubleQuantBlock, end = std::min(begin + kDoubleQuantBlock, n);
      float a = 0.0f;
      for (size_t i = begin; i < end; ++i) a = std::max(a, std::fabs(q.scales[i] - q.dq_offset));
      q.dq_scales[b] = a;
      for (size_t i = begin; i < end; ++i) {
        const float centred = q.scales[i] - q.dq_offset;
        q.dq_codes[i] = NearestDynamicCode(a == 0.0f ? 0.0f : centred / a);
        q.scales[i] = map[q.dq_codes[i]] * a + q.dq_offset;
      }
    }
  }

  // Pass 2: element codes against the scale that decoding will use.
  const uint8_t zero_code = NearestLevel(0.0f, s.format);
  ForEachRow(w.rows, pool, [&](int64_t r) {
    const float* x = w.Row(r);
    std::vector<uint8_t> codes(static_cast<size_t>(w.cols));
    for (int64_t g = 0; g < groups; ++g) {
      const float scale = q.scales[r * groups + g];
      for (int64_t c = g * block; c < std::min((g + 1) * block, w.cols); ++c)
        codes[c] = scale == 0.0f ? zero_code : NearestLevel(x[c] / scale, s.format);
    }
    PackBits(codes, 4, std::span<uint8_t>(q.codes.data() + r * row_bytes, static_cast<size_t>(row_bytes)));
  });
  return q;
}

void DequantizeCodebook(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool) {
  const std::array<float, 16>& levels = CodebookLevels(q.scheme.format);
  const int64_t block = q.scheme.group_size;
  const int64_t groups = q.GroupsPerRow();
  const int64_t row_bytes = q.RowBytes();
  ForEachRow(q.rows, pool, [&](int64_t r) {
    const uint8_t* in = q.codes.data() + r * row_bytes;
    float* y = out.Row(r);
    for (int64_t g = 0; g < groups; ++g) {
      const float scale = q.scales[r * groups + g];
      for (int64_t c = g * block; c < std::min((g + 1) * block, q.cols); ++c) y[c] = levels[GetCode(in, 4, c)] * scale;
    }
  });
}

}  // namespace detail
}  // namespace qforge::formats
