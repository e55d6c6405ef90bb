// SentencePiece tokenizer.model via libsentencepiece: the reference implementation itself, so encoding
// is exact by construction (normalization rules, user-defined symbols, unigram or BPE models alike).
// SentencePieceProcessor::Encode/Decode are const and thread-safe.
#include <sentencepiece_processor.h>

#include "io/tokenizer.h"

namespace qforge::io {
namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  Status Load(const std::filesystem::path& path) {
    auto st = sp_.Load(path.string());
    if (!st.ok()) return MakeError("{}: not a SentencePiece model: {}", path.string(), st.ToString());
    vocab_size_ = sp_.GetPieceSize();
    bos_id_ = sp_.bos_id();  // -1 when the model defines none
    eos_id_ = sp_.eos_id();
    unk_id_ = sp_.unk_id();
    adds_bos_ = bos_id_ >= 0;
    // sp.decode drops the dummy-prefix space of the first piece; the model's flag says if it adds one.
    // (The ModelProto header is not installed, so probe: with add_dummy_prefix, "a" encodes to a first
    // piece starting with "▁".)
    std::vector<std::string> probe;
    strips_leading_space_ =
        sp_.Encode("a", &probe).ok() && !probe.empty() && probe[0].rfind("\xE2\x96\x81", 0) == 0;
    kind_ = "sentencepiece";
    return Status::Ok();
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override {
    std::vector<int> ids;
    std::vector<int32_t> out;
    if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
    // Encode only fails on an uninitialized processor, which Load rules out.
    (void)sp_.Encode(text, &ids);
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }

  std::string Decode(std::span<const int32_t> ids) const override {
    std::vector<int> valid;
    for (int32_t id : ids) {
      if (id >= 0 && id < vocab_size_) valid.push_back(id);
    }
    std::string text;
    (void)sp_.Decode(valid, &text);
    return text;
  }

  std::string DecodeToken(int32_t id) const override {
    if (id < 0 || id >= vocab_size_ || sp_.IsControl(id)) return {};
    const std::string& piece = sp_.IdToPiece(id);
    if (sp_.IsByte(id)) {
      unsigned v = 0;
      std::sscanf(piece.c_str(), "<0x%2X>", &v);
      return std::string(1, static_cast<char>(v));
    }
    std::string out;
    for (size_t i = 0; i < piece.size();) {
      if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
        out.push_back(' ');
        i += 3;
      } else {
        out.push_back(piece[i++]);
      }
    }
    return out;
  }

  std::string Piece(int32_t id) const override {
    return id >= 0 && id < vocab_size_ ? sp_.IdToPiece(id) : std::string();
  }

  TokenType type(int32_t id) const override {
    if (id < 0 || id >= vocab_size_) return TokenType::kUndefined;
    if (sp_.IsControl(id)) return TokenType::kControl;
    if (sp_.IsUnknown(id)) return TokenType::kUnknown;
    if (sp_.IsUnused(id)) return TokenType::kUnused;
    if (sp_.IsByte(id)) return TokenType::kByte;
    return TokenType::kNormal;  // user-defined pieces are not distinguishable through the public API
  }

 private:
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> LoadSentencePiece(const std::filesystem::path& path) {
  auto tok = std::make_unique<SentencePieceTokenizer>();
  QF_TRY(tok->Load(path));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

Result<SentencePieceVocab> ReadSentencePieceVocab(const std::filesystem::path& path) {
  sentencepiece::SentencePieceProcessor sp;
  auto st = sp.Load(path.string());
  if (!st.ok()) return MakeError("{}: not a SentencePiece model: {}", path.string(), st.ToString());
  SentencePieceVocab v;
  const int n = sp.GetPieceSize();
  v.pieces.reserve(n);
  v.scores.reserve(n);
  v.types.reserve(n);
  for (int id = 0; id < n; ++id) {
    v.pieces.push_back(sp.IdToPiece(id));
    v.scores.push_back(sp.GetScore(id));
    v.types.push_back(sp.IsUnknown(id)   ? TokenType::kUnknown
                      : sp.IsControl(id) ? TokenType::kControl
                      : sp.IsUnused(id)  ? TokenType::kUnused
                      : sp.IsByte(id)    ? TokenType::kByte
                                         : TokenType::kNormal);
  }
  return v;
}

}  // namespace qforge::io
