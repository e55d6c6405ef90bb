// NFC normalization through ICU (libicu-dev): a maintained implementation of UAX #15 and its data
// tables, rather than tables of our own. See NormalizeNfc in unicode.h.
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uniset.h>

#include <cassert>

#include "io/unicode.h"

namespace qforge::io {
namespace {

// ICU takes lengths as int32_t: longer runs are normalized in chunks of at most this many bytes.
constexpr size_t kMaxChunkBytes = size_t{1} << 30;

// Appends the NFC form of `run`, which must be valid UTF-8 of at most kMaxChunkBytes.
void AppendNfcChunk(const icu::Normalizer2& nfc, std::string_view run, std::string* out) {
  if (run.empty()) return;
  const icu::StringPiece piece(run.data(), static_cast<int32_t>(run.size()));
  UErrorCode status = U_ZERO_ERROR;
  // Fast path: most text is already NFC.
  if (nfc.isNormalizedUTF8(piece, status) && U_SUCCESS(status)) {
    out->append(run);
    return;
  }
  status = U_ZERO_ERROR;
  std::string normalized;
  icu::StringByteSink<std::string> sink(&normalized);
  nfc.normalizeUTF8(0, piece, sink, nullptr, status);
  // The run is valid UTF-8 and ICU's NFC data is built into libicuuc, so a failure means a broken ICU;
  // the text is then kept unnormalized (Encode never fails).
  assert(U_SUCCESS(status));
  out->append(U_SUCCESS(status) ? std::string_view(normalized) : run);
}

// Appends the NFC form of `run` (valid UTF-8 of any length). Chunks are cut before a code point with an
// NFC boundary before it (hasBoundaryBefore), where normalizing the parts separately equals normalizing
// the whole; only a run of 2^30 bytes without such a boundary (e.g. only combining marks) is cut anywhere.
void AppendNfcRun(const icu::Normalizer2& nfc, std::string_view run, std::string* out) {
  while (run.size() > kMaxChunkBytes) {
    size_t cut = kMaxChunkBytes;
    while (cut > 0 && (static_cast<uint8_t>(run[cut]) & 0xC0) == 0x80) --cut;  // a code point start
    for (size_t at = cut; at > kMaxChunkBytes / 2;) {
      char32_t cp;
      DecodeUtf8(run, at, &cp);
      if (nfc.hasBoundaryBefore(static_cast<UChar32>(cp))) {
        cut = at;
        break;
      }
      --at;
      while (at > 0 && (static_cast<uint8_t>(run[at]) & 0xC0) == 0x80) --at;
    }
    AppendNfcChunk(nfc, run.substr(0, cut), out);
    run.remove_prefix(cut);
  }
  AppendNfcChunk(nfc, run, out);
}

// NFC as of Unicode 9.0, the version of the tables in HF tokenizers' `unicode-normalization-alignments`
// crate (measured with tokenizers 0.23.3: every combining mark assigned in Unicode <= 9.0 is reordered,
// none assigned in 10.0-15.0 is, and the Unicode 13 composite U+11938 = U+11935 U+11930 is not formed).
// ICU 72 has Unicode 15 data; a FilteredNormalizer2 over [:age=9.0:] (every code point assigned in
// Unicode <= 9.0) leaves the later ones unchanged and normalizes the text between them on its own —
// exactly how an older normalizer treats a code point it does not know (a starter with ccc 0 that has no
// decomposition and is in no composition pair). This is UTS #46's approach for IDNA2003's Unicode 3.2,
// and it is exact because Unicode's normalization stability policy fixes the decompositions and
// combining classes of assigned characters and forbids new compositions of existing ones.
// Built once (thread-safe static init), immutable and never destroyed; nullptr if ICU fails.
const icu::Normalizer2* HfNfc() {
  static const icu::Normalizer2* const instance = []() -> const icu::Normalizer2* {
    UErrorCode status = U_ZERO_ERROR;
    // A process-wide singleton owned by ICU.
    const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status) || nfc == nullptr) return nullptr;
    auto* unicode_9 = new icu::UnicodeSet(UNICODE_STRING_SIMPLE("[:age=9.0:]"), status);
    if (U_FAILURE(status)) {
      delete unicode_9;
      return nullptr;
    }
    unicode_9->freeze();
    return new icu::FilteredNormalizer2(*nfc, *unicode_9);
  }();
  return instance;
}

}  // namespace

std::string NormalizeNfc(std::string_view text) {
  bool ascii = true;
  for (char ch : text) ascii = ascii && static_cast<unsigned char>(ch) < 0x80;
  if (ascii) return std::string(text);
  const icu::Normalizer2* nfc = HfNfc();
  if (nfc == nullptr) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t run_start = 0, pos = 0;
  while (pos < text.size()) {
    char32_t cp;
    const size_t len = DecodeUtf8(text, pos, &cp);
    if (cp == kInvalidCodepoint) {
      AppendNfcRun(*nfc, text.substr(run_start, pos - run_start), &out);
      out.push_back(text[pos]);
      run_start = pos + len;
    }
    pos += len;
  }
  AppendNfcRun(*nfc, text.substr(run_start), &out);
  return out;
}

}  // namespace qforge::io
