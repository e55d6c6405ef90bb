#include "io/tokenizer_bpe.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <queue>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/unicode.h"

namespace qforge::io {
namespace {


// GPT-2 bytes_to_unicode (openai/gpt-2 src/encoder.py): printable Latin-1 bytes stand for themselves,
// the other 68 bytes map to 256, 257, ... in byte order.
std::array<char32_t, 256> MakeByteToUnicode() {
  std::array<char32_t, 256> t{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    t[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return t;
}
const std::array<char32_t, 256> kByteToUnicode = MakeByteToUnicode();

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeConfig c) : c_(std::move(c)) {
    vocab_size_ = static_cast<int32_t>(c_.pieces.size());
    bos_id_ = c_.bos_id;
    eos_id_ = c_.eos_id;
    unk_id_ = c_.unk_id;
    adds_bos_ = c_.add_bos;
    strips_leading_space_ = c_.strip_leading_space;
    kind_ = c_.kind;
    for (int b = 0; b < 256; ++b) unicode_to_byte_[kByteToUnicode[b]] = static_cast<uint8_t>(b);
  }

  Status Init() {
    if (c_.types.size() != c_.pieces.size()) {
      return MakeError("{}: {} token types for {} tokens", c_.source, c_.types.size(), c_.pieces.size());
    }
    ids_.reserve(c_.pieces.size());
    for (size_t i = 0; i < c_.pieces.size(); ++i) {
      // Duplicates: the first id wins for encoding (HF keeps one; GGUF vocabs may repeat unused pieces).
      ids_.emplace(c_.pieces[i], static_cast<int32_t>(i));
    }
    QF_TRY(CheckSpecialIds(c_.source));
    merges_.reserve(c_.merges.size());
    for (size_t r = 0; r < c_.merges.size(); ++r) {
      const auto& [a, b] = c_.merges[r];
      auto ia = ids_.find(a), ib = ids_.find(b), im = ids_.find(a + b);
      if (ia == ids_.end() || ib == ids_.end() || im == ids_.end()) {
        return MakeError("{}: merge #{} '{} {}': {} is not in the vocabulary", c_.source, r, a, b,
                         ia == ids_.end() ? a : ib == ids_.end() ? b : a + b);
      }
      merges_.emplace(PairKey(ia->second, ib->second), Merge{static_cast<int32_t>(r), im->second});
    }
    if (c_.byte_fallback) {
      for (int b = 0; b < 256; ++b) {
        auto it = ids_.find(fmt::format("<0x{:02X}>", b));
        byte_ids_[b] = it == ids_.end() ? -1 : it->second;
      }
    }
    for (int32_t id : c_.verbatim) {
      if (id < 0 || id >= vocab_size_ || c_.pieces[id].empty()) {
        return MakeError("{}: added token id {} invalid or empty", c_.source, id);
      }
    }
    return Status::Ok();
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override {
    std::vector<int32_t> out;
    if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
    bool first_segment = true;
    size_t pos = 0;
    // Leftmost, then longest (then first listed), verbatim (added) token. Each piece's next occurrence
    // at or after pos only moves forward, so it is kept in a min-heap and searched again only once it
    // falls behind pos: one forward scan of the text per piece, not one per match (Gemma lists "\n" and
    // ~6,000 other added tokens, so rescanning every piece at every newline was quadratic).
    struct Next {
      size_t at, len, order;
    };
    auto after = [](const Next& a, const Next& b) {
      if (a.at != b.at) return a.at > b.at;
      if (a.len != b.len) return a.len < b.len;
      return a.order > b.order;
    };
    std::priority_queue<Next, std::vector<Next>, decltype(after)> next(after);
    for (size_t k = 0; k < c_.verbatim.size(); ++k) {
      const std::string& p = c_.pieces[c_.verbatim[k]];
      if (p.empty()) continue;
      if (size_t at = text.find(p); at != std::string_view::npos) next.push({at, p.size(), k});
    }
    while (pos <= text.size()) {
      while (!next.empty() && next.top().at < pos) {
        Next n = next.top();
        next.pop();
        if (size_t at = text.find(c_.pieces[c_.verbatim[n.order]], pos); at != std::string_view::npos) next.push({at, n.len, n.order});
      }
      size_t best_at = text.size(), best_len = 0;
      int32_t best_id = -1;
      if (!next.empty()) {
        best_at = next.top().at, best_len = next.top().len, best_id = c_.verbatim[next.top().order];
      }
      if (best_at > pos) EncodeSegment(text.substr(pos, best_at - pos), first_segment, &out);
      first_segment = false;
      if (best_id < 0) break;
      out.push_back(best_id);
      pos = best_at + best_len;
    }
    return out;
  }

  std::string DecodeToken(int32_t id) const override {
    if (id < 0 || id >= vocab_size_) return {};
    const TokenType t = c_.types[id];
    if (t == TokenType::kControl) return {};
    const std::string& p = c_.pieces[id];
    if (t == TokenType::kByte && c_.byte_fallback && p.size() == 6) {
      return std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
    }
    if (c_.byte_level) {
      // ByteLevel decoder: every char must be a byte stand-in, else the piece's own bytes (as HF).
      std::string bytes;
      size_t i = 0;
      while (i < p.size()) {
        char32_t cp;
        i += DecodeUtf8(p, i, &cp);
        auto it = unicode_to_byte_.find(cp);
        if (it == unicode_to_byte_.end()) return p;
        bytes.push_back(static_cast<char>(it->second));
      }
      return bytes;
    }
    if (c_.spm_normalize) return ReplaceAll(p, kSpmSpace, " ");
    return p;
  }

  std::string Piece(int32_t id) const override {
    return id >= 0 && id < vocab_size_ ? c_.pieces[id] : std::string();
  }
  TokenType type(int32_t id) const override {
    return id >= 0 && id < vocab_size_ ? c_.types[id] : TokenType::kUndefined;
  }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;
  };

  static std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to) {
    std::string r;
    size_t pos = 0;
    while (true) {
      size_t at = s.find(from, pos);
      r.append(s.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos));
      if (at == std::string_view::npos) return r;
      r.append(to);
      pos = at + from.size();
    }
  }

