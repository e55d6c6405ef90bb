// Rank-ordered BPE (the HF tokenizers "BPE" model): byte-level (GPT-2, GPT-NeoX, Llama-3, Qwen2) or on
// UTF-8 characters with byte fallback (HF Llama-2/TinyLlama tokenizer.json). Used by the GGUF "gpt2"
// loader, LoadGpt2Files and LoadHfTokenizer.
//
// Encoding of one text (tokenizers/src/models/bpe/model.rs + the pipeline of tokenizer.json):
//   1. added tokens (BpeConfig::verbatim) are matched in the raw text, leftmost-longest; the text between
//      them is processed by steps 2-5;
//   2. normalize: NFC (Qwen2) when nfc; SPM-style Prepend("▁") + Replace(" ", "▁") when spm_normalize;
//      ByteLevel add_prefix_space prepends " " when the segment does not start with one;
//   3. pre-tokenize with the regex (if any) into words;
//   4. byte-level: map each byte to its GPT-2 printable stand-in (bytes_to_unicode);
//   5. per word: (ignore_merges: the whole word if it is a token) else start from one symbol per
//      character (missing ones -> <0xXX> pieces with byte_fallback, else unk, fused when fuse_unk) and
//      repeatedly apply the lowest-rank merge, leftmost first among equal ranks.
// Thread safety: immutable after construction; all methods const and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"
#include "io/tokenizer.h"
#include "io/unicode_pretokenize.h"

namespace qforge::io {

struct BpeConfig {
  std::vector<std::string> pieces;  // id -> piece, exactly as stored (byte-level pieces use "Ġ" etc.)
  std::vector<TokenType> types;     // id -> type (same size as pieces)
  // Merges in rank order (rank = index): pairs of pieces; a + b must be a piece.
  std::vector<std::pair<std::string, std::string>> merges;
  bool byte_level = false;
  std::optional<PreTokenizerRegex> regex;
  bool add_prefix_space = false;  // ByteLevel(add_prefix_space=true)
  bool nfc = false;               // normalizer NFC: NormalizeNfc each segment first (unicode.h)
  bool spm_normalize = false;     // Prepend("▁") + Replace(" ", "▁"), or Metaspace (prepend "always")
  bool spm_prepend_first_only = false;  // Metaspace prepend_scheme "first": only the text's first segment
  bool spm_no_prepend = false;   // Replace(" ", "▁") alone (Gemma): no leading ▁ is added
  bool ignore_merges = false;
  bool byte_fallback = false;
  bool fuse_unk = false;
  bool strip_leading_space = false;  // decoder Strip(" ", 1, 0) / Metaspace decoder
  std::vector<int32_t> verbatim;     // ids matched verbatim in the text before BPE (added tokens)
  int32_t bos_id = -1, eos_id = -1, unk_id = -1;
  bool add_bos = false;
  std::string kind;  // Tokenizer::kind()
  std::string source;  // file name for error messages
};

// Validates (piece/type counts, unique pieces, merges in the vocabulary, special ids in range) and builds.
Result<std::unique_ptr<Tokenizer>> MakeBpeTokenizer(BpeConfig config);

// GPT-2's bytes_to_unicode(): the printable code point standing in for each byte.
char32_t ByteToUnicode(uint8_t b);

}  // namespace qforge::io
