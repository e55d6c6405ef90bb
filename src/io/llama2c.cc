#include "io/llama2c.h"

#include <cstring>

namespace qforge::io {

TensorView Llama2cTensor::Layer(int l) const {
  assert(per_layer && l >= 0 && l < view.shape.dims[0]);
  Shape s;
  s.rank = view.shape.rank - 1;
  int64_t per = 1;
  for (int i = 1; i < view.shape.rank; ++i) {
    s.dims[i - 1] = view.shape.dims[i];
    per *= view.shape.dims[i];
  }
  return TensorView::Contiguous(static_cast<const float*>(view.data) + l * per, DType::kF32, s);
}

Result<Llama2cFile> Llama2cFile::Open(const std::filesystem::path& path) {
  QF_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return FromMapped(std::move(file));
}

Result<Llama2cFile> Llama2cFile::FromMapped(MappedFile file) {
  const std::string& p = file.path();
  constexpr uint64_t kHeaderBytes = 7 * 4;
  if (file.size() < kHeaderBytes) {
    return MakeError("{}: not a llama2.c checkpoint: expected at least {} header bytes, found {}", p, kHeaderBytes,
                     file.size());
  }
  int32_t h[7];
  std::memcpy(h, file.data(), sizeof(h));
  Llama2cHeader hd;
  hd.dim = h[0];
  hd.hidden_dim = h[1];
  hd.n_layers = h[2];
  hd.n_heads = h[3];
  hd.n_kv_heads = h[4];
  hd.shared_classifier = h[5] > 0;
  hd.vocab_size = h[5] == INT32_MIN ? 0 : (h[5] < 0 ? -h[5] : h[5]);
  hd.seq_len = h[6];
  const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  const int32_t vals[7] = {hd.dim, hd.hidden_dim, hd.n_layers, hd.n_heads, hd.n_kv_heads, hd.vocab_size, hd.seq_len};
  for (int i = 0; i < 7; ++i) {
    if (vals[i] <= 0) return MakeError("{}: header {}: expected a positive value, found {}", p, names[i], h[i]);
  }
  if (hd.dim % hd.n_heads != 0) {
    return MakeError("{}: header: dim {} is not a multiple of n_heads {}", p, hd.dim, hd.n_heads);
  }
  if (hd.n_heads % hd.n_kv_heads != 0) {
    return MakeError("{}: header: n_heads {} is not a multiple of n_kv_heads {}", p, hd.n_heads, hd.n_kv_heads);
  }
  if (hd.head_size() % 2 != 0) return MakeError("{}: header: head_size {} is odd (RoPE needs pairs)", p, hd.head_size());

  // All sizes are products of positive int32s, at most 3 factors of < 2^31, so int64 arithmetic below
  // cannot overflow except for the products of three, which we check with __builtin_mul_overflow.
  const int64_t dim = hd.dim, hid = hd.hidden_dim, L = hd.n_layers, V = hd.vocab_size, kv = hd.kv_dim();
  struct Spec {
    const char* name;
    Shape shape;
    bool per_layer;
  };
  std::vector<Spec> specs = {
      {"token_embedding_table", {V, dim}, false},
      {"rms_att_weight", {L, dim}, true},
      {"wq", {L, dim, dim}, true},
      {"wk", {L, kv, dim}, true},
      {"wv", {L, kv, dim}, true},
      {"wo", {L, dim, dim}, true},
      {"rms_ffn_weight", {L, dim}, true},
      {"w1", {L, hid, dim}, true},
      {"w2", {L, dim, hid}, true},
      {"w3", {L, hid, dim}, true},
      {"rms_final_weight", {dim}, false},
      {"freq_cis_real", {static_cast<int64_t>(hd.seq_len), hd.head_size() / 2}, false},
      {"freq_cis_imag", {static_cast<int64_t>(hd.seq_len), hd.head_size() / 2}, false},
  };
  if (!hd.shared_classifier) specs.push_back({"wcls", {V, dim}, false});
  uint64_t total = 0;
  std::vector<uint64_t> offsets;
  for (const Spec& s : specs) {
    uint64_t n = 1;
    for (int i = 0; i < s.shape.rank; ++i) {
      if (__builtin_mul_overflow(n, static_cast<uint64_t>(s.shape.dims[i]), &n)) {
        return MakeError("{}: header: size of {} overflows", p, s.name);
      }
    }
    offsets.push_back(total);
    if (__builtin_mul_overflow(n, uint64_t{4}, &n) || __builtin_add_overflow(total, n, &total)) {
      return MakeError("{}: header: checkpoint size overflows", p);
    }
  }
  const uint64_t want = kHeaderBytes + total;
  if (file.size() != want) {
    return MakeError("{}: size {} bytes, but the header (dim {}, hidden_dim {}, n_layers {}, n_heads {}, n_kv_heads "
                     "{}, vocab_size {}, seq_len {}) implies {} bytes",
                     p, file.size(), hd.dim, hd.hidden_dim, hd.n_layers, hd.n_heads, hd.n_kv_heads, h[5], hd.seq_len,
                     want);
  }
  Llama2cFile out;
  out.header_ = hd;
  const uint8_t* base = file.data() + kHeaderBytes;
  for (size_t i = 0; i < specs.size(); ++i) {
    Llama2cTensor t;
    t.name = specs[i].name;
    t.per_layer = specs[i].per_layer;
    t.view = TensorView::Contiguous(base + offsets[i], DType::kF32, specs[i].shape);
    out.tensors_.push_back(std::move(t));
  }
  out.file_ = std::move(file);
  return out;
}

const Llama2cTensor* Llama2cFile::Find(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace qforge::io
