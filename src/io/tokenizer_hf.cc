// HF tokenizers' tokenizer.json (model type BPE) mapped onto BpeConfig. Supported components — exactly
// the ones the Llama-2/TinyLlama, GPT-2, Llama-3, Qwen2 and Gemma 3 files use; anything else is rejected by name:
//   normalizer:    null | NFC | Prepend("▁") | Replace(" " -> "▁") | Sequence of those (Replace alone:
//                  Gemma, no leading ▁)
//   pre_tokenizer: null | ByteLevel | Split(known regex, Isolated, invert false) | Metaspace(split false)
//                  | Split(" ") after Replace(" " -> "▁") (Gemma: nothing left to split) | Sequence of those
//   decoder:       null | ByteLevel | Replace("▁" -> " ") | ByteFallback | Fuse | Strip(" ", 1, 0)
//                  | Metaspace | Sequence of those
//   post_processor (only for the BOS default): TemplateProcessing whose single template starts with a
//                  special token -> that token is BOS and added; anything else -> no BOS.
// tokenizer_config.json (beside tokenizer.json, optional): add_bos_token overrides the BOS default;
// bos_token / eos_token name the BOS/EOS pieces.
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/tokenizer.h"
#include "io/tokenizer_bpe.h"
#include "io/unicode.h"

