// The vocabulary half of quant/gguf_from_hf.h: the tokenizer key/values convert_hf_to_gguf.py writes
// for a Hugging Face directory (set_vocab of the llama, qwen2 and gemma3 model classes, and gguf-py's
// SpecialVocab), and the key/value list both halves fill in the converter's order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "io/gguf.h"

namespace qforge::quant {

// GGUF key/values with Python dict semantics (GGUFWriter.add_key_value: setting a key again replaces
// its value in place).
class HfGgufKv {
 public:
  void Set(const std::string& key, io::GgufValue v) {
    for (auto& [k, old] : kv_) {
      if (k == key) {
        old = std::move(v);
        return;
      }
    }
    kv_.emplace_back(key, std::move(v));
  }
  void U32(const std::string& key, uint64_t u) {
    io::GgufValue v;
    v.type = io::GgufValueType::kU32;
    v.u = u;
    Set(key, std::move(v));
  }
  void F32(const std::string& key, double f) {
    io::GgufValue v;
    v.type = io::GgufValueType::kF32;
    v.f = static_cast<float>(f);  // stored as f32
    Set(key, std::move(v));
  }
  void Bool(const std::string& key, bool b) {
    io::GgufValue v;
    v.type = io::GgufValueType::kBool;
    v.b = b;
    Set(key, std::move(v));
  }
  void Str(const std::string& key, std::string s) {
    io::GgufValue v;
    v.type = io::GgufValueType::kString;
    v.s = std::move(s);
    Set(key, std::move(v));
  }
  void StrArray(const std::string& key, const std::vector<std::string>& xs) {
    io::GgufValue v = Array(io::GgufValueType::kString, xs.size());
    for (size_t i = 0; i < xs.size(); ++i) v.array[i].s = xs[i];
    Set(key, std::move(v));
  }
  void F32Array(const std::string& key, const std::vector<float>& xs) {
    io::GgufValue v = Array(io::GgufValueType::kF32, xs.size());
    for (size_t i = 0; i < xs.size(); ++i) v.array[i].f = xs[i];
    Set(key, std::move(v));
  }
  void I32Array(const std::string& key, const std::vector<int32_t>& xs) {
    io::GgufValue v = Array(io::GgufValueType::kI32, xs.size());
    for (size_t i = 0; i < xs.size(); ++i) v.array[i].i = xs[i];
    Set(key, std::move(v));
  }
  std::vector<std::pair<std::string, io::GgufValue>> Take() { return std::move(kv_); }

 private:
  static io::GgufValue Array(io::GgufValueType t, size_t n) {
    io::GgufValue v;
    v.type = io::GgufValueType::kArray;
    v.array_type = t;
    v.array.resize(n);
    for (io::GgufValue& e : v.array) e.type = t;
    return v;
  }
  std::vector<std::pair<std::string, io::GgufValue>> kv_;
};

// The directory's files the conversion read, relative to it (for file_hashes()).
using HfFilesRead = std::set<std::string>;

// A JSON file of the directory, parsed keeping its key order: nullopt when absent; an error naming it
// when it does not parse. Adds it to `read`.
Result<std::optional<nlohmann::ordered_json>> ReadHfJsonFile(const std::filesystem::path& dir, const std::string& name,
                                                             HfFilesRead* read);

// The tokenizer key/values of `arch` ("llama", "qwen2", "gemma3"; the converter's set_vocab):
//   llama:  tokenizer_config.json's add_prefix_space, then the SentencePiece vocabulary (tokenizer.model
//           required: Llama 3's llama-bpe and the HF Llama vocab are refused);
//   qwen2:  SentencePiece when tokenizer.model exists, else the byte-level BPE of tokenizer.json;
//   gemma3: SentencePiece (tokenizer.model required), then add_space_prefix = false.
// vocab_size is config.json's (the token list is padded to it with "[PADi]").
Status AddHfVocab(const std::filesystem::path& dir, std::string_view arch, int64_t vocab_size, HfGgufKv* kv,
                  HfFilesRead* read);

}  // namespace qforge::quant
