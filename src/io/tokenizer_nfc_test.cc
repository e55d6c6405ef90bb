// NFC normalization (NormalizeNfc, ICU) and the tokenizer.json NFC normalizer (Qwen2) on hand-made
// inputs; no shared data.
//
// Golden NFC strings: HF tokenizers 0.23.3's normalizers.NFC().normalize_str(s) gives every one below
// (Python's unicodedata agrees on those made of Unicode 9.0 code points); each is also derivable from
// UnicodeData.txt / CompositionExclusions.txt as noted. During development NormalizeNfc was also compared
// with HF's NFC on 1.33 million strings (every code point, the NFD of every code point, every composite's
// decomposition, every combining mark reordered against U+0301/U+0323, random mark/jamo mixes): no
// difference.
// Golden token ids: the JSON Qwen2StyleJson() builds below was dumped to a file and encoded with HF
// tokenizers 0.23.3 (pip install tokenizers; Tokenizer.from_file(path).encode(s).ids); every id list
// matched the hand derivation written beside it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "io/tokenizer.h"
#include "io/tokenizer_bpe.h"
#include "io/unicode.h"

namespace qforge::io {
namespace {

using Ids = std::vector<int32_t>;

// True when every byte of s belongs to a valid UTF-8 code point.
bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    i += DecodeUtf8(s, i, &cp);
    if (cp == kInvalidCodepoint) return false;
  }
  return true;
}

TEST(Nfc, GoldenCompositions) {
  struct Case {
    const char* in;
    const char* nfc;
  };
  const Case cases[] = {
      {"e\u0301", "\u00E9"},                         // e + COMBINING ACUTE -> é
      {"cafe\u0301!", "caf\u00E9!"},                 //
      {"A\u030A", "\u00C5"},                         // A + COMBINING RING ABOVE -> Å
      {"\u212B", "\u00C5"},                          // ANGSTROM SIGN: singleton decomposition -> Å
      {"\u2126", "\u03A9"},                          // OHM SIGN -> GREEK CAPITAL OMEGA (singleton)
      {"\u212A", "K"},                               // KELVIN SIGN -> K (singleton)
      {"\u1112\u1161\u11AB", "\uD55C"},              // Hangul jamo L V T -> 한 (algorithmic, UAX #15)
      {"\u1100\u1161", "\uAC00"},                    // L V -> 가
      {"\u1100\u1161\u11A8\u1100", "\uAC01\u1100"},  // L V T, then a lone L stays
      {"q\u0307\u0323", "q\u0323\u0307"},            // canonical reordering (ccc 220 before 230), no composite
      {"A\u0301\u0323", "\u1EA0\u0301"},             // reorder, compose A+dot below -> Ạ, acute stays
      {"\u0958", "\u0915\u093C"},                    // DEVANAGARI QA: composition exclusion, stays decomposed
      {"\u0344", "\u0308\u0301"},                    // non-starter decomposition
      {"a\u0305\u0301", "a\u0305\u0301"},            // acute blocked by an overline of the same class
      {"e\u0301\u0301", "\u00E9\u0301"},             // second acute blocked
      // Code points assigned after Unicode 9.0 (the tables of HF tokenizers) are left alone and are
      // boundaries; a Unicode 15 NFC would give "q\u07FD\u0301", "\u00E9\u07FD" and U+11938.
      {"q\u0301\u07FD", "q\u0301\u07FD"},                // NKO DANTAYALAN (ccc 220, Unicode 11) not reordered
      {"e\u07FD\u0301", "e\u07FD\u0301"},                // ... and it blocks e + acute
      {"\U00011935\U00011930", "\U00011935\U00011930"},  // DIVES AKURU composite U+11938 is Unicode 13
      {"\u00C5\u07FDA\u030A", "\u00C5\u07FD\u00C5"},     // text around such a code point is normalized
  };
  for (const Case& c : cases) EXPECT_EQ(NormalizeNfc(c.in), c.nfc) << c.in;
}

