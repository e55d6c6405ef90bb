// GPTQ v1 and AWQ-gemm checkpoint layouts (see gptq_layout.h for the byte-level description).
//
// Both packers go through formats/packing.h: a GPTQ qweight column is one LSB-first bit stream of
// the row's codes read as little-endian int32 words, qzeros rows are the same stream along `out`.
// AWQ packs 8 nibbles per word in the interleaved order kAwqOrder.
#include "io/gptq_layout.h"

#include <cstring>

#include "formats/float16.h"
#include "formats/packing.h"

namespace qforge::io {

namespace {

using formats::GroupQuantMatrix;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool F16Exact(float v) { return HalfToFloat(FloatToHalf(v)) == v || (v != v); }

// Structural checks shared by both packers (a GroupQuantMatrix built in memory by quant/ or a test;
// still reported as errors, not asserts, because a writer must not emit a broken checkpoint).
Status CheckMatrix(const GroupQuantMatrix& m, const char* what) {
  if (m.bits < 2 || m.bits > 8) return MakeError("{}: bits {} outside 2..8", what, m.bits);
  if (m.rows <= 0 || m.cols <= 0) return MakeError("{}: empty matrix [{}, {}]", what, m.rows, m.cols);
  if (m.groups <= 0 || m.group_size <= 0) {
    return MakeError("{}: group_size {} and groups {} must be positive", what, m.group_size, m.groups);
  }
  if (m.groups != CeilDiv(m.cols, m.group_size)) {
    return MakeError("{}: groups {} != ceil(cols {} / group_size {})", what, m.groups, m.cols, m.group_size);
  }
  if (static_cast<int64_t>(m.codes.size()) != m.rows * m.cols || static_cast<int64_t>(m.g_idx.size()) != m.cols ||
      static_cast<int64_t>(m.scales.size()) != m.rows * m.groups ||
      static_cast<int64_t>(m.zeros.size()) != m.rows * m.groups) {
    return MakeError("{}: codes/g_idx/scales/zeros sizes {}/{}/{}/{} do not match [{}, {}] with {} groups", what,
                     m.codes.size(), m.g_idx.size(), m.scales.size(), m.zeros.size(), m.rows, m.cols, m.groups);
  }
  const int maxc = (1 << m.bits) - 1;
  for (size_t i = 0; i < m.codes.size(); ++i) {
    if (m.codes[i] > maxc) {
      return MakeError("{}: code {} at element {} does not fit {} bits", what, m.codes[i], i, m.bits);
    }
  }
  for (int64_t i = 0; i < m.cols; ++i) {
    if (m.g_idx[i] < 0 || m.g_idx[i] >= m.groups) {
      return MakeError("{}: g_idx[{}] = {} outside [0, {})", what, i, m.g_idx[i], m.groups);
    }
  }
  for (size_t i = 0; i < m.scales.size(); ++i) {
    if (!F16Exact(m.scales[i])) {
      return MakeError("{}: scale {} at (row {}, group {}) is not representable in f16", what, m.scales[i],
                       i / m.groups, i % m.groups);
    }
  }
  for (size_t i = 0; i < m.zeros.size(); ++i) {
    if (m.zeros[i] > maxc) return MakeError("{}: zero point {} at index {} does not fit {} bits", what, m.zeros[i], i, m.bits);
  }
  return Status::Ok();
}

PackedTensor MakeTensor(const char* suffix, DType dtype, Shape shape) {
  PackedTensor t;
  t.suffix = suffix;
  t.dtype = dtype;
  t.shape = shape;
  t.bytes.assign(static_cast<size_t>(shape.NumElements() * StorageBytes(dtype)), 0);
  return t;
}

PackedTensor ScalesTensor(const GroupQuantMatrix& m) {
  PackedTensor t = MakeTensor("scales", DType::kF16, {m.groups, m.rows});
  auto* p = reinterpret_cast<uint16_t*>(t.bytes.data());
  for (int64_t o = 0; o < m.rows; ++o)
    for (int64_t g = 0; g < m.groups; ++g) p[g * m.rows + o] = FloatToHalf(m.scales[o * m.groups + g]);
  return t;
}

// Checks dtype, rank-2 shape and contiguity of a checkpoint tensor.
Status CheckTensor(const std::string& prefix, const char* suffix, const TensorView& t, DType dtype, int64_t d0,
                   int64_t d1) {
  if (t.dtype != dtype) {
    return MakeError("tensor '{}.{}': expected dtype {}, found {}", prefix, suffix, Name(dtype), Name(t.dtype));
  }
  const Shape want{d0, d1};
  if (!(t.shape == want)) {
    return MakeError("tensor '{}.{}': expected shape {}, found {}", prefix, suffix, want.ToString(), t.shape.ToString());
  }
  if (!t.IsContiguous() || t.data == nullptr) {
    return MakeError("tensor '{}.{}': expected contiguous row-major data", prefix, suffix);
  }
  return Status::Ok();
}

Status ReadScales(const std::string& prefix, const TensorView& scales, GroupQuantMatrix& m) {
  QF_TRY(CheckTensor(prefix, "scales", scales, DType::kF16, m.groups, m.rows));
  const auto* p = static_cast<const uint16_t*>(scales.data);
  for (int64_t g = 0; g < m.groups; ++g)
    for (int64_t o = 0; o < m.rows; ++o) m.scales[o * m.groups + g] = HalfToFloat(p[g * m.rows + o]);
  return Status::Ok();
}

}  // namespace

Result<std::vector<PackedTensor>> PackGptq(const GroupQuantMatrix& m) {
  QF_TRY(CheckMatrix(m, "GPTQ pack"));
  for (size_t i = 0; i < m.zeros.size(); ++i) {
    if (m.zeros[i] == 0) {
      return MakeError("GPTQ pack: zero point 0 at (row {}, group {}) cannot be stored in the v1 layout (it stores "
                       "zero - 1 and would read back as {})",
                       i / m.groups, i % m.groups, 1 << m.bits);
    }
  }
  const int64_t in = m.cols, out = m.rows;
  const int64_t words = CeilDiv(in * m.bits, 32);
  PackedTensor qweight = MakeTensor("qweight", DType::kI32, {words, out});
  {
    std::vector<uint8_t> stream(static_cast<size_t>(words * 4));
    auto* q = reinterpret_cast<uint32_t*>(qweight.bytes.data());
    for (int64_t o = 0; o < out; ++o) {
      std::fill(stream.begin(), stream.end(), 0);
      formats::PackBits({m.codes.data() + o * in, static_cast<size_t>(in)}, m.bits, stream);
      for (int64_t w = 0; w < words; ++w) {
        uint32_t v;
        std::memcpy(&v, stream.data() + 4 * w, 4);  // little-endian host (x86-64)
        q[w * out + o] = v;
      }
    }
  }
  const int64_t zwords = CeilDiv(out * m.bits, 32);
  PackedTensor qzeros = MakeTensor("qzeros", DType::kI32, {m.groups, zwords});
  {
    const uint8_t mask = static_cast<uint8_t>((1u << m.bits) - 1);
    std::vector<uint8_t> row(static_cast<size_t>(out));
    for (int64_t g = 0; g < m.groups; ++g) {
      for (int64_t o = 0; o < out; ++o) row[o] = static_cast<uint8_t>((m.zeros[o * m.groups + g] - 1) & mask);
      formats::PackBits(row, m.bits, {qzeros.bytes.data() + g * zwords * 4, static_cast<size_t>(zwords * 4)});
    }
  }
  PackedTensor g_idx = MakeTensor("g_idx", DType::kI32, {in});
  std::memcpy(g_idx.bytes.data(), m.g_idx.data(), static_cast<size_t>(in) * 4);
  std::vector<PackedTensor> result;
  result.push_back(std::move(qweight));
  result.push_back(std::move(qzeros));
  result.push_back(ScalesTensor(m));
  result.push_back(std::move(g_idx));
  return result;
}

Result<GroupQuantMatrix> UnpackGptq(const std::string& prefix, const TensorView& qweight, const TensorView& qzeros,
                                    const TensorView& scales, const TensorView* g_idx, int bits, int64_t group_size,
                                    bool sym, int64_t in, int64_t out) {
  if (bits < 2 || bits > 8) return MakeError("{}: GPTQ bits {} not supported (expected 2..8)", prefix, bits);
  if (in <= 0 || out <= 0) return MakeError("{}: in {} and out {} must be positive", prefix, in, out);
  GroupQuantMatrix m = GroupQuantMatrix::Shaped(bits, sym, out, in, group_size);
  const int64_t words = CeilDiv(in * bits, 32), zwords = CeilDiv(out * bits, 32);
  QF_TRY(CheckTensor(prefix, "qweight", qweight, DType::kI32, words, out));
  QF_TRY(CheckTensor(prefix, "qzeros", qzeros, DType::kI32, m.groups, zwords));
  QF_TRY(ReadScales(prefix, scales, m));
  // Codes: gather column o's words into a byte stream, unpack LSB-first.
  {
    const auto* q = static_cast<const uint32_t*>(qweight.data);
    std::vector<uint8_t> stream(static_cast<size_t>(words * 4));
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t w = 0; w < words; ++w) std::memcpy(stream.data() + 4 * w, &q[w * out + o], 4);
      formats::UnpackBits(stream, bits, {m.codes.data() + o * in, static_cast<size_t>(in)});
    }
  }
  // Zero points: stored as zero - 1 (v1), so the all-ones code would mean 2^bits.
  {
    const auto* zbytes = static_cast<const uint8_t*>(qzeros.data);
    std::vector<uint8_t> row(static_cast<size_t>(out));
    const int mask = (1 << bits) - 1;
    for (int64_t g = 0; g < m.groups; ++g) {
      formats::UnpackBits({zbytes + g * zwords * 4, static_cast<size_t>(zwords * 4)}, bits, row);
      for (int64_t o = 0; o < out; ++o) {
        if (row[o] == mask) {
          return MakeError("tensor '{}.qzeros': (group {}, out {}) stores {} = zero - 1, i.e. a zero point of {} that "
                           "does not fit {} bits (a v1 checkpoint with zero point 0; convert it to v2 / re-export)",
                           prefix, g, o, mask, mask + 1, bits);
        }
        const int z = row[o] + 1;
        if (sym && z != (1 << (bits - 1))) {
          return MakeError("tensor '{}.qzeros': sym is true but (group {}, out {}) has zero point {} (expected {})",
                           prefix, g, o, z, 1 << (bits - 1));
        }
        m.zeros[o * m.groups + g] = static_cast<uint8_t>(z);
      }
    }
  }
  if (g_idx != nullptr) {
    if (g_idx->dtype != DType::kI32 || g_idx->rank() != 1 || g_idx->dim(0) != in || !g_idx->IsContiguous()) {
      return MakeError("tensor '{}.g_idx': expected I32 [{}], found {} {}", prefix, in, Name(g_idx->dtype),
                       g_idx->shape.ToString());
    }
    const auto* gi = static_cast<const int32_t*>(g_idx->data);
    for (int64_t i = 0; i < in; ++i) {
      if (gi[i] < 0 || gi[i] >= m.groups) {
        return MakeError("tensor '{}.g_idx': entry {} is {}, outside [0, {}) (groups = ceil(in {} / group_size {}))",
                         prefix, i, gi[i], m.groups, in, m.group_size);
      }
      m.g_idx[i] = gi[i];
    }
  }
  return m;
}

