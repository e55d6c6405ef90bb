#include "io/unicode.h"

#include <algorithm>
#include <span>

namespace qforge::io {

// Generated tables (unicode_data.cc).
std::span<const CodepointRange> LetterRanges();
std::span<const CodepointRange> NumberRanges();

size_t DecodeUtf8(std::string_view s, size_t pos, char32_t* cp) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  const size_t left = s.size() - pos;
  auto cont = [&](size_t i) { return i < left && (static_cast<uint8_t>(s[pos + i]) & 0xC0) == 0x80; };
  auto bits = [&](size_t i) { return static_cast<char32_t>(static_cast<uint8_t>(s[pos + i]) & 0x3F); };
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  if ((b0 & 0xE0) == 0xC0 && cont(1)) {
    char32_t c = (static_cast<char32_t>(b0 & 0x1F) << 6) | bits(1);
    if (c >= 0x80) {
      *cp = c;
      return 2;
    }
  } else if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
    char32_t c = (static_cast<char32_t>(b0 & 0x0F) << 12) | (bits(1) << 6) | bits(2);
    if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) {
      *cp = c;
      return 3;
    }
  } else if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    char32_t c = (static_cast<char32_t>(b0 & 0x07) << 18) | (bits(1) << 12) | (bits(2) << 6) | bits(3);
    if (c >= 0x10000 && c <= 0x10FFFF) {
      *cp = c;
      return 4;
    }
  }
  *cp = kInvalidCodepoint;
  return 1;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {
bool InRanges(std::span<const CodepointRange> ranges, char32_t cp) {
  // First range whose last >= cp; the ranges are sorted and disjoint.
  auto it = std::lower_bound(ranges.begin(), ranges.end(), cp,
                             [](const CodepointRange& r, char32_t c) { return r.last < c; });
  return it != ranges.end() && it->first <= cp;
}
}  // namespace

bool IsLetter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return cp != kInvalidCodepoint && InRanges(LetterRanges(), cp);
}

bool IsNumber(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return cp != kInvalidCodepoint && InRanges(NumberRanges(), cp);
}

bool IsWhitespace(char32_t cp) {
  // White_Space in Unicode 14 PropList.txt (unchanged since Unicode 6.3).
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

}  // namespace qforge::io
