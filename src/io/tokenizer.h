// Tokenizers: text <-> token ids, exactly as the reference implementations do it.
//
// Implementations (one family per file):
//   SentencePiece  tokenizer_spm.cc        libsentencepiece on a tokenizer.model (the reference itself)
//   llama SPM      tokenizer_llama_spm.*   score-ordered BPE with byte fallback (llama.cpp llm_tokenizer_spm,
//                                          llama2.c encode) for GGUF "llama" vocabs and llama2.c tokenizer.bin
//   byte-level BPE tokenizer_bpe.*         rank-ordered merges (GPT-2, GPT-NeoX, Llama-3, Qwen2), and the HF
//                                          BPE model with byte_fallback (Llama-2 tokenizer.json)
//   HF             tokenizer_hf.cc         tokenizer.json (+ tokenizer_config.json) on top of tokenizer_bpe
//
// Thread safety: a Tokenizer is immutable after loading; Encode/Decode/DecodeToken are const and safe to
// call concurrently from any number of threads.
//
// Special tokens in the input text: Encode never turns the text "<s>" into BOS. Tokens a vocabulary marks
// as user-defined / HF "added tokens" (that are not special) ARE matched in the text before BPE, as the
// references do (llama.cpp with parse_special=false; HF tokenizers matches all added tokens, specials
// included — see LoadHfTokenizer).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace qforge::io {

class GgufFile;
class ModelSource;

// Token attributes, numbered as GGUF's tokenizer.ggml.token_type (llama.cpp llama_token_type), which
// follows SentencePiece's ModelProto.SentencePiece.Type.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // BOS/EOS/PAD...: never produced from text, decoded as ""
  kUserDefined = 4,  // matched verbatim in the text before BPE
  kUnused = 5,       // never produced by merging
  kByte = 6,         // <0xXX> byte-fallback pieces
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids for `text` (UTF-8; invalid bytes are handled the way the reference handles them). With
  // add_bos and a BOS id, BOS comes first. Never fails: every byte maps to some token (byte pieces,
  // byte-level symbols, or unk).
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos) const = 0;
  // Encode with the vocabulary's own default for BOS (adds_bos()).
  std::vector<int32_t> Encode(std::string_view text) const { return Encode(text, adds_bos()); }

  // Text of a whole sequence: control tokens give nothing, byte tokens their byte, and the leading space
  // a SentencePiece-style tokenizer prepended while encoding is removed (as sp.decode / HF do).
  // Invalid ids (out of range) are skipped.
  virtual std::string Decode(std::span<const int32_t> ids) const;

  // Raw bytes of one token for streaming: "▁" -> " ", <0xXX> -> that byte (may be a partial UTF-8
  // sequence; concatenate before printing), control tokens -> "", out-of-range ids -> "". No leading
  // space is stripped: a streamer that wants sp.decode's output drops one leading ' ' of the first
  // token when strips_leading_space().
  virtual std::string DecodeToken(int32_t id) const = 0;

  // The piece as stored in the vocabulary ("▁the", "Ġthe", "<0x0A>", "<s>"); "" when out of range.
  virtual std::string Piece(int32_t id) const = 0;
  virtual TokenType type(int32_t id) const = 0;

  int32_t vocab_size() const { return vocab_size_; }
  int32_t bos_id() const { return bos_id_; }  // -1 when the vocabulary has none
  int32_t eos_id() const { return eos_id_; }  // -1 when the vocabulary has none
  int32_t unk_id() const { return unk_id_; }  // -1 when the vocabulary has none
  bool adds_bos() const { return adds_bos_; }
  bool strips_leading_space() const { return strips_leading_space_; }
  // Short name of the implementation and source ("sentencepiece", "gguf-llama", "llama2c", "gguf-gpt2",
  // "gpt2-files", "hf-bpe"), for logs and errors.
  const std::string& kind() const { return kind_; }

  // Overrides the default for Encode(text) (e.g. from tokenizer_config.json's add_bos_token). Not
  // thread-safe: call before sharing the tokenizer.
  void set_adds_bos(bool v) { adds_bos_ = v && bos_id_ >= 0; }

 protected:
  // Once the fields below are set: bos/eos/unk ids are -1 (none) or inside the vocabulary.
  Status CheckSpecialIds(std::string_view source) const {
    for (int32_t id : {bos_id_, eos_id_, unk_id_}) {
      if (id < -1 || id >= vocab_size_) {
        return MakeError("{}: special token id {} outside the vocabulary of {}", source, id, vocab_size_);
      }
    }
    return Status::Ok();
  }

  int32_t vocab_size_ = 0;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  int32_t unk_id_ = -1;
  bool adds_bos_ = false;
  bool strips_leading_space_ = false;
  std::string kind_;
};