  void EncodeSegment(std::string_view seg, bool first_segment, std::vector<int32_t>* out) const {
    // NFC first: in a Sequence with Prepend/Replace its order does not matter, since neither " " nor
    // "▁" composes with a following mark.
    std::string nfc;
    if (c_.nfc) {
      nfc = NormalizeNfc(seg);
      seg = nfc;
    }
    std::string norm;
    if (c_.spm_normalize) {
      if (!c_.spm_no_prepend && (!c_.spm_prepend_first_only || first_segment)) norm = std::string(kSpmSpace);
      norm += ReplaceAll(seg, " ", kSpmSpace);
      seg = norm;
    } else if (c_.add_prefix_space && !seg.empty() && seg[0] != ' ') {
      norm = " ";
      norm += seg;
      seg = norm;
    }
    if (c_.regex) {
      for (std::string_view w : PreTokenize(*c_.regex, seg)) EncodeWord(w, out);
    } else {
      EncodeWord(seg, out);
    }
  }

  // Encodes one pre-tokenized word.
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
    if (word.empty()) return;
    std::string mapped;
    if (c_.byte_level) {
      for (char ch : word) AppendUtf8(kByteToUnicode[static_cast<uint8_t>(ch)], &mapped);
      word = mapped;
    }
    if (c_.ignore_merges) {
      auto it = ids_.find(std::string(word));
      if (it != ids_.end()) {
        out->push_back(it->second);
        return;
      }
    }
    // Initial symbols: one per UTF-8 character (byte-level: per stand-in of one byte).
    std::vector<int32_t> sym;
    size_t i = 0;
    while (i < word.size()) {
      char32_t cp;
      size_t len = DecodeUtf8(word, i, &cp);
      auto it = ids_.find(std::string(word.substr(i, len)));
      if (it != ids_.end()) {
        sym.push_back(it->second);
      } else if (c_.byte_fallback && std::all_of(word.begin() + i, word.begin() + i + len, [&](char b) {
                   return byte_ids_[static_cast<uint8_t>(b)] >= 0;
                 })) {
        for (size_t k = i; k < i + len; ++k) sym.push_back(byte_ids_[static_cast<uint8_t>(word[k])]);
      } else if (unk_id_ >= 0) {
        if (!(c_.fuse_unk && !sym.empty() && sym.back() == unk_id_)) sym.push_back(unk_id_);
      }
      // No unk and no fallback: the character is dropped (HF does the same when unk is unset).
      i += len;
    }
    ApplyMerges(&sym);
    out->insert(out->end(), sym.begin(), sym.end());
  }

  // Lowest rank first, leftmost among equal ranks; symbols form a linked list over the vector.
  void ApplyMerges(std::vector<int32_t>* sym) const {
    const int n = static_cast<int>(sym->size());
    if (n < 2) return;
    std::vector<int> prev(n), next(n);
    for (int k = 0; k < n; ++k) prev[k] = k - 1, next[k] = k + 1 < n ? k + 1 : -1;
    std::vector<int32_t>& id = *sym;
    struct Cand {
      int32_t rank;
      int left;
      int32_t left_id, right_id, merged;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto push = [&](int l) {
      if (l < 0 || next[l] < 0) return;
      auto it = merges_.find(PairKey(id[l], id[next[l]]));
      if (it != merges_.end()) heap.push({it->second.rank, l, id[l], id[next[l]], it->second.id});
    };
    for (int k = 0; k + 1 < n; ++k) push(k);
    std::vector<bool> alive(n, true);
    while (!heap.empty()) {
      Cand c = heap.top();
      heap.pop();
      // Stale when either side changed (merged tokens are longer, so ids never come back).
      if (!alive[c.left] || id[c.left] != c.left_id) continue;
      const int r = next[c.left];
      if (r < 0 || id[r] != c.right_id) continue;
      id[c.left] = c.merged;
      alive[r] = false;
      next[c.left] = next[r];
      if (next[r] >= 0) prev[next[r]] = c.left;
      push(prev[c.left]);
      push(c.left);
    }
    std::vector<int32_t> result;
    for (int k = 0; k >= 0; k = next[k]) result.push_back(id[k]);
    *sym = std::move(result);
  }

  BpeConfig c_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<int32_t, 256> byte_ids_{};
  std::unordered_map<char32_t, uint8_t> unicode_to_byte_;
};

