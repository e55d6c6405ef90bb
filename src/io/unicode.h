// Unicode helpers for the tokenizers: UTF-8 decoding that never fails, the general-category
// classes the pre-tokenizer regexes need (\p{L}, \p{N}, \s), and NFC normalization (ICU).
//
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qforge::io {

// A closed range [first, last] of code points.
struct CodepointRange {
  char32_t first;
  char32_t last;
};

// Marks a byte that does not start a valid UTF-8 sequence (it is consumed alone).
inline constexpr char32_t kInvalidCodepoint = 0xFFFFFFFF;
// SentencePiece's visible space, U+2581 "▁" (SentencePiece, GGUF and tokenizer.json vocabularies).
inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";

// Decodes the code point starting at s[pos] and returns its length in bytes (1..4). A malformed,
// overlong, surrogate or truncated sequence yields kInvalidCodepoint with length 1, so every byte
// of arbitrary input is covered exactly once. Requires pos < s.size().
size_t DecodeUtf8(std::string_view s, size_t pos, char32_t* cp);

// Appends the UTF-8 encoding of cp (cp <= 0x10FFFF).
void AppendUtf8(char32_t cp, std::string* out);

// Unicode general category L* (Lu, Ll, Lt, Lm, Lo) — the regex class \p{L}.
bool IsLetter(char32_t cp);
// Unicode general category N* (Nd, Nl, No) — the regex class \p{N}.
bool IsNumber(char32_t cp);
// The White_Space property (PropList.txt), which is what \s means in the Rust `regex` crate used
// by HF tokenizers and in Oniguruma/PCRE Unicode mode.
bool IsWhitespace(char32_t cp);

// Unicode Normalization Form C (UAX #15) of UTF-8 text, as HF tokenizers' NFC normalizer computes it
// (canonical decomposition, canonical reordering, canonical composition): ICU's NFC restricted to the
// code points assigned in Unicode 9.0, the version of HF tokenizers' tables; later code points are left
// unchanged and act as boundaries (unicode_normalize.cc). Each maximal run of valid UTF-8 (as DecodeUtf8
// defines it) is normalized on its own; an invalid byte is copied unchanged and acts as a boundary
// (nothing composes or reorders across it), so arbitrary bytes never fail and stay for the byte-level
// BPE to encode. ASCII-only input is returned unchanged without calling ICU.
std::string NormalizeNfc(std::string_view text);

}  // namespace qforge::io