Result<std::vector<PackedTensor>> PackAwqGemm(const GroupQuantMatrix& m) {
  QF_TRY(CheckMatrix(m, "AWQ pack"));
  if (m.bits != 4) return MakeError("AWQ pack: bits {} not supported (the gemm layout is 4-bit only)", m.bits);
  if (m.rows % 8 != 0) return MakeError("AWQ pack: out {} is not a multiple of 8", m.rows);
  for (int64_t i = 0; i < m.cols; ++i) {
    if (m.g_idx[i] != i / m.group_size) {
      return MakeError("AWQ pack: g_idx[{}] = {} but AWQ needs contiguous groups (expected {}); act-order is not "
                       "representable",
                       i, m.g_idx[i], i / m.group_size);
    }
  }
  const int64_t in = m.cols, out = m.rows, ow = out / 8;
  PackedTensor qweight = MakeTensor("qweight", DType::kI32, {in, ow});
  auto* q = reinterpret_cast<uint32_t*>(qweight.bytes.data());
  for (int64_t i = 0; i < in; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      uint32_t v = 0;
      for (int k = 0; k < 8; ++k) v |= static_cast<uint32_t>(m.codes[(8 * j + kAwqOrder[k]) * in + i]) << (4 * k);
      q[i * ow + j] = v;
    }
  PackedTensor qzeros = MakeTensor("qzeros", DType::kI32, {m.groups, ow});
  auto* z = reinterpret_cast<uint32_t*>(qzeros.bytes.data());
  for (int64_t g = 0; g < m.groups; ++g)
    for (int64_t j = 0; j < ow; ++j) {
      uint32_t v = 0;
      for (int k = 0; k < 8; ++k) v |= static_cast<uint32_t>(m.zeros[(8 * j + kAwqOrder[k]) * m.groups + g]) << (4 * k);
      z[g * ow + j] = v;
    }
  std::vector<PackedTensor> result;
  result.push_back(std::move(qweight));
  result.push_back(std::move(qzeros));
  result.push_back(ScalesTensor(m));
  return result;
}