Result<std::string> ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return MakeError("{}: cannot open", path.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

char32_t ByteToUnicode(uint8_t b) { return kByteToUnicode[b]; }

Result<std::unique_ptr<Tokenizer>> MakeBpeTokenizer(BpeConfig config) {
  auto tok = std::make_unique<BpeTokenizer>(std::move(config));
  QF_TRY(tok->Init());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

Result<std::unique_ptr<Tokenizer>> LoadGpt2Files(const std::filesystem::path& vocab_json,
                                                 const std::filesystem::path& merges_txt) {
  QF_ASSIGN_OR_RETURN(std::string vocab_text, ReadWholeFile(vocab_json));
  QF_ASSIGN_OR_RETURN(std::string merges_text, ReadWholeFile(merges_txt));
  BpeConfig c;
  c.source = vocab_json.string();
  c.kind = "gpt2-files";
  c.byte_level = true;
  c.regex = PreTokenizerRegex::kGpt2;
  nlohmann::json vocab = nlohmann::json::parse(vocab_text, nullptr, /*allow_exceptions=*/false);
  if (!vocab.is_object()) return MakeError("{}: not a JSON object of piece -> id", vocab_json.string());
  const size_t n = vocab.size();
  c.pieces.assign(n, std::string());
  c.types.assign(n, TokenType::kNormal);
  std::vector<bool> seen(n, false);
  for (auto& [piece, idv] : vocab.items()) {
    if (!idv.is_number_integer() || idv.get<int64_t>() < 0 || idv.get<int64_t>() >= static_cast<int64_t>(n)) {
      return MakeError("{}: piece '{}' has id {}, expected an integer in [0, {})", vocab_json.string(), piece,
                       idv.dump(), n);
    }
    const auto id = idv.get<size_t>();
    if (seen[id]) return MakeError("{}: id {} used twice", vocab_json.string(), id);
    seen[id] = true;
    c.pieces[id] = piece;
  }
  std::istringstream ms(merges_text);
  std::string line;
  size_t line_no = 0;
  while (std::getline(ms, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == line.size()) {
      return MakeError("{}: line {}: expected '<a> <b>', found '{}'", merges_txt.string(), line_no, line);
    }
    c.merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  // GPT-2: "<|endoftext|>" is both BOS and EOS; HF GPT2Tokenizer adds no BOS.
  for (size_t i = 0; i < n; ++i) {
    if (c.pieces[i] == "<|endoftext|>") {
      c.bos_id = c.eos_id = static_cast<int32_t>(i);
      c.types[i] = TokenType::kControl;
    }
  }
  return MakeBpeTokenizer(std::move(c));
}

}  // namespace qforge::io