TEST(Nfc, AlreadyNormalizedUnchanged) {
  for (const char* s : {"", "plain ASCII, 123 !?\n\t", "Hello, 世界 — ¿qué tal? Ωmega", "\u00C5\u00E9\uD55C",
                        "\uFB01 \u2460 \u00BD",  // compatibility characters: NFKC would change them, NFC not
                        "\U0001F600 \U00010348", "<|im_start|>user"}) {
    EXPECT_EQ(NormalizeNfc(s), s) << s;
  }
}

TEST(Nfc, InvalidUtf8BytesAreKeptAndAreBoundaries) {
  // Invalid bytes are copied; each valid run around them is normalized on its own.
  EXPECT_EQ(NormalizeNfc("cafe\u0301\x80"), "caf\u00E9\x80");
  EXPECT_EQ(NormalizeNfc("\xFF"
                         "e\u0301\xFE"),
            "\xFF\u00E9\xFE");
  EXPECT_EQ(NormalizeNfc("e\xFF\u0301"), "e\xFF\u0301");  // nothing composes across the bad byte
  EXPECT_EQ(NormalizeNfc("\xC3"), "\xC3");                // truncated sequence
  EXPECT_EQ(NormalizeNfc("\xED\xA0\x80"
                         "A\u030A"),
            "\xED\xA0\x80\u00C5");                                                          // surrogate, 3 bad bytes
  EXPECT_EQ(NormalizeNfc("\xC0\x80"), "\xC0\x80");                                          // overlong NUL
  EXPECT_EQ(NormalizeNfc(std::string_view("a\0e\u0301", 5)), std::string("a\0\u00E9", 4));  // NUL is valid
}

TEST(Nfc, EveryCodePointGivesValidIdempotentUtf8) {
  // Exhaustive over the code space: NFC of one code point is valid UTF-8 and NFC is idempotent.
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    AppendUtf8(cp, &s);
    const std::string n = NormalizeNfc(s);
    ASSERT_TRUE(ValidUtf8(n)) << std::hex << static_cast<uint32_t>(cp);
    ASSERT_EQ(NormalizeNfc(n), n) << std::hex << static_cast<uint32_t>(cp);
  }
}

TEST(Nfc, RandomBytesNeverFailAndKeepInvalidBytes) {
  std::mt19937 rng(7);
  // Bytes drawn from ASCII, combining-mark and Hangul-jamo lead/continuation bytes and junk.
  const std::string alphabet = "aAe \x80\x81\x84\x85\x86\x8A\xA3\xA8\xAB\xB8\xCC\xCD\xE1\xEA\xED\xC3\xFF\xF0\x9F";
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    const int len = static_cast<int>(rng() % 24);
    for (int i = 0; i < len; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    const std::string n = NormalizeNfc(s);
    EXPECT_EQ(NormalizeNfc(n), n);
    // The invalid bytes of s survive, in order.
    auto invalid_bytes = [](std::string_view str) {
      std::string bad;
      for (size_t i = 0; i < str.size();) {
        char32_t cp;
        const size_t l = DecodeUtf8(str, i, &cp);
        if (cp == kInvalidCodepoint) bad.push_back(str[i]);
        i += l;
      }
      return bad;
    };
    EXPECT_EQ(invalid_bytes(s), invalid_bytes(n)) << s;
  }
}

