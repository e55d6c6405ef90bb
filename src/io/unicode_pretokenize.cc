#include "io/unicode_pretokenize.h"

#include <cstdint>

#include "io/unicode.h"

namespace qforge::io {
namespace {

constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Character classes of one code point, precomputed once per input.
enum : uint8_t { kL = 1, kN = 2, kS = 4, kNl = 8 /* \r or \n */ };

struct Chars {
  std::vector<uint32_t> offset;  // byte offset of each code point; offset[n] = text size
  std::vector<char32_t> cp;
  std::vector<uint8_t> cls;
};

Chars Decode(std::string_view text) {
  Chars c;
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp;
    size_t len = DecodeUtf8(text, pos, &cp);
    uint8_t cls = 0;
    if (cp != kInvalidCodepoint) {
      if (IsLetter(cp)) cls |= kL;
      if (IsNumber(cp)) cls |= kN;
      if (IsWhitespace(cp)) cls |= kS;
      if (cp == '\r' || cp == '\n') cls |= kNl;
    }
    c.offset.push_back(static_cast<uint32_t>(pos));
    c.cp.push_back(cp);
    c.cls.push_back(cls);
    pos += len;
  }
  c.offset.push_back(static_cast<uint32_t>(text.size()));
  return c;
}

char32_t AsciiLower(char32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Length (in code points) of a contraction 's|'t|'re|'ve|'m|'ll|'d at i, or 0.
size_t Contraction(const Chars& c, size_t i, size_t n, bool fold_case) {
  if (c.cp[i] != '\'' || i + 1 >= n) return 0;
  auto at = [&](size_t k) { return fold_case ? AsciiLower(c.cp[k]) : c.cp[k]; };
  char32_t a = at(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 < n) {
    char32_t b = at(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

// \s+(?!\S)|\s+ at i (c.cls[i] has kS): the whitespace run, less its last character when a
// non-space follows and the run is longer than one.
size_t TrailingSpaceRun(const Chars& c, size_t i, size_t n) {
  size_t j = i;
  while (j < n && (c.cls[j] & kS)) ++j;
  if (j < n && j - i > 1) --j;
  return j - i;
}

size_t NextGpt2(const Chars& c, size_t i, size_t n) {
  if (size_t len = Contraction(c, i, n, /*fold_case=*/false)) return len;
  const bool space_prefix = c.cp[i] == ' ' && i + 1 < n;
  const size_t s = space_prefix ? i + 1 : i;
  auto run = [&](size_t from, auto pred) {
    size_t j = from;
    while (j < n && pred(c.cls[j])) ++j;
    return j;
  };
  // ` ?X+`: with the optional space taken if X follows it, else without it.
  for (auto pred : {+[](uint8_t k) { return (k & kL) != 0; }, +[](uint8_t k) { return (k & kN) != 0; },
                    +[](uint8_t k) { return (k & (kL | kN | kS)) == 0; }}) {
    if (space_prefix && pred(c.cls[s])) return run(s, pred) - i;
    if (pred(c.cls[i])) return run(i, pred) - i;
  }
  if (c.cls[i] & kS) return TrailingSpaceRun(c, i, n);
  return 1;  // unreachable: every character is L, N, S or other
}

size_t NextLlama3(const Chars& c, size_t i, size_t n, size_t max_digits) {
  if (size_t len = Contraction(c, i, n, /*fold_case=*/true)) return len;
  const uint8_t k = c.cls[i];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  {
    size_t s = i;
    if (!(k & kL) && !(k & (kNl | kN)) && i + 1 < n && (c.cls[i + 1] & kL)) s = i + 1;
    if (c.cls[s] & kL) {
      size_t j = s;
      while (j < n && (c.cls[j] & kL)) ++j;
      return j - i;
    }
  }
  // \p{N}{1,max}
  if (k & kN) {
    size_t j = i;
    while (j < n && j - i < max_digits && (c.cls[j] & kN)) ++j;
    return j - i;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  {
    size_t s = (c.cp[i] == ' ' && i + 1 < n) ? i + 1 : i;
    auto other = [&](size_t j) { return (c.cls[j] & (kL | kN | kS)) == 0; };
    if (!other(s)) s = i;
    if (other(s)) {
      size_t j = s;
      while (j < n && other(j)) ++j;
      while (j < n && (c.cls[j] & kNl)) ++j;
      return j - i;
    }
  }
  // \s*[\r\n]+ : the whitespace run up to and including its last \r or \n.
  if (k & kS) {
    size_t j = i;
    size_t end = 0;
    while (j < n && (c.cls[j] & kS)) {
      if (c.cls[j] & kNl) end = j + 1;
      ++j;
    }
    if (end > 0) return end - i;
    return TrailingSpaceRun(c, i, n);
  }
  return 1;  // unreachable
}

}  // namespace

std::string_view PreTokenizerPattern(PreTokenizerRegex kind) {
  switch (kind) {
    case PreTokenizerRegex::kGpt2: return kGpt2Pattern;
    case PreTokenizerRegex::kLlama3: return kLlama3Pattern;
    case PreTokenizerRegex::kQwen2: return kQwen2Pattern;
  }
  return {};
}

std::optional<PreTokenizerRegex> PreTokenizerFromPattern(std::string_view pattern) {
  for (auto kind : {PreTokenizerRegex::kGpt2, PreTokenizerRegex::kLlama3, PreTokenizerRegex::kQwen2}) {
    if (pattern == PreTokenizerPattern(kind)) return kind;
  }
  return std::nullopt;
}

std::optional<PreTokenizerRegex> PreTokenizerFromGgufName(std::string_view name) {
  // Names from llama.cpp's convert_hf_to_gguf.py / llama-vocab.cpp. GPT-NeoX files predate the
  // `pre` key; llama.cpp treats a missing key as "default", which for these is the GPT-2 regex.
  if (name == "gpt-2" || name == "default" || name.empty()) return PreTokenizerRegex::kGpt2;
  if (name == "llama-bpe" || name == "llama3") return PreTokenizerRegex::kLlama3;
  if (name == "qwen2") return PreTokenizerRegex::kQwen2;
  return std::nullopt;
}

std::vector<std::string_view> PreTokenize(PreTokenizerRegex kind, std::string_view text) {
  std::vector<std::string_view> words;
  if (text.empty()) return words;
  const Chars c = Decode(text);
  const size_t n = c.cp.size();
  size_t i = 0;
  while (i < n) {
    size_t len = kind == PreTokenizerRegex::kGpt2 ? NextGpt2(c, i, n)
                 : NextLlama3(c, i, n, kind == PreTokenizerRegex::kLlama3 ? 3 : 1);
    words.push_back(text.substr(c.offset[i], c.offset[i + len] - c.offset[i]));
    i += len;
  }
  return words;
}

}  // namespace qforge::io