namespace qforge::io {
namespace {

using nlohmann::json;

Result<json> ReadJson(const std::filesystem::path& path) {
  std::ifstream f(path);
  if (!f) return MakeError("{}: cannot open", path.string());
  json j = json::parse(f, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return MakeError("{}: not a JSON object", path.string());
  return j;
}

std::string TypeOf(const json& j) {
  auto it = j.find("type");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string("<no type>");
}

// The string of {"String": s} or {"Regex": s} patterns.
std::string PatternString(const json& j, const char* kind) {
  auto p = j.find("pattern");
  if (p == j.end() || !p->is_object()) return {};
  auto s = p->find(kind);
  return s != p->end() && s->is_string() ? s->get<std::string>() : std::string();
}

bool GetBool(const json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : dflt;
}

Status ApplyNormalizer(const json& n, const std::string& src, BpeConfig* c, bool* prepend, bool* replace) {
  if (n.is_null()) return Status::Ok();
  const std::string t = TypeOf(n);
  if (t == "Sequence") {
    const json& list = n.value("normalizers", json::array());
    if (!list.is_array()) return MakeError("{}: normalizer Sequence: 'normalizers' is not an array", src);
    for (const json& s : list) QF_TRY(ApplyNormalizer(s, src, c, prepend, replace));
    return Status::Ok();
  }
  if (t == "NFC") {  // Qwen2; NFD/NFKC/NFKD stay rejected below
    c->nfc = true;
    return Status::Ok();
  }
  if (t == "Prepend" && n.value("prepend", "") == kSpmSpace) {
    *prepend = true;
    return Status::Ok();
  }
  if (t == "Replace" && PatternString(n, "String") == " " && n.value("content", "") == kSpmSpace) {
    *replace = true;
    return Status::Ok();
  }
  return MakeError("{}: normalizer '{}' ({}) is not supported", src, t, n.dump().substr(0, 120));
}

Status ApplyPreTokenizer(const json& p, const std::string& src, BpeConfig* c) {
  if (p.is_null()) return Status::Ok();
  const std::string t = TypeOf(p);
  if (t == "Sequence") {
    for (const json& s : p.value("pretokenizers", json::array())) QF_TRY(ApplyPreTokenizer(s, src, c));
    return Status::Ok();
  }
  if (t == "ByteLevel") {
    c->byte_level = true;
    c->add_prefix_space = GetBool(p, "add_prefix_space", true);
    if (GetBool(p, "use_regex", true)) {
      if (c->regex) return MakeError("{}: ByteLevel use_regex after a Split regex is not supported", src);
      c->regex = PreTokenizerRegex::kGpt2;
    }
    return Status::Ok();
  }
  if (t == "Split" && PatternString(p, "String") == " " && c->spm_normalize && !GetBool(p, "invert", false)) {
    // Gemma: splitting on " " after the normalizer replaced every " " by ▁ finds nothing to split.
    return Status::Ok();
  }
  if (t == "Split") {
    const std::string re = PatternString(p, "Regex");
    auto kind = PreTokenizerFromPattern(re);
    if (!kind || p.value("behavior", "") != "Isolated" || GetBool(p, "invert", false) || c->regex) {
      return MakeError("{}: Split pre-tokenizer with pattern '{}' behavior '{}' is not supported "
                       "(known: the GPT-2, Llama-3 and Qwen2 regexes, Isolated, not inverted)",
                       src, re, p.value("behavior", ""));
    }
    c->regex = kind;
    return Status::Ok();
  }
  if (t == "Metaspace") {
    const std::string scheme = p.value("prepend_scheme", GetBool(p, "add_prefix_space", true) ? "always" : "never");
    if (p.value("replacement", "") != kSpmSpace || GetBool(p, "split", true) || scheme == "never") {
      return MakeError("{}: Metaspace pre-tokenizer {} is not supported (only replacement ▁, split false, "
                       "prepend_scheme always/first)", src, p.dump());
    }
    c->spm_normalize = true;
    c->spm_prepend_first_only = scheme == "first";
    return Status::Ok();
  }
  return MakeError("{}: pre_tokenizer '{}' is not supported", src, t);
}

Status CheckDecoder(const json& d, const std::string& src, BpeConfig* c) {
  if (d.is_null()) return Status::Ok();
  const std::string t = TypeOf(d);
  if (t == "Sequence") {
    for (const json& s : d.value("decoders", json::array())) QF_TRY(CheckDecoder(s, src, c));
    return Status::Ok();
  }
  if (t == "ByteLevel" || t == "ByteFallback" || t == "Fuse") return Status::Ok();
  if (t == "Replace" && PatternString(d, "String") == kSpmSpace && d.value("content", "") == " ") {
    return Status::Ok();
  }
  if (t == "Strip" && d.value("content", "") == " " && d.value("start", 0) == 1 && d.value("stop", 0) == 0) {
    c->strip_leading_space = true;
    return Status::Ok();
  }
  if (t == "Metaspace") {
    c->strip_leading_space = d.value("prepend_scheme", "always") != "never";
    return Status::Ok();
  }
  return MakeError("{}: decoder '{}' ({}) is not supported", src, t, d.dump().substr(0, 120));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::filesystem::path& dir_or_json) {
  namespace fs = std::filesystem;
  const fs::path json_path = fs::is_directory(dir_or_json) ? dir_or_json / "tokenizer.json" : dir_or_json;
  const std::string src = json_path.string();
  QF_ASSIGN_OR_RETURN(json j, ReadJson(json_path));
  BpeConfig c;
  c.kind = "hf-bpe";
  c.source = src;

  const json& model = j.value("model", json::object());
  if (TypeOf(model) != "BPE") return MakeError("{}: model type '{}' is not supported (BPE only)", src, TypeOf(model));
  if (!model.value("continuing_subword_prefix", json()).is_null() &&
      !model["continuing_subword_prefix"].get<std::string>().empty()) {
    return MakeError("{}: model.continuing_subword_prefix is not supported", src);
  }
  if (!model.value("end_of_word_suffix", json()).is_null() && !model["end_of_word_suffix"].get<std::string>().empty()) {
    return MakeError("{}: model.end_of_word_suffix is not supported", src);
  }
  if (!model.value("dropout", json()).is_null()) return MakeError("{}: BPE dropout is not supported", src);
  c.byte_fallback = GetBool(model, "byte_fallback", false);
  c.fuse_unk = GetBool(model, "fuse_unk", false);
  c.ignore_merges = GetBool(model, "ignore_merges", false);

  // Vocabulary: model.vocab plus added_tokens (which may extend it).
  const json& vocab = model.value("vocab", json::object());
  const json& added = j.value("added_tokens", json::array());
  int64_t n = 0;
  for (auto& [piece, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (1 << 24)) {
      return MakeError("{}: model.vocab['{}'] = {}, expected an id in [0, 2^24]", src, piece, id.dump());
    }
    n = std::max(n, id.get<int64_t>() + 1);
  }
  for (const json& a : added) {
    const int64_t id = a.value("id", int64_t{-1});
    if (id < 0 || id > (1 << 24) || !a.contains("content") || !a["content"].is_string()) {
      return MakeError("{}: added token {} has no valid id/content", src, a.dump());
    }
    n = std::max(n, id + 1);
  }
  c.pieces.assign(static_cast<size_t>(n), std::string());
  c.types.assign(static_cast<size_t>(n), TokenType::kUnused);  // holes in the id space stay unused
  for (auto& [piece, id] : vocab.items()) {
    c.pieces[id.get<size_t>()] = piece;
    c.types[id.get<size_t>()] = TokenType::kNormal;
    if (c.byte_fallback && piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece[5] == '>') {
      c.types[id.get<size_t>()] = TokenType::kByte;
    }
  }
  for (const json& a : added) {
    const auto id = a["id"].get<size_t>();
    if (GetBool(a, "lstrip", false) || GetBool(a, "rstrip", false) || GetBool(a, "single_word", false)) {
      return MakeError("{}: added token '{}' uses lstrip/rstrip/single_word, not supported", src,
                       a["content"].get<std::string>());
    }
    c.pieces[id] = a["content"].get<std::string>();
    c.types[id] = GetBool(a, "special", false) ? TokenType::kControl : TokenType::kUserDefined;
    c.verbatim.push_back(static_cast<int32_t>(id));
  }
  auto find_id = [&](const std::string& piece) -> int32_t {
    for (size_t i = 0; i < c.pieces.size(); ++i) {
      if (c.pieces[i] == piece) return static_cast<int32_t>(i);
    }
    return -1;
  };
  if (auto u = model.find("unk_token"); u != model.end() && u->is_string()) {
    c.unk_id = find_id(u->get<std::string>());
    if (c.unk_id < 0) return MakeError("{}: model.unk_token '{}' is not in the vocabulary", src, u->get<std::string>());
    c.types[c.unk_id] = TokenType::kUnknown;
  }

  for (const json& m : model.value("merges", json::array())) {
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) return MakeError("{}: merge '{}' is not '<a> <b>'", src, s);
      c.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      c.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return MakeError("{}: merge {} is neither '<a> <b>' nor [a, b]", src, m.dump());
    }
  }

