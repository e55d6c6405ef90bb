#include "io/ct_pack_layout.h"

#include <cmath>
#include <cstring>

#include "formats/float16.h"

namespace qforge::io {

namespace {

Result<double> CtScalarAt(const TensorView& t, int64_t i, const std::string& name) {
  switch (t.dtype) {
    case DType::kF32: return static_cast<const float*>(t.data)[i];
    case DType::kF16: return HalfToFloat(static_cast<const uint16_t*>(t.data)[i]);
    case DType::kBF16: return BF16ToFloat(static_cast<const uint16_t*>(t.data)[i]);
    case DType::kI32: return static_cast<const int32_t*>(t.data)[i];
    case DType::kI64: return static_cast<double>(static_cast<const int64_t*>(t.data)[i]);
    default: return MakeError("tensor '{}': dtype {} not supported", name, Name(t.dtype));
  }
}

}  // namespace

Result<std::vector<PackedTensor>> PackCompressedTensors(const formats::GroupQuantMatrix& m) {
  if (m.bits < 2 || m.bits > 8 || 32 % m.bits != 0) {
    return MakeError("pack-quantized: {} bits cannot be packed (2, 4 or 8)", m.bits);
  }
  if (!m.symmetric) return MakeError("pack-quantized: asymmetric weights are not written (compressed-tensors cannot read them back)");
  const int pf = 32 / m.bits;
  const int64_t words = (m.cols + pf - 1) / pf, zero = int64_t{1} << (m.bits - 1);
  std::vector<PackedTensor> out;
  PackedTensor w{"weight_packed", DType::kI32, Shape{m.rows, words}, std::vector<uint8_t>(static_cast<size_t>(m.rows * words * 4))};
  auto* wp = reinterpret_cast<uint32_t*>(w.bytes.data());
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t c = 0; c < m.cols; ++c) {
      if (m.zeros[r * m.groups + m.g_idx[c]] != zero) {
        return MakeError("pack-quantized: row {} has zero point {}, expected {} (symmetric)", r,
                         int{m.zeros[r * m.groups + m.g_idx[c]]}, zero);
      }
      wp[r * words + c / pf] |= static_cast<uint32_t>(m.codes[r * m.cols + c]) << (m.bits * (c % pf));
    }
  }
  out.push_back(std::move(w));
  PackedTensor s{"weight_scale", DType::kF16, Shape{m.rows, m.groups}, std::vector<uint8_t>(static_cast<size_t>(m.rows * m.groups * 2))};
  auto* sp = reinterpret_cast<uint16_t*>(s.bytes.data());
  for (int64_t i = 0; i < m.rows * m.groups; ++i) {
    const uint16_t h = FloatToHalf(m.scales[i]);
    if (HalfToFloat(h) != m.scales[i]) return MakeError("pack-quantized: scale {} is not an f16 value", m.scales[i]);
    sp[i] = h;
  }
  out.push_back(std::move(s));
  PackedTensor shape{"weight_shape", DType::kI32, Shape{2}, std::vector<uint8_t>(8)};
  const int32_t dims[2] = {static_cast<int32_t>(m.rows), static_cast<int32_t>(m.cols)};
  std::memcpy(shape.bytes.data(), dims, 8);
  out.push_back(std::move(shape));
  bool plain = true;
  for (int64_t c = 0; c < m.cols; ++c) plain = plain && m.g_idx[c] == c / m.group_size;
  if (!plain) {
    PackedTensor g{"weight_g_idx", DType::kI32, Shape{m.cols}, std::vector<uint8_t>(static_cast<size_t>(m.cols * 4))};
    std::memcpy(g.bytes.data(), m.g_idx.data(), g.bytes.size());
    out.push_back(std::move(g));
  }
  return out;
}

Result<formats::GroupQuantMatrix> UnpackCompressedTensors(const std::string& prefix, const TensorView& packed,
                                                          const TensorView& scale, const TensorView& shape,
                                                          const TensorView* g_idx, int bits, int64_t group_size) {
  if (bits < 2 || bits > 8 || 32 % bits != 0) return MakeError("{}: pack-quantized with {} bits is not supported (2, 4, 8)", prefix, bits);
  if (shape.NumElements() != 2 || !shape.IsContiguous()) {
    return MakeError("tensor '{}.weight_shape': expected 2 values, found {}", prefix, shape.shape.ToString());
  }
  QF_ASSIGN_OR_RETURN(double d0, CtScalarAt(shape, 0, prefix + ".weight_shape"));
  QF_ASSIGN_OR_RETURN(double d1, CtScalarAt(shape, 1, prefix + ".weight_shape"));
  const int64_t out = static_cast<int64_t>(d0), in = static_cast<int64_t>(d1);
  if (out <= 0 || in <= 0 || d0 != static_cast<double>(out) || d1 != static_cast<double>(in)) {
    return MakeError("tensor '{}.weight_shape': [{}, {}] is not a shape", prefix, d0, d1);
  }
  const int pf = 32 / bits;
  const int64_t words = (in + pf - 1) / pf;
  if (packed.dtype != DType::kI32 || packed.rank() != 2 || packed.dim(0) != out || packed.dim(1) != words ||
      !packed.IsContiguous()) {
    return MakeError("tensor '{}.weight_packed': expected I32 [{}, {}] for weight_shape [{}, {}] at {} bits, found {} {}",
                     prefix, out, words, out, in, bits, Name(packed.dtype), packed.shape.ToString());
  }
  formats::GroupQuantMatrix m = formats::GroupQuantMatrix::Shaped(bits, true, out, in, group_size);
  if (scale.rank() != 2 || scale.dim(0) != out || scale.dim(1) != m.groups || !scale.IsContiguous()) {
    return MakeError("tensor '{}.weight_scale': expected [{}, {}], found {}", prefix, out, m.groups, scale.shape.ToString());
  }
  for (int64_t i = 0; i < out * m.groups; ++i) {
    QF_ASSIGN_OR_RETURN(double v, CtScalarAt(scale, i, prefix + ".weight_scale"));
    if (!(v >= 0) || !std::isfinite(v)) return MakeError("tensor '{}.weight_scale': value {} at {}", prefix, v, i);
    m.scales[i] = static_cast<float>(v);
  }
  const uint8_t zero = static_cast<uint8_t>(1 << (bits - 1));
  std::fill(m.zeros.begin(), m.zeros.end(), zero);
  const auto* wp = static_cast<const uint32_t*>(packed.data);
  const uint32_t mask = bits == 32 ? ~0u : ((1u << bits) - 1);
  for (int64_t r = 0; r < out; ++r) {
    for (int64_t c = 0; c < in; ++c) {
      m.codes[r * in + c] = static_cast<uint8_t>((wp[r * words + c / pf] >> (bits * (c % pf))) & mask);
    }
  }
  if (g_idx != nullptr) {
    if (g_idx->dtype != DType::kI32 || g_idx->NumElements() != in || !g_idx->IsContiguous()) {
      return MakeError("tensor '{}.weight_g_idx': expected I32 [{}], found {} {}", prefix, in, Name(g_idx->dtype),
                       g_idx->shape.ToString());
    }
    const auto* g = static_cast<const int32_t*>(g_idx->data);
    for (int64_t c = 0; c < in; ++c) {
      if (g[c] < 0 || g[c] >= m.groups) return MakeError("tensor '{}.weight_g_idx': group {} at column {}", prefix, g[c], c);
      m.g_idx[c] = g[c];
    }
  }
  return m;
}

}  // namespace qforge::io