// A small Qwen2-style tokenizer.json (layout of Qwen/Qwen2-0.5B's file): normalizer NFC, pre-tokenizer
// Sequence[Split(Qwen2 regex, Isolated), ByteLevel(use_regex false)], ByteLevel decoder/post-processor,
// byte-level BPE. Vocabulary: ids 0..255 = the byte-level stand-in of byte b (so a lone byte's id is the
// byte's value), 256.. = the merge results in merge order, 268..270 = the special added tokens.
nlohmann::json Qwen2StyleJson() {
  auto bl = [](std::string_view bytes) {
    std::string s;
    for (char ch : bytes) AppendUtf8(ByteToUnicode(static_cast<uint8_t>(ch)), &s);
    return s;
  };
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[bl(std::string(1, static_cast<char>(b)))] = b;
  // Raw-byte pairs, rank = index: "caf", "é" (C3 A9), " café", "한" (ED 95 9C), "Å" (C3 85), " A".
  const std::pair<std::string, std::string> raw_merges[] = {
      {"c", "a"},       {"ca", "f"},          {"\xC3", "\xA9"}, {" ", "c"},           {" c", "a"},      {" ca", "f"},
      {" caf", "\xC3"}, {" caf\xC3", "\xA9"}, {"\xED", "\x95"}, {"\xED\x95", "\x9C"}, {"\xC3", "\x85"}, {" ", "A"}};
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [a, b] : raw_merges) {
    merges.push_back(bl(a) + " " + bl(b));
    vocab[bl(a + b)] = 256 + static_cast<int>(merges.size()) - 1;
  }
  nlohmann::json added = nlohmann::json::array();
  int id = 268;
  for (const char* content : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    added.push_back({{"id", id++},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  const std::string qwen2_regex =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const nlohmann::json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", {{"type", "NFC"}}},
          {"pre_tokenizer",
           {{"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Split"}, {"pattern", {{"Regex", qwen2_regex}}}, {"behavior", "Isolated"}, {"invert", false}},
              byte_level}}}},
          {"post_processor", byte_level},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", ""},
            {"end_of_word_suffix", ""},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", merges}}}};
}

