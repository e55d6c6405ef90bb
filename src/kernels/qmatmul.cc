// QuantWeightMatrix construction, ISA dispatch and the threaded QMatMul driver.
#include "kernels/qmatmul.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

#include "formats/packing.h"

namespace qforge::kernels {

// Per-ISA tables, defined in qmatmul_avx2.cc / qmatmul_avx512.cc.
namespace qavx2 {
const QKernelTable* QTable();
}
namespace qavx512 {
const QKernelTable* QTable();
}

namespace {

const QKernelTable kScalarQTable = {.isa = Isa::kScalar, .qmatmul_rows = ref::QMatmulRows};

// Packs the 32 codes of one chunk (see the layout in qmatmul.h).
void PackChunk(const uint8_t* codes, int bits, uint8_t* out) {
  if (bits == 8) {
    std::copy(codes, codes + kQChunk, out);
  } else if (bits == 4) {
    for (int j = 0; j < 16; ++j) out[j] = static_cast<uint8_t>(codes[j] | (codes[j + 16] << 4));
  } else {
    formats::PackBits({codes, static_cast<size_t>(kQChunk)}, bits, {out, static_cast<size_t>(4 * bits)});
  }
}

// Number of tasks the rows are split into (each owns one tile slot of scratch). Depends on the
// thread count only for scratch sizing and balance; results never depend on it.
int64_t NumTasks(const QuantWeightMatrix& w, int num_threads) {
  const int64_t blocks = (w.rows + kQMaxTileRows - 1) / kQMaxTileRows;
  return std::max<int64_t>(1, std::min<int64_t>({blocks, 64, 4 * static_cast<int64_t>(std::max(num_threads, 1))}));
}

}  // namespace

int QuantWeightMatrix::Code(int64_t o, int64_t j) const {
  const int64_t g = j / group_size, r = j - g * group_size;
  const int64_t pos = g * group_stride + r;  // stored code index within the row
  const int64_t chunk = pos / kQChunk, c = pos % kQChunk;
  const uint8_t* p = packed.data() + o * row_bytes + chunk * 4 * bits;
  if (bits == 8) return p[c];
  if (bits == 4) return c < 16 ? (p[c] & 15) : (p[c - 16] >> 4);
  return formats::GetCode(p, bits, c);
}

void QuantWeightMatrix::DequantizeRow(int64_t o, float* out) const {
  for (int64_t j = 0; j < cols; ++j) {
    const int64_t g = j / group_size;
    const float v = static_cast<float>(Code(o, j) - zeros[o * groups + g]) * scales[o * groups + g];
    out[perm.empty() ? j : perm[j]] = v;
  }
}

Result<QuantWeightMatrix> MakeQuantWeightMatrix(const formats::GroupQuantMatrix& m) {
  if (m.bits < 2 || m.bits > 8) return MakeError("quantized matrix: bits {} outside 2..8", m.bits);
  if (m.rows <= 0 || m.cols <= 0 || m.group_size <= 0) {
    return MakeError("quantized matrix: rows {}, cols {} and group_size {} must be positive", m.rows, m.cols,
                     m.group_size);
  }
  const int64_t groups = (m.cols + m.group_size - 1) / m.group_size;
  if (m.groups != groups) {
    return MakeError("quantized matrix: groups {} != ceil(cols {} / group_size {}) = {}", m.groups, m.cols, m.group_size,
                     groups);
  }
  if (static_cast<int64_t>(m.codes.size()) != m.rows * m.cols || static_cast<int64_t>(m.g_idx.size()) != m.cols ||
      static_cast<int64_t>(m.scales.size()) != m.rows * groups ||
      static_cast<int64_t>(m.zeros.size()) != m.rows * groups) {
    return MakeError("quantized matrix: codes/g_idx/scales/zeros sizes {}/{}/{}/{} do not match [{}, {}] x {} groups",
                     m.codes.size(), m.g_idx.size(), m.scales.size(), m.zeros.size(), m.rows, m.cols, groups);
  }
  const int maxc = (1 << m.bits) - 1;
  for (size_t i = 0; i < m.zeros.size(); ++i) {
    if (m.zeros[i] > maxc) return MakeError("quantized matrix: zero point {} at {} does not fit {} bits", m.zeros[i], i, m.bits);
    if (!std::isfinite(m.scales[i])) return MakeError("quantized matrix: scale at {} is not finite", i);
  }
  QuantWeightMatrix w;
  w.bits = m.bits;
  w.rows = m.rows;
  w.cols = m.cols;
  w.group_size = m.group_size;
  w.groups = groups;
  w.group_stride = (m.group_size + kQChunk - 1) / kQChunk * kQChunk;
  w.padded_cols = groups * w.group_stride;
  w.row_bytes = w.padded_cols * m.bits / 8;  // padded_cols is a multiple of 32, so whole bytes
  // Column order: sort by (group, column); plain grouping is already sorted (identity).
  std::vector<int32_t> order(static_cast<size_t>(m.cols));
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> count(static_cast<size_t>(groups), 0);
  for (int64_t i = 0; i < m.cols; ++i) {
    const int32_t g = m.g_idx[i];
    if (g < 0 || g >= groups) return MakeError("quantized matrix: g_idx[{}] = {} outside [0, {})", i, g, groups);
    ++count[g];
  }
  for (int64_t g = 0; g < groups; ++g) {
    if (count[g] != w.GroupLen(g)) {
      return MakeError("quantized matrix: g_idx assigns {} columns to group {}, but after sorting by group every group "
                       "must be exactly group_size {} columns (the last {}), so groups can be contiguous",
                       count[g], g, m.group_size, w.GroupLen(groups - 1));
    }
  }
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return m.g_idx[a] < m.g_idx[b]; });
  bool identity = true;
  for (int64_t j = 0; j < m.cols; ++j) identity = identity && order[j] == j;
  if (!identity) w.perm = order;
  w.packed.assign(static_cast<size_t>(w.rows * w.row_bytes), 0);
  w.scales = m.scales;
  w.zeros = m.zeros;
  std::vector<uint8_t> row(static_cast<size_t>(w.padded_cols));
  for (int64_t o = 0; o < w.rows; ++o) {
    std::fill(row.begin(), row.end(), 0);
    const uint8_t* src = m.codes.data() + o * m.cols;
    for (int64_t j = 0; j < m.cols; ++j) {
      const uint8_t c = src[order[j]];
      if (c > maxc) return MakeError("quantized matrix: code {} at ({}, {}) does not fit {} bits", c, o, order[j], m.bits);
      const int64_t g = j / m.group_size;
      row[g * w.group_stride + (j - g * m.group_size)] = c;
    }
    uint8_t* dst = w.packed.data() + o * w.row_bytes;
    for (int64_t c = 0; c < w.padded_cols / kQChunk; ++c) PackChunk(row.data() + c * kQChunk, m.bits, dst + c * 4 * m.bits);
  }
  return w;
}

