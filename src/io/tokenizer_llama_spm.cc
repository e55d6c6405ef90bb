#include "io/tokenizer_llama_spm.h"

#include <algorithm>
#include <array>

#include <cmath>
#include <cstring>
#include <fstream>
#include <queue>
#include <unordered_map>

#include "io/unicode.h"

namespace qforge::io {
namespace {


std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to) {
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

class LlamaSpmTokenizer final : public Tokenizer {
 public:
  explicit LlamaSpmTokenizer(LlamaSpmConfig c) : c_(std::move(c)) {
    vocab_size_ = static_cast<int32_t>(c_.pieces.size());
    bos_id_ = c_.bos_id;
    eos_id_ = c_.eos_id;
    unk_id_ = c_.unk_id;
    adds_bos_ = c_.add_bos;
    strips_leading_space_ = c_.add_space_prefix;
    kind_ = c_.kind;
  }

  Status Init() {
    const size_t n = c_.pieces.size();
    if (c_.scores.size() != n || c_.types.size() != n) {
      return MakeError("{}: {} pieces but {} scores and {} types", c_.source, n, c_.scores.size(),
                       c_.types.size());
    }
    QF_TRY(CheckSpecialIds(c_.source));
    byte_ids_.fill(-1);
    for (size_t i = 0; i < n; ++i) {
      const auto id = static_cast<int32_t>(i);
      const std::string& p = c_.pieces[i];
      const TokenType t = c_.types[i];
      if (!std::isfinite(c_.scores[i])) return MakeError("{}: token {} has a non-finite score", c_.source, i);
      if (t == TokenType::kNormal || t == TokenType::kUserDefined) mergeable_.emplace(p, id);
      if (t == TokenType::kUserDefined && !p.empty()) {
        ud_by_byte_[static_cast<uint8_t>(p[0])].push_back(id);
      }
      if (t == TokenType::kByte) {
        unsigned v;
        if (p.size() != 6 || std::sscanf(p.c_str(), "<0x%2X>", &v) != 1) {
          return MakeError("{}: byte token {} is '{}', expected <0xXX>", c_.source, i, p);
        }
        if (byte_ids_[v] < 0) byte_ids_[v] = id;
      }
    }
    // Longest first within each first byte: the first hit at a position is the longest there.
    for (auto& bucket : ud_by_byte_) {
      std::stable_sort(bucket.begin(), bucket.end(),
                       [this](int32_t a, int32_t b) { return c_.pieces[a].size() > c_.pieces[b].size(); });
    }
    return Status::Ok();
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override {
    std::vector<int32_t> out;
    if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
    bool prev_special = true;  // the text start counts as "after a special piece" (llama.cpp)
    size_t pos = 0;
    while (pos < text.size()) {
      // The earliest user-defined piece in the rest of the text, the longest at that position (one
      // scan over positions, looking only at the pieces that start with the byte there).
      size_t best_at = text.size(), best_len = 0;
      int32_t best_id = -1;
      for (size_t at = pos; at < text.size() && best_id < 0; ++at) {
        for (int32_t id : ud_by_byte_[static_cast<uint8_t>(text[at])]) {
          const std::string& p = c_.pieces[id];
          if (text.compare(at, p.size(), p) == 0) {
            best_at = at, best_len = p.size(), best_id = id;
            break;
          }
        }
      }
      if (best_at > pos) {
        EncodeFragment(text.substr(pos, best_at - pos), prev_special && c_.add_space_prefix, &out);
        prev_special = false;
      }
      if (best_id < 0) break;
      out.push_back(best_id);
      prev_special = true;
      pos = best_at + best_len;
    }
    return out;
  }

  std::string DecodeToken(int32_t id) const override {
    if (id < 0 || id >= vocab_size_) return {};
    switch (c_.types[id]) {
      case TokenType::kControl: return {};
      case TokenType::kByte: {
        unsigned v = 0;
        std::sscanf(c_.pieces[id].c_str(), "<0x%2X>", &v);
        return std::string(1, static_cast<char>(v));
      }
      default: return ReplaceAll(c_.pieces[id], kSpmSpace, " ");
    }
  }
  std::string Piece(int32_t id) const override {
    return id >= 0 && id < vocab_size_ ? c_.pieces[id] : std::string();
  }
  TokenType type(int32_t id) const override {
    return id >= 0 && id < vocab_size_ ? c_.types[id] : TokenType::kUndefined;
  }

 private:
  void EncodeFragment(std::string_view frag, bool prefix_space, std::vector<int32_t>* out) const {
    std::string text = prefix_space ? std::string(kSpmSpace) : std::string();
    text += ReplaceAll(frag, " ", kSpmSpace);
    // Symbols: byte ranges [start, start+len) of `text`, one per UTF-8 character, in a linked list.
    struct Sym {
      uint32_t start, len;
      int prev, next;
    };
    std::vector<Sym> sym;
    for (size_t i = 0; i < text.size();) {
      char32_t cp;
      size_t len = DecodeUtf8(text, i, &cp);
      const int k = static_cast<int>(sym.size());
      sym.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(len), k - 1, -1});
      if (k > 0) sym[k - 1].next = k;
      i += len;
    }
    struct Bigram {
      float score;
      int left;
      uint32_t size;  // bytes of the merged text, to detect stale entries
      bool operator<(const Bigram& o) const {  // max-heap: highest score, then lowest left
        return score != o.score ? score < o.score : left > o.left;
      }
    };
    std::priority_queue<Bigram> heap;
    auto try_add = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      auto it = mergeable_.find(std::string_view(text).substr(sym[l].start, sym[l].len + sym[r].len));
      if (it == mergeable_.end()) return;
      heap.push({c_.scores[it->second], l, sym[l].len + sym[r].len});
    };
    for (size_t k = 1; k < sym.size(); ++k) try_add(static_cast<int>(k - 1), static_cast<int>(k));
    while (!heap.empty()) {
      Bigram b = heap.top();
      heap.pop();
      Sym& l = sym[b.left];
      // Stale: the left symbol was merged away (len 0) or grew, or its right neighbour changed.
      if (l.len == 0 || l.next < 0 || l.len + sym[l.next].len != b.size) continue;
      Sym& r = sym[l.next];
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }
    for (int k = sym.empty() ? -1 : 0; k >= 0; k = sym[k].next) {
      std::string_view piece = std::string_view(text).substr(sym[k].start, sym[k].len);
      auto it = mergeable_.find(piece);
      if (it != mergeable_.end()) {
        out->push_back(it->second);
        continue;
      }
      // Not a piece (a single character): byte fallback, else one unk for the character.
      bool all_bytes = true;
      for (char ch : piece) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(ch)] >= 0;
      if (all_bytes) {
        for (char ch : piece) out->push_back(byte_ids_[static_cast<uint8_t>(ch)]);
      } else if (unk_id_ >= 0) {
        out->push_back(unk_id_);
      }
    }
  }

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  LlamaSpmConfig c_;
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> mergeable_;
  std::array<std::vector<int32_t>, 256> ud_by_byte_;  // user-defined pieces by first byte
  std::array<int32_t, 256> byte_ids_{};
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> MakeLlamaSpmTokenizer(LlamaSpmConfig config) {
  auto tok = std::make_unique<LlamaSpmTokenizer>(std::move(config));
  QF_TRY(tok->Init());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

Result<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::filesystem::path& path,
                                                         int32_t vocab_size) {
  // run.c build_tokenizer: i32 max_token_length, then per token f32 score, i32 len, len bytes.
  // export (tokenizer.py) wrote pieces with "▁" -> " " and BOS/EOS as "\n<s>\n" / "\n</s>\n".
  std::ifstream f(path, std::ios::binary);
  if (!f) return MakeError("{}: cannot open", path.string());
  const std::string name = path.string();
  int32_t max_len = 0;
  if (!f.read(reinterpret_cast<char*>(&max_len), 4) || max_len <= 0 || max_len > (1 << 16)) {
    return MakeError("{}: offset 0: max_token_length {} invalid or missing", name, max_len);
  }
  LlamaSpmConfig c;
  c.kind = "llama2c";
  c.source = name;
  uint64_t offset = 4;
  for (int32_t i = 0; vocab_size <= 0 || i < vocab_size; ++i) {
    float score;
    int32_t len;
    if (!f.read(reinterpret_cast<char*>(&score), 4)) {
      if (vocab_size <= 0 && f.eof()) break;  // vocab size inferred from the file length
      return MakeError("{}: offset {}: file ends at token {} of {}", name, offset, i, vocab_size);
    }
    if (!f.read(reinterpret_cast<char*>(&len), 4) || len < 0 || len > max_len) {
      return MakeError("{}: offset {}: token {} length {} outside [0, {}]", name, offset + 4, i, len, max_len);
    }
    std::string piece(static_cast<size_t>(len), '\0');
    if (!f.read(piece.data(), len)) return MakeError("{}: offset {}: token {} truncated", name, offset + 8, i);
    offset += 8 + static_cast<uint64_t>(len);
    TokenType t = TokenType::kNormal;
    if (piece == "\n<s>\n") {
      piece = "<s>", t = TokenType::kControl, c.bos_id = i;
    } else if (piece == "\n</s>\n") {
      piece = "</s>", t = TokenType::kControl, c.eos_id = i;
    } else if (piece == "<unk>") {
      t = TokenType::kUnknown, c.unk_id = i;
    } else if (unsigned v; piece.size() == 6 && std::sscanf(piece.c_str(), "<0x%2X>", &v) == 1) {
      t = TokenType::kByte;
    } else {
      piece = ReplaceAll(piece, " ", kSpmSpace);
    }
    c.pieces.push_back(std::move(piece));
    c.scores.push_back(score);
    c.types.push_back(t);
  }
  if (c.pieces.empty()) return MakeError("{}: no tokens", name);
  return MakeLlamaSpmTokenizer(std::move(c));
}

}  // namespace qforge::io
