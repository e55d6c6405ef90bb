// Tokenizer base behaviour, the GGUF vocabulary loader and LoadTokenizerForModel.
#include "io/tokenizer.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "io/model_source.h"
#include "io/tokenizer_bpe.h"
#include "io/tokenizer_llama_spm.h"

namespace qforge::io {

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += DecodeToken(id);
  if (strips_leading_space_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

namespace {

// Optional special id: absent -> -1; 0xFFFFFFFF (llama.cpp's "none", e.g. padding) -> -1.
Result<int32_t> OptionalId(const GgufFile& g, std::string_view key) {
  if (!g.Has(key)) return -1;
  QF_ASSIGN_OR_RETURN(uint64_t v, g.GetU64(key));
  if (v == 0xFFFFFFFFull) return -1;
  if (v > 0x7FFFFFFF) return MakeError("{}: {} = {} is not a token id", g.path(), key, v);
  return static_cast<int32_t>(v);
}

Result<bool> OptionalBool(const GgufFile& g, std::string_view key, bool dflt) {
  if (!g.Has(key)) return dflt;
  return g.GetBool(key);
}

Result<std::vector<TokenType>> GgufTypes(const GgufFile& g, size_t n) {
  std::vector<TokenType> types(n, TokenType::kNormal);
  if (!g.Has("tokenizer.ggml.token_type")) return types;
  QF_ASSIGN_OR_RETURN(std::vector<int32_t> raw, g.GetArray<int32_t>("tokenizer.ggml.token_type"));
  if (raw.size() != n) {
    return MakeError("{}: tokenizer.ggml.token_type has {} entries, expected {} (one per token)", g.path(),
                     raw.size(), n);
  }
  for (size_t i = 0; i < n; ++i) {
    if (raw[i] < 0 || raw[i] > 6) {
      return MakeError("{}: tokenizer.ggml.token_type[{}] = {}, expected 0..6", g.path(), i, raw[i]);
    }
    types[i] = static_cast<TokenType>(raw[i]);
  }
  return types;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const GgufFile& g) {
  QF_ASSIGN_OR_RETURN(std::string model, g.GetString("tokenizer.ggml.model"));
  QF_ASSIGN_OR_RETURN(std::vector<std::string> tokens, g.GetArray<std::string>("tokenizer.ggml.tokens"));
  QF_ASSIGN_OR_RETURN(std::vector<TokenType> types, GgufTypes(g, tokens.size()));
  QF_ASSIGN_OR_RETURN(int32_t bos, OptionalId(g, "tokenizer.ggml.bos_token_id"));
  QF_ASSIGN_OR_RETURN(int32_t eos, OptionalId(g, "tokenizer.ggml.eos_token_id"));
  QF_ASSIGN_OR_RETURN(int32_t unk, OptionalId(g, "tokenizer.ggml.unknown_token_id"));
  if (model == "llama") {
    LlamaSpmConfig c;
    QF_ASSIGN_OR_RETURN(c.scores, g.GetArray<float>("tokenizer.ggml.scores"));
    QF_ASSIGN_OR_RETURN(c.add_bos, OptionalBool(g, "tokenizer.ggml.add_bos_token", true));
    QF_ASSIGN_OR_RETURN(c.add_space_prefix, OptionalBool(g, "tokenizer.ggml.add_space_prefix", true));
    c.pieces = std::move(tokens);
    c.types = std::move(types);
    c.bos_id = bos, c.eos_id = eos, c.unk_id = unk;
    c.kind = "gguf-llama";
    c.source = g.path();
    return MakeLlamaSpmTokenizer(std::move(c));
  }
  if (model == "gpt2") {
    BpeConfig c;
    std::string pre = "default";
    if (g.Has("tokenizer.ggml.pre")) {
      QF_ASSIGN_OR_RETURN(pre, g.GetString("tokenizer.ggml.pre"));
    }
    c.regex = PreTokenizerFromGgufName(pre);
    if (!c.regex) {
      return MakeError("{}: tokenizer.ggml.pre = '{}' is not supported (known: gpt-2, default, llama-bpe, qwen2)",
                       g.path(), pre);
    }
    c.ignore_merges = *c.regex == PreTokenizerRegex::kLlama3;  // llama.cpp: ignore_merges for llama-bpe
    QF_ASSIGN_OR_RETURN(std::vector<std::string> merges, g.GetArray<std::string>("tokenizer.ggml.merges"));
    for (size_t r = 0; r < merges.size(); ++r) {
      // "a b"; the separator is the first space after position 0 (llama.cpp), pieces have no spaces.
      size_t sp = merges[r].find(' ', 1);
      if (sp == std::string::npos) {
        return MakeError("{}: tokenizer.ggml.merges[{}] = '{}', expected '<a> <b>'", g.path(), r, merges[r]);
      }
      c.merges.emplace_back(merges[r].substr(0, sp), merges[r].substr(sp + 1));
    }
    QF_ASSIGN_OR_RETURN(c.add_bos, OptionalBool(g, "tokenizer.ggml.add_bos_token", false));
    for (size_t i = 0; i < types.size(); ++i) {
      // llama.cpp with parse_special=false matches user-defined tokens in the text, not control ones.
      if (types[i] == TokenType::kUserDefined) c.verbatim.push_back(static_cast<int32_t>(i));
    }
    c.pieces = std::move(tokens);
    c.types = std::move(types);
    c.byte_level = true;
    c.bos_id = bos, c.eos_id = eos, c.unk_id = unk;
    c.kind = "gguf-gpt2";
    c.source = g.path();
    return MakeBpeTokenizer(std::move(c));
  }
  return MakeError("{}: tokenizer.ggml.model = '{}' is not supported (known: llama, gpt2)", g.path(), model);
}

namespace {

// tokenizer_config.json's add_bos_token, if the file and key exist.
Result<std::optional<bool>> ConfigAddBos(const std::filesystem::path& dir) {
  const auto path = dir / "tokenizer_config.json";
  if (!std::filesystem::exists(path)) return std::optional<bool>();
  std::ifstream f(path);
  nlohmann::json j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return MakeError("{}: not a JSON object", path.string());
  auto it = j.find("add_bos_token");
  if (it == j.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return MakeError("{}: add_bos_token is {}, expected a bool", path.string(), it->dump());
  return std::optional<bool>(it->get<bool>());
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> LoadTokenizerForModel(const std::filesystem::path& model_path,
                                                         const std::filesystem::path& tokenizer_path) {
  namespace fs = std::filesystem;
  const fs::path& p = tokenizer_path.empty() ? model_path : tokenizer_path;
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "tokenizer.json")) return LoadHfTokenizer(p);
    if (fs::exists(p / "tokenizer.gguf")) {
      // A vocab-only GGUF: the vocabulary of a GGUF model a checkpoint was quantized from.
      QF_ASSIGN_OR_RETURN(GgufFile g, GgufFile::Open(p / "tokenizer.gguf"));
      return LoadGgufTokenizer(g);
    }
    if (fs::exists(p / "tokenizer.model")) {
      QF_ASSIGN_OR_RETURN(auto tok, LoadSentencePiece(p / "tokenizer.model"));
      QF_ASSIGN_OR_RETURN(std::optional<bool> add_bos, ConfigAddBos(p));
      if (add_bos) tok->set_adds_bos(*add_bos);
      return tok;
    }
    return MakeError("{}: no tokenizer.json, tokenizer.gguf or tokenizer.model in the directory", p.string());
  }
  const std::string ext = p.extension().string();
  if (ext == ".gguf") {
    QF_ASSIGN_OR_RETURN(GgufFile g, GgufFile::Open(p));
    return LoadGgufTokenizer(g);
  }
  if (ext == ".model") {
    QF_ASSIGN_OR_RETURN(auto tok, LoadSentencePiece(p));
    QF_ASSIGN_OR_RETURN(std::optional<bool> add_bos, ConfigAddBos(p.parent_path()));
    if (add_bos) tok->set_adds_bos(*add_bos);
    return tok;
  }
  if (ext == ".json") return LoadHfTokenizer(p);
  if (ext == ".bin") {
    if (tokenizer_path.empty()) {
      return MakeError("{}: a llama2.c checkpoint carries no tokenizer; pass a tokenizer path "
                       "(tokenizer.bin, tokenizer.model, tokenizer.json or a HF directory)", p.string());
    }
    // The vocabulary size is the checkpoint header's 6th int32 (|vocab_size|; negative = unshared
    // classifier), when model_path is a llama2.c checkpoint; otherwise read the whole file.
    int32_t vocab = 0;
    if (model_path.extension() == ".bin") {
      std::ifstream f(model_path, std::ios::binary);
      int32_t header[7];
      if (!f.read(reinterpret_cast<char*>(header), sizeof(header))) {
        return MakeError("{}: shorter than a llama2.c header (28 bytes)", model_path.string());
      }
      vocab = header[5] < 0 ? -header[5] : header[5];
    }
    return LoadLlama2cTokenizer(p, vocab);
  }
  return MakeError("{}: cannot tell the tokenizer format (expected a directory, .gguf, .model, .json or .bin)",
                   p.string());
}

Result<std::unique_ptr<Tokenizer>> LoadTokenizerForModel(const ModelSource& source,
                                                         const std::filesystem::path& tokenizer_path) {
  if (tokenizer_path.empty() && source.gguf() != nullptr && source.path().extension() == ".gguf") {
    return LoadGgufTokenizer(*source.gguf());
  }
  return LoadTokenizerForModel(source.path(), tokenizer_path);
}

}  // namespace qforge::io
