// GroupQuantMatrix: a weight-only integer-quantized linear weight W[out, in] with one scale (and
// zero point) per (output row, input group), the representation every weight-only method produces
// (RTN, GPTQ, AWQ in quant/) and every weight-only checkpoint layout stores (GPTQ v1, AWQ gemm in
// io/gptq_layout.h). It is the common currency between the method, the packer and the kernel
// (../shared/STYLE.md, "the method seam").
//
// Layout:
//   codes   [out, in], one unpacked code per byte, row-major, in the ORIGINAL column order;
//           each code < 2^bits.
//   g_idx   [in]: the group of input column i. Plain grouping has g_idx[i] = i / group_size;
//           GPTQ act-order (desc_act) assigns groups in the order columns were quantized, so
//           g_idx is a permutation-of-blocks of that. Every g_idx[i] is in [0, groups).
//   scales  [out, groups] as f32 values that are exactly representable in f16 (the checkpoint
//           layouts store fp16 scales; the method rounds the scale BEFORE coding, int_grid.h).
//   zeros   [out, groups]: the code of 0.0 (2^(bits-1) for symmetric grids).
// Dequantization: W[o, i] = (codes[o, i] - zeros[o, g]) * scales[o, g], g = g_idx[i].
#pragma once

#include <cstdint>
#include <vector>

namespace qforge::formats {

struct GroupQuantMatrix {
  int bits = 4;             // 2..8
  bool symmetric = true;    // informational: symmetric grids have zeros == 2^(bits-1) everywhere
  int64_t rows = 0;         // out
  int64_t cols = 0;         // in
  int64_t group_size = 0;   // nominal group size along `in` (cols when per-channel)
  int64_t groups = 0;       // number of groups: ceil(cols / group_size)
  std::vector<uint8_t> codes;   // rows * cols
  std::vector<int32_t> g_idx;   // cols
  std::vector<float> scales;    // rows * groups
  std::vector<uint8_t> zeros;   // rows * groups

  // A matrix of the given shape with every code, scale and zero 0 and the plain grouping
  // g_idx[i] = i / group_size; group_size <= 0 means one group per row (per channel).
  static GroupQuantMatrix Shaped(int bits, bool symmetric, int64_t rows, int64_t cols, int64_t group_size) {
    GroupQuantMatrix m;
    m.bits = bits;
    m.symmetric = symmetric;
    m.rows = rows;
    m.cols = cols;
    m.group_size = group_size <= 0 ? cols : group_size;
    m.groups = m.group_size > 0 ? (cols + m.group_size - 1) / m.group_size : 0;
    m.codes.assign(static_cast<size_t>(rows * cols), 0);
    m.g_idx.resize(static_cast<size_t>(cols));
    for (int64_t i = 0; i < cols; ++i) m.g_idx[i] = static_cast<int32_t>(i / m.group_size);
    m.scales.assign(static_cast<size_t>(rows * m.groups), 0.0f);
    m.zeros.assign(static_cast<size_t>(rows * m.groups), 0);
    return m;
  }

  float Dequant(int64_t o, int64_t i) const {
    const int64_t g = g_idx[i];
    return static_cast<float>(static_cast<int>(codes[o * cols + i]) - static_cast<int>(zeros[o * groups + g])) *
           scales[o * groups + g];
  }
  // Storage bits per weight as the checkpoint layouts keep it: codes at `bits`, fp16 scales,
  // zero points at `bits` (GPTQ stores them even for symmetric grids), g_idx int32 per column.
  double BitsPerWeight() const {
    if (rows == 0 || cols == 0) return 0.0;
    const double total = static_cast<double>(rows) * cols * bits + static_cast<double>(rows) * groups * (16 + bits) +
                         32.0 * static_cast<double>(cols);
    return total / (static_cast<double>(rows) * cols);
  }
};

}  // namespace qforge::formats
