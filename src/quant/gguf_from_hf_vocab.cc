// The vocabulary half of the Hugging Face -> GGUF conversion (quant/gguf_from_hf_vocab.h). The
// functions follow the converter's structure and name the Python they port.
#include "quant/gguf_from_hf_vocab.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>

#include "artifact/digest.h"
#include "io/tokenizer.h"
#include "quant/gguf_from_hf.h"

namespace qforge::quant {

namespace {

namespace fs = std::filesystem;
// Ordered: the converter iterates JSON objects in file order (added_tokens.json, added_tokens_decoder).
// tokenizer.json is read unordered (json): its vocab has ~10^5 keys, which ordered_json's linear-search
// map would insert in quadratic time, and nothing read from it depends on the order of object keys.
using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

// The directory's files the conversion read (for file_hashes()).
using HfFilesRead = std::set<std::string>;

// A JSON file of the directory: nullopt when absent; an error naming it when it does not parse.
template <class J = ojson>
Result<std::optional<J>> ReadHfJson(const fs::path& dir, const std::string& name, HfFilesRead* read) {
  const fs::path p = dir / name;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::optional<J>();
  std::ifstream f(p);
  if (!f) return MakeError("{}: cannot open", p.string());
  J j = J::parse(f, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return MakeError("{}: not valid JSON", p.string());
  read->insert(name);
  return std::optional<J>(std::move(j));
}

Result<std::string> ReadHfText(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return MakeError("{}: cannot open", p.string());
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Python truthiness of a JSON value (None, "", {}, [], 0, False are false).
template <class J>
bool Truthy(const J* j) {
  if (j == nullptr || j->is_null()) return false;
  if (j->is_boolean()) return j->template get<bool>();
  if (j->is_string()) return !j->template get_ref<const std::string&>().empty();
  if (j->is_object() || j->is_array()) return !j->empty();
  if (j->is_number_integer()) return j->template get<int64_t>() != 0;
  if (j->is_number()) return j->template get<double>() != 0;
  return true;
}
template <class J>
bool Truthy(const J& j) {
  return Truthy(&j);
}

// dict.get(key) of a JSON object (nullptr when absent or not an object).
template <class J>
const J* Get(const J& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}
// x.get('SpecialToken', {}).get('id') / x.get('Sequence', {}).get('id') of a template piece.
ojson PieceId(const ojson& piece, std::string_view kind) {
  const ojson* k = Get(piece, kind);
  const ojson* id = k != nullptr ? Get(*k, "id") : nullptr;
  return id != nullptr ? *id : ojson();
}
bool JsonIn(const ojson& x, const ojson& a, const ojson& b) { return x == a || x == b; }

// TextModel.does_token_look_special.
bool HfTokenLooksSpecial(const std::string& t) {
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (t.starts_with("<|") && t.ends_with("|>")) return true;
  if (t.starts_with("<\xef\xbd\x9c") && t.ends_with("\xef\xbd\x9c>")) return true;  // <｜ ... ｜> (deepseek-coder)
  return t.starts_with("<unused") && t.ends_with(">");
}

// "▁" (U+2581) -> " " (the converter pre-normalizes user-defined spaces).
std::string HfSpmSpaceToSpace(const std::string& s) {
  static constexpr std::string_view kSpm = "\xe2\x96\x81";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (std::string_view(s).substr(i, kSpm.size()) == kSpm) {
      out += ' ';
      i += kSpm.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

// gguf-py SpecialVocab (vocab.py): special token ids, add_*_token flags, merges, chat template and
// normalizer flags from tokenizer.json, tokenizer_config.json, chat_template.{jinja,json} and config.json.
struct HfSpecialVocab {
  std::vector<std::string> types = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  std::vector<std::pair<std::string, int64_t>> ids;  // insertion order
  std::vector<std::pair<std::string, bool>> add;     // insertion order
  std::vector<std::string> merges;
  ojson chat_template;  // null, a string, or a list of {name, template}
  std::optional<bool> lowercase, strip_accents;

  bool HasAdd(const std::string& t) const {
    return std::any_of(add.begin(), add.end(), [&](const auto& p) { return p.first == t; });
  }
  void SetAdd(const std::string& t, bool v) {  // add_special_token[t] = v
    for (auto& [k, old] : add) {
      if (k == t) {
        old = v;
        return;
      }
    }
    add.emplace_back(t, v);
  }
  // _set_special_token.
  Status SetId(const std::string& typ, const ojson* tid, std::optional<int64_t> n_vocab, const std::string& where) {
    if (tid == nullptr || !tid->is_number_integer()) return Status::Ok();
    const int64_t id = tid->get<int64_t>();
    if (id < 0) return MakeError("{}: invalid value for special token type {}: {}", where, typ, id);
    if (n_vocab && id >= *n_vocab) return Status::Ok();  // the converter skips it with a warning
    for (const auto& [k, v] : ids) {
      if (k == typ) return Status::Ok();
    }
    ids.emplace_back(typ, id);
    return Status::Ok();
  }
};

// SpecialVocab._parse_normalizer.
Status ParseHfNormalizer(const ojson& n, HfSpecialVocab* sv, const std::string& where) {
  const ojson* type = Get(n, "type");
  const std::string t = type != nullptr && type->is_string() ? type->get<std::string>() : "";
  auto flag = [&](const char* key, std::optional<bool>* out) -> Status {
    const ojson* v = Get(n, key);
    if (v == nullptr) return Status::Ok();
    if (v->is_null()) {
      out->reset();
    } else if (v->is_boolean()) {
      *out = v->get<bool>();
    } else {
      return MakeError("{}: normalizer {}.{} = {} is not a boolean", where, t, key, v->dump());
    }
    return Status::Ok();
  };
  if (t == "Lowercase") {
    sv->lowercase = true;
  } else if (t == "StripAccents") {
    sv->strip_accents = true;
  } else if (t == "BertNormalizer") {
    QF_TRY(flag("lowercase", &sv->lowercase));
    QF_TRY(flag("strip_accents", &sv->strip_accents));
  } else if (t == "Sequence") {
    if (const ojson* list = Get(n, "normalizers"); list != nullptr && list->is_array()) {
      for (const ojson& s : *list) QF_TRY(ParseHfNormalizer(s, sv, where));
    }
  }
  return Status::Ok();
}

// SpecialVocab._try_load_merges_txt.
Status LoadHfMergesTxt(const fs::path& dir, HfSpecialVocab* sv, HfFilesRead* read) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "merges.txt", ec)) return Status::Ok();
  QF_ASSIGN_OR_RETURN(std::string text, ReadHfText(dir / "merges.txt"));
  read->insert("merges.txt");
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    const size_t b = line.find_first_not_of(" \t\r\f\v"), e = line.find_last_not_of(" \t\r\f\v");
    line = b == std::string::npos ? std::string() : line.substr(b, e - b + 1);
    if (first) {
      first = false;
      if (line.starts_with("#")) continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> parts;
    for (size_t i = 0; i < line.size();) {
      const size_t s = line.find_first_not_of(" \t\r\f\v", i);
      if (s == std::string::npos) break;
      const size_t t = line.find_first_of(" \t\r\f\v", s);
      parts.push_back(line.substr(s, t == std::string::npos ? std::string::npos : t - s));
      i = t == std::string::npos ? line.size() : t;
    }
    if (parts.size() != 2) continue;  // the converter ignores malformed lines with a warning
    sv->merges.push_back(parts[0] + " " + parts[1]);
  }
  return Status::Ok();
}

// SpecialVocab.__init__ / _load for the directory.
Result<HfSpecialVocab> LoadHfSpecialVocab(const fs::path& dir, std::optional<int64_t> n_vocab, bool load_merges,
                                          HfFilesRead* read) {
  HfSpecialVocab sv;
  const std::string where = dir.string();
  // _try_load_from_tokenizer_json
  QF_ASSIGN_OR_RETURN(std::optional<json> tok_file, ReadHfJson<json>(dir, "tokenizer.json", read));
  std::optional<ojson> tokenizer;  // the parts read here: model.merges, normalizer, added_tokens, post_processor
  if (tok_file) {
    if (!tok_file->is_object()) return MakeError("{}/tokenizer.json: not a JSON object", where);
    tokenizer = ojson::object();
    for (const char* k : {"normalizer", "added_tokens", "post_processor"}) {
      if (tok_file->contains(k)) (*tokenizer)[k] = ojson((*tok_file)[k]);
    }
    if (const json* m = Get(*tok_file, "model"); m != nullptr && m->contains("merges")) {
      (*tokenizer)["model"]["merges"] = ojson((*m)["merges"]);
    }
  }
  const bool tokenizer_truthy = tok_file && !tok_file->empty();
  ojson added_tokens = ojson::array();
  if (tokenizer) {
    if (load_merges) {
      const ojson* model = Get(*tokenizer, "model");
      const ojson* merges = model != nullptr ? Get(*model, "merges") : nullptr;
      if (merges != nullptr && merges->is_array() && !merges->empty()) {
        const ojson& m0 = (*merges)[0];
        if (m0.is_string()) {
          for (const ojson& m : *merges) {
            if (!m.is_string()) return MakeError("{}/tokenizer.json: merge {} is not a string", where, m.dump());
            sv.merges.push_back(m.get<std::string>());
          }
        } else if (m0.is_array() && m0.size() == 2 && m0[0].is_string()) {
          // Pairs (transformers >= 4.45): joined by " ", spaces inside a part encoded as U+0120.
          for (const ojson& m : *merges) {
            if (!m.is_array() || m.size() != 2 || !m[0].is_string() || !m[1].is_string()) {
              return MakeError("{}/tokenizer.json: merge {} is not a pair of strings", where, m.dump());
            }
            std::string s;
            for (int k = 0; k < 2; ++k) {
              if (k == 1) s += ' ';
              for (char ch : m[k].get<std::string>()) {
                if (ch == ' ') s += "\xc4\xa0";  // chr(ord(' ') + 256)
                else s += ch;
              }
            }
            sv.merges.push_back(std::move(s));
          }
        } else {
          return MakeError("{}/tokenizer.json: unknown tokenizer merges format ({})", where, m0.dump().substr(0, 60));
        }
      }
    }
    if (const ojson* n = Get(*tokenizer, "normalizer"); Truthy(n)) QF_TRY(ParseHfNormalizer(*n, &sv, where));
    if (const ojson* a = Get(*tokenizer, "added_tokens"); a != nullptr && a->is_array()) added_tokens = *a;
  }
  QF_ASSIGN_OR_RETURN(std::optional<ojson> tc_file, ReadHfJson(dir, "tokenizer_config.json", read));
  ojson tc = tc_file ? *tc_file : ojson();  // tokenizer_config (None when absent)
  auto tc_get = [&](const char* key) -> ojson {
    const ojson* v = Get(tc, key);
    return v != nullptr ? *v : ojson();
  };
  if (tokenizer_truthy) {
    ojson special_bos = tc_get("bos_token"), special_cls = tc_get("cls_token");
    ojson special_eos = tc_get("eos_token"), special_sep = tc_get("sep_token");
    if (!Truthy(special_bos) && Truthy(special_cls) && Truthy(tc)) tc["bos_token"] = special_bos = special_cls;
    if (!Truthy(special_eos) && Truthy(special_sep) && Truthy(tc)) tc["eos_token"] = special_eos = special_sep;
    const ojson* post = Get(*tokenizer, "post_processor");
    if (Truthy(post)) {
      const ojson* procs = Get(*post, "processors");
      const ojson list = procs != nullptr ? *procs : ojson::array({*post});
      for (const ojson& p : list) {
        const ojson* ptype = Get(p, "type");
        const std::string type = ptype != nullptr && ptype->is_string() ? ptype->get<std::string>() : "";
        if (type == "ByteLevel") {
          if (!sv.HasAdd("bos")) sv.SetAdd("bos", false);
          if (!sv.HasAdd("eos")) sv.SetAdd("eos", false);
        } else if (type == "RobertaProcessing") {
          sv.SetAdd("bos", true);
          sv.SetAdd("eos", true);
          sv.SetAdd("sep", true);
          if (!Truthy(special_cls) && Truthy(tc)) {
            const ojson* c = Get(p, "cls");
            special_cls = c != nullptr && c->is_array() && !c->empty() ? (*c)[0] : special_bos;
            tc["cls_token"] = special_cls;
          }
          if (!Truthy(special_sep) && Truthy(tc)) {
            const ojson* s = Get(p, "sep");
            special_sep = s != nullptr && s->is_array() && !s->empty() ? (*s)[0] : special_eos;
            tc["sep_token"] = special_sep;
          }
        } else if (type == "TemplateProcessing") {
          // "Crude parsing of TemplateProcessing to determine if BOS/SEP/EOS should be added".
          const ojson* single_p = Get(p, "single");
          const ojson* pair_p = Get(p, "pair");
          const ojson single = single_p != nullptr && single_p->is_array() ? *single_p : ojson::array();
          ojson pair = pair_p != nullptr && pair_p->is_array() ? *pair_p : ojson::array();
          ojson special_first, special_last;
          if (single.size() > 1) {
            special_first = PieceId(single.front(), "SpecialToken");
            if (Truthy(special_first)) {
              if (!Truthy(tc)) {
                special_bos = special_first;
              } else if (!JsonIn(special_first, special_bos, special_cls)) {
                if (!Truthy(special_bos)) tc["bos_token"] = special_bos = special_first;
                if (!Truthy(special_cls)) tc["cls_token"] = special_cls = special_first;
              }
              sv.SetAdd("bos", JsonIn(special_first, special_bos, special_cls));
            }
            special_last = PieceId(single.back(), "SpecialToken");
            if (Truthy(special_last)) {
              if (!Truthy(tc)) {
                special_eos = special_last;
              } else if (special_last != special_eos) {
                if (std::find(sv.types.begin(), sv.types.end(), "eot") == sv.types.end()) {
                  sv.types.push_back("eot");
                  tc["eot_token"] = special_eos;
                } else if (std::find(sv.types.begin(), sv.types.end(), "eom") == sv.types.end()) {
                  sv.types.push_back("eom");
                  tc["eom_token"] = special_eos;
                }
                tc["eos_token"] = special_eos = special_last;
              }
              sv.SetAdd("eos", special_last == special_eos);
            }
          }
          if (!pair.empty()) {
            const size_t start = Truthy(special_first) && PieceId(pair.front(), "SpecialToken") == special_first ? 1 : 0;
            const bool drop_last = Truthy(special_last) && PieceId(pair.back(), "SpecialToken") == special_last;
            const size_t stop = pair.size() - (drop_last ? 1 : 0);
            ojson mid = ojson::array();
            for (size_t k = start; k < stop; ++k) mid.push_back(pair[k]);
            if (!mid.empty()) {
              const ojson a = PieceId(mid.front(), "Sequence"), b = PieceId(mid.back(), "Sequence");
              if (a == "A" && b == "B" && mid.size() > 2) {
                bool add_sep = false;
                const ojson e1 = PieceId(mid[1], "SpecialToken");
                if (Truthy(e1) && JsonIn(e1, special_sep, special_eos) && !Truthy(special_last)) add_sep = true;
                if (mid.size() - 2 == 2) {
                  const ojson e2 = PieceId(mid[2], "SpecialToken");
                  if (Truthy(e2) && JsonIn(e2, special_sep, special_eos)) add_sep = true;
                }
                sv.SetAdd("sep", add_sep);
                if (add_sep && !Truthy(special_sep) && Truthy(tc)) tc["sep_token"] = special_eos;
              }
            }
          }
        }
      }
    }
  }
  if (Truthy(tc)) {
    // Chat template: tokenizer_config's, else chat_template.jinja (+ additional_chat_templates/*.jinja),
    // else chat_template.json's.
    ojson alt;
    std::error_code ec;
    if (fs::is_regular_file(dir / "chat_template.jinja", ec)) {
      QF_ASSIGN_OR_RETURN(std::string t, ReadHfText(dir / "chat_template.jinja"));
      read->insert("chat_template.jinja");
      alt = t;
      std::vector<fs::path> extra;
      if (fs::is_directory(dir / "additional_chat_templates", ec)) {
        for (const auto& e : fs::directory_iterator(dir / "additional_chat_templates", ec)) {
          if (e.path().extension() == ".jinja") extra.push_back(e.path());
        }
      }
      if (!extra.empty()) {
        std::sort(extra.begin(), extra.end());
        alt = ojson::array({ojson{{"name", "default"}, {"template", t}}});
        for (const fs::path& p : extra) {
          QF_ASSIGN_OR_RETURN(std::string x, ReadHfText(p));
          read->insert(fs::relative(p, dir).generic_string());
          alt.push_back(ojson{{"name", p.stem().string()}, {"template", x}});
        }
      }
    } else {
      QF_ASSIGN_OR_RETURN(std::optional<ojson> ctj, ReadHfJson(dir, "chat_template.json", read));
      if (ctj) {
        if (const ojson* c = Get(*ctj, "chat_template")) alt = *c;
      }
    }
    const ojson* ct = Get(tc, "chat_template");
    const ojson chat = ct != nullptr ? *ct : alt;
    if (chat.is_string() || chat.is_array()) sv.chat_template = chat;  // other types: ignored (a warning)
    for (size_t k = 0; k < sv.types.size(); ++k) {  // types may have grown by eot / eom above
      const std::string typ = sv.types[k];
      if (const ojson* a = Get(tc, "add_" + typ + "_token"); a != nullptr && a->is_boolean()) {
        if (!sv.HasAdd(typ)) sv.SetAdd(typ, a->get<bool>());  // else the post-processor's value wins
      }
      const ojson* entry = Get(tc, typ + "_token");
      std::string content;
      if (entry != nullptr && entry->is_string()) {
        content = entry->get<std::string>();
      } else if (entry != nullptr && entry->is_object()) {
        const ojson* c = Get(*entry, "content");
        if (c == nullptr || !c->is_string()) continue;
        content = c->get<std::string>();
      } else {
        continue;
      }
      const ojson* found = nullptr;
      for (const ojson& at : added_tokens) {
        const ojson* c = Get(at, "content");
        if (c != nullptr && *c == content) {
          found = Get(at, "id");
          break;
        }
      }
      QF_TRY(sv.SetId(typ, found, n_vocab, where + "/tokenizer.json"));
    }
  }
  // _try_load_from_config_json: the raw file (not transformers' defaults).
  QF_ASSIGN_OR_RETURN(std::optional<ojson> config, ReadHfJson(dir, "config.json", read));
  if (config) {
    for (const std::string& typ : sv.types) {
      const ojson* id = Get(*config, typ + "_token_id");
      if ((id == nullptr || id->is_null())) {
        if (const ojson* text = Get(*config, "text_config")) id = Get(*text, typ + "_token_id");
      }
      QF_TRY(sv.SetId(typ, id, n_vocab, where + "/config.json"));
    }
  }
  if (load_merges && sv.merges.empty()) QF_TRY(LoadHfMergesTxt(dir, &sv, read));
  return sv;
}

// SpecialVocab.add_to_gguf: the keys GGUFWriter has handlers for (cls ids and add_{unk,pad,cls,mask}
// flags have none: the converter skips them with a warning).
void AddHfSpecialVocab(const HfSpecialVocab& sv, HfGgufKv* kv) {
  if (!sv.merges.empty()) kv->StrArray("tokenizer.ggml.merges", sv.merges);
  static constexpr std::pair<std::string_view, std::string_view> kIdKeys[] = {
      {"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
      {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
      {"pad", "tokenizer.ggml.padding_token_id"}, {"mask", "tokenizer.ggml.mask_token_id"},
      {"eot", "tokenizer.ggml.eot_token_id"},     {"eom", "tokenizer.ggml.eom_token_id"}};
  for (const auto& [typ, id] : sv.ids) {
    for (const auto& [t, key] : kIdKeys) {
      if (t == typ) kv->U32(std::string(key), static_cast<uint64_t>(id));
    }
  }
  for (const auto& [typ, v] : sv.add) {
    if (typ == "bos" || typ == "eos" || typ == "sep") kv->Bool("tokenizer.ggml.add_" + typ + "_token", v);
  }
  if (sv.chat_template.is_string()) {
    kv->Str("tokenizer.chat_template", sv.chat_template.get<std::string>());
  } else if (sv.chat_template.is_array()) {
    // GGUFWriter.add_chat_template with named templates: tokenizer.chat_template.<name> for each
    // non-default one, their names (a Python set: written here in sorted order), then the default.
    std::optional<std::string> dflt;
    std::vector<std::string> names;
    for (const ojson& c : sv.chat_template) {
      const ojson* n = Get(c, "name");
      const ojson* t = Get(c, "template");
      std::string name = n != nullptr && n->is_string() ? n->get<std::string>() : "";
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      if (name.empty() || t == nullptr || !t->is_string()) continue;
      if (name == "default") {
        dflt = t->get<std::string>();
      } else {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
        kv->Str("tokenizer.chat_template." + name, t->get<std::string>());
      }
    }
    std::sort(names.begin(), names.end());
    if (!names.empty()) kv->StrArray("tokenizer.chat_templates", names);
    if (dflt) kv->Str("tokenizer.chat_template", *dflt);
  }
  if (sv.lowercase) kv->Bool("tokenizer.ggml.normalizer.lowercase", *sv.lowercase);
  if (sv.strip_accents) kv->Bool("tokenizer.ggml.normalizer.strip_accents", *sv.strip_accents);
}

// TextModel._create_vocab_sentencepiece + _set_vocab_sentencepiece.
Status AddHfSentencePieceVocab(const fs::path& dir, int64_t vocab_size, HfGgufKv* kv, HfFilesRead* read) {
  // SentencePieceTokenTypes (= gguf TokenType) numbering: io::TokenType.
  QF_ASSIGN_OR_RETURN(io::SentencePieceVocab sp, io::ReadSentencePieceVocab(dir / "tokenizer.model"));
  read->insert("tokenizer.model");
  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<float> scores(static_cast<size_t>(vocab_size), -10000.0f);
  std::vector<int32_t> types(static_cast<size_t>(vocab_size), static_cast<int32_t>(io::TokenType::kUnused));
  for (int64_t i = 0; i < vocab_size; ++i) tokens[i] = fmt::format("[PAD{}]", i);
  for (size_t id = 0; id < sp.pieces.size() && static_cast<int64_t>(id) < vocab_size; ++id) {
    tokens[id] = sp.pieces[id];
    scores[id] = sp.scores[id];
    types[id] = static_cast<int32_t>(sp.types[id]);
  }
  QF_ASSIGN_OR_RETURN(std::optional<ojson> added, ReadHfJson(dir, "added_tokens.json", read));
  if (added) {
    if (!added->is_object()) return MakeError("{}/added_tokens.json: not an object", dir.string());
    for (const auto& [content, id] : added->items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0) {
        return MakeError("{}/added_tokens.json: '{}' has id {}, expected an integer >= 0", dir.string(), content,
                         id.dump());
      }
      const int64_t t = id.get<int64_t>();
      if (t >= vocab_size) continue;  // ignored with a warning
      tokens[t] = content;
      scores[t] = -1000.0f;
      types[t] = static_cast<int32_t>(io::TokenType::kUserDefined);
    }
  }
  QF_ASSIGN_OR_RETURN(std::optional<ojson> tc, ReadHfJson(dir, "tokenizer_config.json", read));
  if (tc) {
    if (const ojson* dec = Get(*tc, "added_tokens_decoder"); dec != nullptr && dec->is_object()) {
      for (const auto& [key, data] : dec->items()) {
        int64_t t = 0;
        const auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), t);
        const ojson* content = Get(data, "content");
        if (ec != std::errc() || ptr != key.data() + key.size() || t < 0 || content == nullptr ||
            !content->is_string()) {
          return MakeError("{}/tokenizer_config.json: added_tokens_decoder entry '{}' has no valid id / content",
                           dir.string(), key);
        }
        if (t >= vocab_size) continue;
        std::string token = content->get<std::string>();
        if (Truthy(Get(data, "special")) || HfTokenLooksSpecial(token)) {
          types[t] = static_cast<int32_t>(io::TokenType::kControl);
        } else {
          token = HfSpmSpaceToSpace(token);
          types[t] = static_cast<int32_t>(io::TokenType::kUserDefined);
        }
        scores[t] = -1000.0f;
        tokens[t] = std::move(token);
      }
    }
  }
  kv->Str("tokenizer.ggml.model", "llama");
  kv->Str("tokenizer.ggml.pre", "default");
  kv->StrArray("tokenizer.ggml.tokens", tokens);
  kv->F32Array("tokenizer.ggml.scores", scores);
  kv->I32Array("tokenizer.ggml.token_type", types);
  QF_ASSIGN_OR_RETURN(HfSpecialVocab sv, LoadHfSpecialVocab(dir, vocab_size, /*load_merges=*/false, read));
  AddHfSpecialVocab(sv, kv);
  return Status::Ok();
}

// The pre-tokenizer names the converter (get_vocab_base_pre) gives the check-text hashes qforge accepts:
// only "qwen2" (the one qforge's qwen2 export needs); any other hash is refused with the hash.
constexpr std::pair<std::string_view, std::string_view> kHfBpePreHashes[] = {
    {"e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea", "qwen2"},  // Qwen/Qwen1.5-7B
    {"d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c", "qwen2"},  // Qwen/Qwen3-Embedding-0.6B
};

// TextModel.get_vocab_base + _set_vocab_gpt2 (tokenizer.json). transformers' AutoTokenizer is not
// available here: its vocabulary is model.vocab plus added_tokens of tokenizer.json, which must agree
// with tokenizer_config.json's added_tokens_decoder. An added token that is not `normalized` is
// written as its content (the converter writes decode(encode(content)), which is the content for an
// added token matched whole).
Status AddHfGpt2Vocab(const fs::path& dir, int64_t vocab_size, HfGgufKv* kv, HfFilesRead* read) {
  const std::string where = (dir / "tokenizer.json").string();
  QF_ASSIGN_OR_RETURN(std::optional<json> tj, ReadHfJson<json>(dir, "tokenizer.json", read));
  if (!tj) return MakeError("{}: no tokenizer.json (nor tokenizer.model): no vocabulary to convert", dir.string());
  const json* model = Get(*tj, "model");
  const json* vocab = model != nullptr ? Get(*model, "vocab") : nullptr;
  const json* mtype = model != nullptr ? Get(*model, "type") : nullptr;
  if (mtype == nullptr || *mtype != "BPE" || vocab == nullptr || !vocab->is_object()) {
    return MakeError("{}: model is not a BPE model with a vocab object ({}), which the gpt2 vocabulary needs", where,
                     mtype != nullptr ? mtype->dump() : "no type");
  }
  struct Added {
    std::string content;
    bool special = false, normalized = true;
  };
  std::map<int64_t, std::string> reverse;
  std::map<int64_t, Added> added;
  for (const auto& [piece, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) {
      return MakeError("{}: model.vocab['{}'] = {} is not an id", where, piece, id.dump());
    }
    reverse[id.get<int64_t>()] = piece;
  }
  if (const json* at = Get(*tj, "added_tokens"); at != nullptr && at->is_array()) {
    for (const json& a : *at) {
      const json* id = Get(a, "id");
      const json* content = Get(a, "content");
      if (id == nullptr || !id->is_number_integer() || id->get<int64_t>() < 0 || content == nullptr ||
          !content->is_string()) {
        return MakeError("{}: added token {} has no valid id / content", where, a.dump().substr(0, 80));
      }
      Added x{content->get<std::string>(), Truthy(Get(a, "special")), true};
      if (const json* n = Get(a, "normalized"); n != nullptr && n->is_boolean()) x.normalized = n->get<bool>();
      reverse[id->get<int64_t>()] = x.content;
      added[id->get<int64_t>()] = std::move(x);
    }
  }
  QF_ASSIGN_OR_RETURN(std::optional<ojson> tc, ReadHfJson(dir, "tokenizer_config.json", read));
  if (tc) {
    if (const ojson* dec = Get(*tc, "added_tokens_decoder"); dec != nullptr && dec->is_object()) {
      for (const auto& [key, data] : dec->items()) {
        int64_t id = -1;
        std::from_chars(key.data(), key.data() + key.size(), id);
        const ojson* content = Get(data, "content");
        auto it = added.find(id);
        if (it == added.end() || content == nullptr || *content != it->second.content ||
            Truthy(Get(data, "special")) != it->second.special) {
          return MakeError("{}/tokenizer_config.json: added_tokens_decoder entry {} ({}) is not tokenizer.json's "
                           "added token {}; which one transformers would use is not guessed",
                           dir.string(), key, data.dump().substr(0, 80),
                           it == added.end() ? std::string("(none)") : it->second.content);
        }
      }
    }
  }
  if (!reverse.empty() && reverse.rbegin()->first >= vocab_size) {
    return MakeError("{}: token id {} is outside vocab_size {} of config.json", where, reverse.rbegin()->first,
                     vocab_size);
  }
  // The pre-tokenizer, by the converter's hash of the ids of its check text.
  QF_ASSIGN_OR_RETURN(std::unique_ptr<io::Tokenizer> tok, io::LoadHfTokenizer(dir));
  const std::vector<int32_t> ids = tok->Encode(BpePreCheckText(), tok->adds_bos());
  const std::string hash = BpePreCheckHash(ids);
  std::string pre;
  for (const auto& [h, name] : kHfBpePreHashes) {
    if (h == hash) pre = name;
  }
  if (pre.empty()) {
    return MakeError("{}: BPE pre-tokenizer not recognised (llama.cpp's check-text hash {}; qforge converts the "
                     "qwen2 one only)",
                     where, hash);
  }
  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<int32_t> types(static_cast<size_t>(vocab_size));
  std::set<std::string> added_contents;
  for (const auto& [id, a] : added) added_contents.insert(a.content);
  for (int64_t i = 0; i < vocab_size; ++i) {
    auto r = reverse.find(i);
    if (r == reverse.end()) {
      tokens[i] = fmt::format("[PAD{}]", i);
      types[i] = static_cast<int32_t>(io::TokenType::kUnused);
      continue;
    }
    std::string token = r->second;
    if (added_contents.count(token) != 0) {
      auto a = added.find(i);
      const bool special = a != added.end() && a->second.special;
      if (special || HfTokenLooksSpecial(token)) {
        types[i] = static_cast<int32_t>(io::TokenType::kControl);
      } else {
        token = HfSpmSpaceToSpace(token);
        types[i] = static_cast<int32_t>(io::TokenType::kUserDefined);
      }
    } else {
      types[i] = static_cast<int32_t>(io::TokenType::kNormal);
    }
    tokens[i] = std::move(token);
  }
  kv->Str("tokenizer.ggml.model", "gpt2");
  kv->Str("tokenizer.ggml.pre", pre);
  kv->StrArray("tokenizer.ggml.tokens", tokens);
  kv->I32Array("tokenizer.ggml.token_type", types);
  QF_ASSIGN_OR_RETURN(HfSpecialVocab sv, LoadHfSpecialVocab(dir, std::nullopt, /*load_merges=*/true, read));
  AddHfSpecialVocab(sv, kv);
  return Status::Ok();
}

}  // namespace

Result<std::optional<ojson>> ReadHfJsonFile(const fs::path& dir, const std::string& name, HfFilesRead* read) {
  return ReadHfJson<ojson>(dir, name, read);
}

Status AddHfVocab(const fs::path& dir, std::string_view arch, int64_t vocab_size, HfGgufKv* kv, HfFilesRead* read) {
  const std::string where = dir.string();
  std::error_code ec;
  const bool has_spm = fs::is_regular_file(dir / "tokenizer.model", ec);
  if (arch == "llama") {
    if (!has_spm) {
      return MakeError("{}: no tokenizer.model; llama vocabularies from tokenizer.json (Llama 3's llama-bpe, the HF "
                       "Llama vocab) are not converted",
                       where);
    }
    QF_ASSIGN_OR_RETURN(std::optional<ojson> tc, ReadHfJson(dir, "tokenizer_config.json", read));
    if (tc) {
      if (const ojson* p = Get(*tc, "add_prefix_space"); p != nullptr && !p->is_null()) {
        if (!p->is_boolean()) return MakeError("{}/tokenizer_config.json: add_prefix_space is not a boolean", where);
        kv->Bool("tokenizer.ggml.add_space_prefix", p->get<bool>());
      }
      if (const ojson* cls = Get(*tc, "tokenizer_class"); cls != nullptr && *cls == "HybridDNATokenizer") {
        return MakeError("{}: tokenizer_class HybridDNATokenizer is not converted", where);
      }
    }
    return AddHfSentencePieceVocab(dir, vocab_size, kv, read);
  }
  if (arch == "qwen2") {
    return has_spm ? AddHfSentencePieceVocab(dir, vocab_size, kv, read) : AddHfGpt2Vocab(dir, vocab_size, kv, read);
  }
  if (arch == "gemma3") {
    if (!has_spm) {
      return MakeError("{}: no tokenizer.model; llama.cpp's converter reads Gemma 3's SentencePiece model (the "
                       "tokenizer.json-only path is not converted)",
                       where);
    }
    QF_TRY(AddHfSentencePieceVocab(dir, vocab_size, kv, read));
    kv->Bool("tokenizer.ggml.add_space_prefix", false);
    return Status::Ok();
  }
  return MakeError("{}: no vocabulary conversion for architecture '{}'", where, arch);
}

std::string_view BpePreCheckText() {
  // conversion/base.py get_vocab_base_pre's chktxt, as UTF-8 (SHA-256 of these 431 bytes:
  // a36179c1e2b1cfcfbfad1dc779addad2ffc778201e4cf0d538bddeafa2c526da).
  static constexpr std::string_view kText =
      "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n\xf0\x9f\x9a\x80 (normal) \xf0\x9f\x98\xb6\xe2\x80\x8d"
      "\xf0\x9f\x8c\xab\xef\xb8\x8f (multiple emojis concatenated) \xe2\x9c\x85 \xf0\x9f\xa6\x99\xf0\x9f\xa6"
      "\x99 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 \xe1\x9e\x80\xe1\x9e\xb6\xe1\x9e\x93"
      "\xe1\x9f\x8b\xe1\x9e\x8f\xe1\x9f\x82\xe1\x9e\x96\xe1\x9e\xb7\xe1\x9e\x9f\xe1\x9f\x81\xe1\x9e\x9f\xe1"
      "\x9e\xa2\xe1\x9e\xb6\xe1\x9e\x85\xf0\x9f\x98\x81 ?\xe6\x88\x91\xe6\x83\xb3\xe5\x9c\xa8""apple\xe5\xb7"
      "\xa5\xe4\xbd\x9c""1314151\xe5\xa4\xa9\xef\xbd\x9e ------======= \xd0\xbd\xd0\xb5\xd1\x89\xd0\xbe \xd0"
      "\xbd\xd0\xb0 \xd0\x91\xd1\x8a\xd0\xbb\xd0\xb3\xd0\xb0\xd1\x80\xd1\x81\xd0\xba\xd0\xb8 ''''''```````\""
      "\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you "
      "like some tea? We'Ve a'lL";
  return kText;
}

std::string BpePreCheckHash(std::span<const int32_t> ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += fmt::format("{}{}", i == 0 ? "" : ", ", ids[i]);
  s += "]";
  return artifact::Sha256Hex(s);
}

}  // namespace qforge::quant