const QKernelTable& QKernels(Isa isa) {
  assert(IsaSupported(isa));
  switch (isa) {
    case Isa::kScalar: return kScalarQTable;
    case Isa::kAvx2: return *qavx2::QTable();
    case Isa::kAvx512: return *qavx512::QTable();
  }
  return kScalarQTable;
}

const QKernelTable& QKernels() {
  static const QKernelTable& k = QKernels(ActiveIsa());
  return k;
}

int64_t QMatMulScratchFloats(const QuantWeightMatrix& w, int64_t tokens, int num_threads) {
  int64_t n = 0;
  if (!w.perm.empty()) n += tokens * w.cols;
  if (tokens >= kQTileMinTokens) n += NumTasks(w, num_threads) * kQMaxTileRows * w.padded_cols;
  return n;
}

namespace {
// Arguments captured by one pointer so the ParallelFor std::function needs no heap storage.
struct QArgs {
  const float* x;
  int64_t tokens, ldx;
  const QuantWeightMatrix* w;
  const MutableMatrixF32* y;
  const QKernelTable* k;
  float* tiles;  // null when tokens < kQTileMinTokens
  int64_t tasks;
};
}  // namespace

void QMatMul(const MatrixF32& x, const QuantWeightMatrix& w, const MutableMatrixF32& y, ThreadPool& pool,
             std::span<float> scratch, const QKernelTable& k) {
  assert(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows);
  assert(static_cast<int64_t>(scratch.size()) >= QMatMulScratchFloats(w, x.rows, pool.num_threads()));
  if (x.rows == 0) return;
  float* free = scratch.data();
  const float* xk = x.data;
  int64_t ldx = x.stride;
  if (!w.perm.empty()) {
    // Gather x into kernel column order (exact copies).
    float* g = free;
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* src = x.Row(t);
      float* dst = g + t * w.cols;
      for (int64_t j = 0; j < w.cols; ++j) dst[j] = src[w.perm[j]];
    }
    free += x.rows * w.cols;
    xk = g;
    ldx = w.cols;
  }
  const int64_t tasks = NumTasks(w, pool.num_threads());
  const QArgs a{xk, x.rows, ldx, &w, &y, &k, x.rows >= kQTileMinTokens ? free : nullptr, tasks};
  // One task per chunk (tasks <= 64 < 256, so ParallelFor's chunk index is the task index and owns
  // tile slot `chunk`). Rows split in blocks of kQMaxTileRows; the split never changes any result.
  pool.ParallelFor(tasks, 1, [p = &a](int64_t b, int64_t e, int64_t) {
    const int64_t blocks = (p->w->rows + kQMaxTileRows - 1) / kQMaxTileRows;
    for (int64_t task = b; task < e; ++task) {
      const int64_t o0 = std::min(p->w->rows, blocks * task / p->tasks * kQMaxTileRows);
      const int64_t o1 = std::min(p->w->rows, blocks * (task + 1) / p->tasks * kQMaxTileRows);
      if (o0 >= o1) continue;
      float* tile = p->tiles ? p->tiles + task * kQMaxTileRows * p->w->padded_cols : nullptr;
      p->k->qmatmul_rows(p->x, p->tokens, p->ldx, *p->w, o0, o1, p->y->data + o0, p->y->stride, tile);
    }
  });
}

}  // namespace qforge::kernels