Result<GroupQuantMatrix> UnpackAwqGemm(const std::string& prefix, const TensorView& qweight, const TensorView& qzeros,
                                       const TensorView& scales, int bits, int64_t group_size, int64_t in,
                                       int64_t out) {
  if (bits != 4) return MakeError("{}: AWQ gemm bits {} not supported (expected 4)", prefix, bits);
  if (in <= 0 || out <= 0) return MakeError("{}: in {} and out {} must be positive", prefix, in, out);
  if (out % 8 != 0) return MakeError("{}: AWQ gemm needs out % 8 == 0, found out = {}", prefix, out);
  GroupQuantMatrix m = GroupQuantMatrix::Shaped(bits, /*sym=*/false, out, in, group_size);
  const int64_t ow = out / 8;
  QF_TRY(CheckTensor(prefix, "qweight", qweight, DType::kI32, in, ow));
  QF_TRY(CheckTensor(prefix, "qzeros", qzeros, DType::kI32, m.groups, ow));
  QF_TRY(ReadScales(prefix, scales, m));
  const auto* q = static_cast<const uint32_t*>(qweight.data);
  for (int64_t i = 0; i < in; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      const uint32_t v = q[i * ow + j];
      for (int k = 0; k < 8; ++k) m.codes[(8 * j + kAwqOrder[k]) * in + i] = static_cast<uint8_t>((v >> (4 * k)) & 15);
    }
  const auto* z = static_cast<const uint32_t*>(qzeros.data);
  for (int64_t g = 0; g < m.groups; ++g)
    for (int64_t j = 0; j < ow; ++j) {
      const uint32_t v = z[g * ow + j];
      for (int k = 0; k < 8; ++k) m.zeros[(8 * j + kAwqOrder[k]) * m.groups + g] = static_cast<uint8_t>((v >> (4 * k)) & 15);
    }
  return m;
}

}  // namespace qforge::io