class Qwen2StyleNfc : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("qforge_nfc_" + std::to_string(::getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Tokenizer> Load(const nlohmann::json& j) {
    std::ofstream(dir_ / "tokenizer.json") << j.dump();
    auto r = LoadHfTokenizer(dir_);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::string LoadError(const nlohmann::json& j) {
    std::ofstream(dir_ / "tokenizer.json") << j.dump();
    auto r = LoadHfTokenizer(dir_);
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.error().message;
  }

  std::filesystem::path dir_;
};

TEST_F(Qwen2StyleNfc, DecomposedAndComposedGiveTheReferenceIds) {
  auto tok = Load(Qwen2StyleJson());
  ASSERT_NE(tok, nullptr);
  EXPECT_FALSE(tok->adds_bos());
  EXPECT_EQ(tok->eos_id(), 268);
  struct Case {
    std::vector<const char*> inputs;  // all NFC-equivalent
    Ids ids;
  };
  const Case cases[] = {
      // "caf" by merges 0,1 -> 257; "é" = C3 A9 by merge 2 -> 258.
      {{"caf\u00E9", "cafe\u0301"}, {257, 258}},
      // One word " café" (the Qwen2 regex's [^\r\n\p{L}\p{N}]?\p{L}+; decomposed it would split before
      // U+0301). Ġ c a f Ã ©: ranks 0 (c a), 1 (ca f), 2 (Ã ©) win over rank 3 (Ġ c) -> Ġ, caf, Ã©.
      {{" caf\u00E9", " cafe\u0301"}, {32, 257, 258}},
      {{"\uD55C", "\u1112\u1161\u11AB"}, {265}},        // 한 = ED 95 9C, merges 8, 9
      {{"\u00C5", "A\u030A", "\u212B"}, {266}},         // Å = C3 85, merge 10
      {{" \u00C5", " A\u030A", " \u212B"}, {32, 266}},  // merge 11 (Ġ A) never applies: A is gone
      // Reordered marks, no composite: q, CC A3, CC 87 as single bytes (no merges for them).
      {{"q\u0323\u0307", "q\u0307\u0323"}, {113, 204, 163, 204, 135}},
      {{"\uAC01\u1100", "\u1100\u1161\u11A8\u1100"}, {234, 176, 129, 225, 132, 128}},  // 각 EA B0 81, ᄀ E1 84 80
      // é + a blocked second acute: " é" -> Ġ, Ã© ; U+0301 (CC 81) is its own word.
      {{"Hello, \uC138\uACC4! e\u0301\u0301"},
       {72, 101, 108, 108, 111, 44, 32, 236, 132, 184, 234, 179, 132, 33, 32, 258, 204, 129}},
      // Added tokens are matched in the raw text and NFC runs on the text between them, so a combining
      // mark after "<|im_end|>" does not compose with its '>' (whole-text NFC would give U+226F ≯).
      {{"<|im_end|>\u0338"}, {270, 204, 184}},
      {{">\u0338", "\u226F"}, {226, 137, 175}},  // ≯ = E2 89 AF
      {{"a\u0301<|im_start|>e\u0301", "\u00E1<|im_start|>\u00E9"}, {195, 161, 269, 258}},
  };
  for (const Case& c : cases) {
    for (const char* in : c.inputs) {
      EXPECT_EQ(tok->Encode(in, false), c.ids) << in;
      // Special tokens decode to "", so the round trip holds for the texts without them.
      if (std::string_view(in).find("<|") == std::string_view::npos) {
        EXPECT_EQ(tok->Decode(tok->Encode(in, false)), NormalizeNfc(in)) << in;
      }
    }
  }
}

TEST_F(Qwen2StyleNfc, InvalidUtf8NeverFailsAndRoundTrips) {
  auto tok = Load(Qwen2StyleJson());
  ASSERT_NE(tok, nullptr);
  // Invalid bytes pass through NFC unchanged and are byte-level encoded like any other byte.
  EXPECT_EQ(tok->Encode("cafe\u0301\xFF", false), tok->Encode("caf\u00E9\xFF", false));
  EXPECT_EQ(tok->Encode("e\xFF\u0301", false), (Ids{101, 255, 204, 129}));
  std::mt19937 rng(11);
  const std::string alphabet = "acfe A<|>\x80\x81\x8A\xA9\xB8\xCC\xC3\xE1\xED\x84\x95\x9C\xFF";
  for (int iter = 0; iter < 1000; ++iter) {
    std::string s;
    const int len = static_cast<int>(rng() % 20);
    for (int i = 0; i < len; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    // No added token can occur (the alphabet lacks their letters), so the decoded text is the NFC of
    // the whole input.
    EXPECT_EQ(tok->Decode(tok->Encode(s, false)), NormalizeNfc(s));
  }
}

TEST_F(Qwen2StyleNfc, SequenceContainingNfcIsAccepted) {
  nlohmann::json j = Qwen2StyleJson();
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}}}};
  auto tok = Load(j);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode(" cafe\u0301", false), (Ids{32, 257, 258}));
}

TEST_F(Qwen2StyleNfc, WithoutNfcTheDecomposedTextDiffers) {
  // Control: the same file with no normalizer tokenizes the decomposed form differently, so the test
  // above really exercises the normalizer.
  nlohmann::json j = Qwen2StyleJson();
  j["normalizer"] = nullptr;
  auto tok = Load(j);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("cafe\u0301", false), (Ids{257, 101, 204, 129}));  // caf, e, CC 81
}

TEST_F(Qwen2StyleNfc, OtherNormalizersStayRejectedByName) {
  for (const char* type : {"NFD", "NFKC", "NFKD", "Lowercase", "Strip"}) {
    nlohmann::json j = Qwen2StyleJson();
    j["normalizer"] = {{"type", type}};
    const std::string msg = LoadError(j);
    EXPECT_NE(msg.find(type), std::string::npos) << msg;
    EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", type}}}}};
    EXPECT_NE(LoadError(j).find(type), std::string::npos);
  }
  nlohmann::json j = Qwen2StyleJson();
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{"type", "NFC"}}}};  // an object, not a list
  const std::string msg = LoadError(j);
  EXPECT_NE(msg.find("normalizers"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
}

}  // namespace
}  // namespace qforge::io
