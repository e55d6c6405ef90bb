// Hand-written equivalents of the pre-tokenizer regexes of byte-level BPE tokenizers. Each splits
// text into words (byte ranges of the input, in order, covering it exactly) the way the regex's
// find-all does with leftmost-first alternation. Thread-safe (pure functions).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace qforge::io {

enum class PreTokenizerRegex {
  // GPT-2 / RoBERTa / GPT-NeoX (HF ByteLevel use_regex=true):
  //   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // Llama-3 (tiktoken cl100k-style):
  //   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
  //   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // Qwen2: as Llama-3 but \p{N} (one digit per word) instead of \p{N}{1,3}.
  kQwen2,
};

// The exact regex source strings above (as they appear in tokenizer.json), for recognition.
std::string_view PreTokenizerPattern(PreTokenizerRegex kind);
// Maps a regex source string to the kind it spells, or nullopt for any other pattern.
std::optional<PreTokenizerRegex> PreTokenizerFromPattern(std::string_view pattern);
// Maps llama.cpp's GGUF `tokenizer.ggml.pre` names ("gpt-2", "llama-bpe", "qwen2", ...).
std::optional<PreTokenizerRegex> PreTokenizerFromGgufName(std::string_view name);

// Splits text into words. Invalid UTF-8 bytes are single "other" characters (neither letter,
// number nor space), so arbitrary bytes are handled and kept.
// Note: the case-insensitive contractions of Llama-3/Qwen2 fold ASCII only (as llama.cpp does);
// the Rust regex would also let U+017F (long s) and U+212A (Kelvin) match 's / 'k-less patterns.
std::vector<std::string_view> PreTokenize(PreTokenizerRegex kind, std::string_view text);

}  // namespace qforge::io