// A SentencePiece ModelProto (tokenizer.model), run by libsentencepiece. adds_bos() is true (as
// HF LlamaTokenizer and llama.cpp default); LoadTokenizerForModel overrides it from tokenizer_config.json.
Result<std::unique_ptr<Tokenizer>> LoadSentencePiece(const std::filesystem::path& path);

// The vocabulary of a SentencePiece tokenizer.model as libsentencepiece reports it, id by id:
// IdToPiece, GetScore, and the type from IsUnknown / IsControl / IsUnused / IsByte, in that order of
// precedence, else kNormal (user-defined pieces read as kNormal: the public API does not expose them).
// This is exactly what llama.cpp's convert_hf_to_gguf.py (_create_vocab_sentencepiece) reads.
struct SentencePieceVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<TokenType> types;
};
Result<SentencePieceVocab> ReadSentencePieceVocab(const std::filesystem::path& path);

// The vocabulary embedded in a GGUF file: tokenizer.ggml.model "llama" (score BPE) or "gpt2" (byte-level
// BPE with tokenizer.ggml.pre choosing the regex). Other models are rejected by name.
Result<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const GgufFile& gguf);

// A llama2.c tokenizer.bin: i32 max_token_length, then vocab_size x {f32 score, i32 len, len bytes}.
// vocab_size comes from the model header (the file does not store it).
Result<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::filesystem::path& path,
                                                         int32_t vocab_size);

// GPT-2 vocab.json + merges.txt (with or without the "#version" first line), GPT-2 regex, byte-level.
// BOS = EOS = "<|endoftext|>" (50256), adds_bos() false, as the HF GPT-2 tokenizer.
Result<std::unique_ptr<Tokenizer>> LoadGpt2Files(const std::filesystem::path& vocab_json,
                                                 const std::filesystem::path& merges_txt);

// A HF tokenizer directory (or a tokenizer.json path): model type BPE only, with the normalizers,
// pre-tokenizers and decoders of Llama-2/TinyLlama, GPT-2 and Llama-3/Qwen2; anything else is rejected
// naming the component. tokenizer_config.json (optional) gives add_bos_token and the bos/eos tokens.
Result<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::filesystem::path& dir_or_json);

// Picks the tokenizer of a model path:
//   directory  -> tokenizer.json if present, else tokenizer.gguf (a vocab-only GGUF), else tokenizer.model (+ tokenizer_config.json)
//   *.gguf     -> the embedded vocabulary
//   *.model    -> SentencePiece
//   *.json     -> HF tokenizer.json
//   *.bin      -> error: a llama2.c checkpoint has no tokenizer; pass tokenizer_path (a tokenizer.bin,
//                 read with the vocab size from the checkpoint header, or any of the above)
// tokenizer_path, when not empty, is used instead of looking beside the model.
Result<std::unique_ptr<Tokenizer>> LoadTokenizerForModel(const std::filesystem::path& model_path,
                                                         const std::filesystem::path& tokenizer_path = {});
// The same for a model already open as `source`: a *.gguf model's embedded vocabulary is read from the
// open file rather than parsed a second time (Gemma 3's 262k-token vocabulary is ~80 MB of parsed
// metadata, which a second parse would hold beside the loaded weights).
Result<std::unique_ptr<Tokenizer>> LoadTokenizerForModel(const ModelSource& source,
                                                         const std::filesystem::path& tokenizer_path = {});

}  // namespace qforge::io