  bool prepend = false, replace = false;
  QF_TRY(ApplyNormalizer(j.value("normalizer", json()), src, &c, &prepend, &replace));
  if (prepend && !replace) return MakeError("{}: normalizer Prepend(▁) without Replace(' ' -> ▁) is not supported", src);
  if (replace) {
    c.spm_normalize = true;
    c.spm_no_prepend = !prepend;  // Gemma: spaces become ▁, nothing is prepended
  }
  QF_TRY(ApplyPreTokenizer(j.value("pre_tokenizer", json()), src, &c));
  QF_TRY(CheckDecoder(j.value("decoder", json()), src, &c));

  // BOS: the post-processor's leading special token; tokenizer_config.json can name and toggle it.
  const json& post = j.value("post_processor", json());
  if (!post.is_null() && TypeOf(post) == "TemplateProcessing") {
    const json& single = post.value("single", json::array());
    if (!single.empty() && single[0].contains("SpecialToken")) {
      c.bos_id = find_id(single[0]["SpecialToken"].value("id", ""));
      c.add_bos = c.bos_id >= 0;
    }
  }
  const fs::path config_path = json_path.parent_path() / "tokenizer_config.json";
  if (fs::exists(config_path)) {
    QF_ASSIGN_OR_RETURN(json cfg, ReadJson(config_path));
    auto token_name = [](const json& v) -> std::string {
      if (v.is_string()) return v.get<std::string>();
      if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
      return {};
    };
    if (cfg.contains("bos_token")) {
      if (std::string b = token_name(cfg["bos_token"]); !b.empty()) c.bos_id = find_id(b);
    }
    if (cfg.contains("eos_token")) {
      if (std::string e = token_name(cfg["eos_token"]); !e.empty()) c.eos_id = find_id(e);
    }
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) c.add_bos = cfg["add_bos_token"].get<bool>();
  }
  if (c.eos_id < 0) {
    for (const char* name : {"</s>", "<|endoftext|>", "<|end_of_text|>"}) {
      if (c.eos_id < 0) c.eos_id = find_id(name);
    }
  }
  if (c.bos_id < 0) c.add_bos = false;
  return MakeBpeTokenizer(std::move(c));
}

}  // namespace qforge::io
