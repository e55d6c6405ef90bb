// Test helper: builds GGUF files in memory, following ggml docs/gguf.md (header, key/values, tensor
// infos, aligned data), for the GGUF reader tests and the runtime tests of GGUF-quantized models.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/ggml_blocks.h"
#include "io/gguf.h"

namespace qforge::testing {

using io::GgufValueType;

template <typename T>
inline void Put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
inline void PutStr(std::string& s, std::string_view v) {
  Put<uint64_t>(s, v.size());
  s.append(v);
}

struct GgufBuilder {
  uint32_t version = 3;
  uint64_t alignment = 32;
  std::string kv, infos, data;
  uint64_t n_kv = 0, n_tensors = 0;

  void Key(std::string_view k, GgufValueType t) {
    PutStr(kv, k);
    Put<uint32_t>(kv, static_cast<uint32_t>(t));
    ++n_kv;
  }
  void U32(std::string_view k, uint32_t v) { Key(k, GgufValueType::kU32); Put(kv, v); }
  void I32(std::string_view k, int32_t v) { Key(k, GgufValueType::kI32); Put(kv, v); }
  void F32(std::string_view k, float v) { Key(k, GgufValueType::kF32); Put(kv, v); }
  void Str(std::string_view k, std::string_view v) { Key(k, GgufValueType::kString); PutStr(kv, v); }
  void StrArray(std::string_view k, const std::vector<std::string>& v) {
    Key(k, GgufValueType::kArray);
    Put<uint32_t>(kv, static_cast<uint32_t>(GgufValueType::kString));
    Put<uint64_t>(kv, v.size());
    for (const auto& s : v) PutStr(kv, s);
  }
  void F32Array(std::string_view k, const std::vector<float>& v) {
    Key(k, GgufValueType::kArray);
    Put<uint32_t>(kv, static_cast<uint32_t>(GgufValueType::kF32));
    Put<uint64_t>(kv, v.size());
    for (float x : v) Put(kv, x);
  }
  // Tensor with raw ne (GGUF order) and bytes, placed at the next aligned offset.
  void Tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, const std::string& bytes,
              std::optional<uint64_t> offset = std::nullopt) {
    PutStr(infos, name);
    Put<uint32_t>(infos, static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) Put(infos, d);
    Put<uint32_t>(infos, type);
    data.append((alignment - data.size() % alignment) % alignment, '\0');
    Put<uint64_t>(infos, offset.value_or(data.size()));
    data.append(bytes);
    ++n_tensors;
  }
  std::string Build() const {
    std::string s = "GGUF";
    Put(s, version);
    Put(s, n_tensors);
    Put(s, n_kv);
    s += kv;
    s += infos;
    s.append((alignment - s.size() % alignment) % alignment, '\0');
    return s + data;
  }
};

inline std::string F32Bytes(const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }

// A 1-layer llama GGUF with quantized linear weights (Q8_0 for q/k/v/o/gate/up, Q4_0 for down; the
// embedding f32, or Q8_0 with q8_embedding; with q8_output an untied Q8_0 classifier output.weight,
// else the classifier is tied). Returns the file bytes; the f32 q_proj and down_proj values before
// quantization go to the pointers.
inline std::string TinyLlamaGguf(std::vector<float>* q_proj_f32, std::vector<float>* down_f32, bool q8_embedding = false,
                                 bool q8_output = false) {
  const int H = 32, I = 64, V = 8, heads = 2, kv_heads = 1, hd = 16;
  GgufBuilder b;
  b.Str("general.architecture", "llama");
  b.U32("llama.block_count", 1);
  b.U32("llama.embedding_length", H);
  b.U32("llama.feed_forward_length", I);
  b.U32("llama.attention.head_count", heads);
  b.U32("llama.attention.head_count_kv", kv_heads);
  b.U32("llama.context_length", 128);
  b.F32("llama.attention.layer_norm_rms_epsilon", 1e-6f);
  b.F32("llama.rope.freq_base", 500000.0f);
  b.StrArray("tokenizer.ggml.tokens", {"a", "b", "c", "d", "e", "f", "g", "h"});
  b.U32("tokenizer.ggml.bos_token_id", 1);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  auto rand = [&](size_t n) { std::vector<float> v(n); for (float& x : v) x = nd(rng); return v; };
  auto q8 = [](const std::vector<float>& v) { std::string s(v.size() / 32 * 34, '\0'); formats::QuantizeQ8_0(v, std::span(reinterpret_cast<uint8_t*>(s.data()), s.size())); return s; };
  auto q4 = [](const std::vector<float>& v) { std::string s(v.size() / 32 * 18, '\0'); formats::QuantizeQ4_0(v, std::span(reinterpret_cast<uint8_t*>(s.data()), s.size())); return s; };
  if (q8_embedding) b.Tensor("token_embd.weight", {H, V}, 8, q8(rand(H * V)));
  else b.Tensor("token_embd.weight", {H, V}, 0, F32Bytes(rand(H * V)));
  b.Tensor("blk.0.attn_norm.weight", {H}, 0, F32Bytes(rand(H)));
  *q_proj_f32 = rand(heads * hd * H);
  b.Tensor("blk.0.attn_q.weight", {H, heads * hd}, 8, q8(*q_proj_f32));
  b.Tensor("blk.0.attn_k.weight", {H, kv_heads * hd}, 8, q8(rand(kv_heads * hd * H)));
  b.Tensor("blk.0.attn_v.weight", {H, kv_heads * hd}, 8, q8(rand(kv_heads * hd * H)));
  b.Tensor("blk.0.attn_output.weight", {heads * hd, H}, 8, q8(rand(H * heads * hd)));
  b.Tensor("blk.0.ffn_norm.weight", {H}, 0, F32Bytes(rand(H)));
  b.Tensor("blk.0.ffn_gate.weight", {H, I}, 8, q8(rand(I * H)));
  b.Tensor("blk.0.ffn_up.weight", {H, I}, 8, q8(rand(I * H)));
  *down_f32 = rand(H * I);
  b.Tensor("blk.0.ffn_down.weight", {I, H}, 2, q4(*down_f32));
  b.Tensor("output_norm.weight", {H}, 0, F32Bytes(rand(H)));
  if (q8_output) b.Tensor("output.weight", {H, V}, 8, q8(rand(H * V)));
  return b.Build();
}

}  // namespace qforge::testing
