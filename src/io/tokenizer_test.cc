// Unit tests of the tokenizer building blocks on hand-checked inputs (no shared data).
#include <gtest/gtest.h>

#include <random>

#include <fstream>

#include "io/tokenizer.h"
#include "io/tokenizer_bpe.h"
#include "io/tokenizer_llama_spm.h"
#include "io/unicode.h"
#include "io/unicode_pretokenize.h"

namespace qforge::io {
namespace {

std::vector<std::string> Split(PreTokenizerRegex k, std::string_view text) {
  std::vector<std::string> out;
  for (auto w : PreTokenize(k, text)) out.emplace_back(w);
  return out;
}
using V = std::vector<std::string>;

TEST(Unicode, Classes) {
  EXPECT_TRUE(IsLetter('a') && IsLetter('Z') && IsLetter(U'é') && IsLetter(U'ж') && IsLetter(U'中'));
  EXPECT_TRUE(IsLetter(0x02B0));   // Lm MODIFIER LETTER SMALL H
  EXPECT_FALSE(IsLetter('1') || IsLetter(' ') || IsLetter(U'!') || IsLetter(0x1F999) || IsLetter(0x0301));
  EXPECT_TRUE(IsNumber('7') && IsNumber(U'½') && IsNumber(0x0663) && IsNumber(0x2167));  // No, Nd, Nl
  EXPECT_FALSE(IsNumber('a') || IsNumber(U'.'));
  for (char32_t c : {0x09, 0x0A, 0x0D, 0x20, 0x85, 0xA0, 0x2003, 0x3000}) EXPECT_TRUE(IsWhitespace(c)) << static_cast<uint32_t>(c);
  for (char32_t c : {0x1C, 0x200B, 0x41}) EXPECT_FALSE(IsWhitespace(c)) << static_cast<uint32_t>(c);
  EXPECT_FALSE(IsLetter(kInvalidCodepoint) || IsNumber(kInvalidCodepoint) || IsWhitespace(kInvalidCodepoint));
}

TEST(Unicode, Utf8RoundTripAndInvalidBytes) {
  for (char32_t cp : {0x24, 0xA2, 0x939, 0x20AC, 0xD55C, 0x10348, 0x10FFFF}) {
    std::string s;
    AppendUtf8(cp, &s);
    char32_t back;
    EXPECT_EQ(DecodeUtf8(s, 0, &back), s.size());
    EXPECT_EQ(back, cp);
  }
  // Overlong, surrogate, truncated and stray continuation bytes: one byte each, invalid.
  for (std::string bad : {"\xC0\x80", "\xED\xA0\x80", "\xE2\x82", "\x80", "\xF8\x88\x80\x80\x80"}) {
    char32_t cp;
    EXPECT_EQ(DecodeUtf8(bad, 0, &cp), 1u) << bad;
    EXPECT_EQ(cp, kInvalidCodepoint);
  }
}

TEST(PreTokenize, Gpt2) {
  const auto k = PreTokenizerRegex::kGpt2;
  EXPECT_EQ(Split(k, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(Split(k, "I'm   fine!! 123abc"), (V{"I", "'m", "  ", " fine", "!!", " 123", "abc"}));
  EXPECT_EQ(Split(k, "a  \n b"), (V{"a", "  \n", " b"}));
  EXPECT_EQ(Split(k, "end   "), (V{"end", "   "}));
  EXPECT_EQ(Split(k, "DON'T"), (V{"DON", "'", "T"}));  // GPT-2's contractions are case-sensitive
  EXPECT_EQ(Split(k, ""), V{});
}

TEST(PreTokenize, Llama3AndQwen2) {
  const auto k = PreTokenizerRegex::kLlama3;
  EXPECT_EQ(Split(k, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(Split(k, "DON'T 12345"), (V{"DON", "'T", " ", "123", "45"}));
  EXPECT_EQ(Split(k, "x\n\n  y"), (V{"x", "\n\n", " ", " y"}));
  EXPECT_EQ(Split(k, "(hi) ..\n"), (V{"(hi", ")", " ..\n"}));
  EXPECT_EQ(Split(k, "  \n"), (V{"  \n"}));
  EXPECT_EQ(Split(PreTokenizerRegex::kQwen2, "12345"), (V{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(PreTokenizerFromPattern(PreTokenizerPattern(k)), k);
  EXPECT_EQ(PreTokenizerFromPattern("\\w+"), std::nullopt);
}

TEST(PreTokenize, CoversEveryByte) {
  const std::string text("a\xff b\xc3\xa9\xe2\x82 12\t\n!", 15);
  for (auto k : {PreTokenizerRegex::kGpt2, PreTokenizerRegex::kLlama3, PreTokenizerRegex::kQwen2}) {
    std::string joined;
    for (auto w : PreTokenize(k, text)) {
      EXPECT_FALSE(w.empty());
      joined += w;
    }
    EXPECT_EQ(joined, text);
  }
}

// A tiny byte-level BPE: vocab = the 4 stand-ins of "a", "b", "Ġ" (space), "c" plus merges.
BpeConfig TinyBpe() {
  BpeConfig c;
  c.pieces = {"a", "b", "c", "\xC4\xA0", "ab", "abc", "\xC4\xA0" "a", "<eot>"};
  c.types.assign(c.pieces.size(), TokenType::kNormal);
  c.types[7] = TokenType::kControl;
  c.merges = {{"a", "b"}, {"\xC4\xA0", "a"}, {"ab", "c"}};
  c.byte_level = true;
  c.regex = PreTokenizerRegex::kGpt2;
  c.eos_id = 7;
  c.verbatim = {7};
  c.kind = "tiny";
  return c;
}

TEST(BpeTokenizer, MergesByRankAndRoundTrips) {
  auto r = MakeBpeTokenizer(TinyBpe());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Tokenizer& tok = **r;
  // " abc" -> pre-token " abc" -> Ġ a b c: rank 0 merges a+b first, so Ġa never forms.
  EXPECT_EQ(tok.Encode(" abc", false), (std::vector<int32_t>{3, 5}));
  EXPECT_EQ(tok.Encode(" ac", false), (std::vector<int32_t>{6, 2}));
  EXPECT_EQ(tok.Encode("ab<eot>c", false), (std::vector<int32_t>{4, 7, 2}));
  EXPECT_EQ(tok.Decode(tok.Encode(" abc ab", false)), " abc ab");
  EXPECT_EQ(tok.DecodeToken(7), "");  // control
  EXPECT_EQ(tok.DecodeToken(99), "");
  EXPECT_EQ(ByteToUnicode(' '), 0x120u);
  EXPECT_EQ(ByteToUnicode('a'), static_cast<char32_t>('a'));
}

// Added (verbatim) tokens split the text leftmost first, then longest, then in the order listed —
// checked against a direct search on random texts over a small alphabet where the pieces overlap,
// nest ("\n", "\n\n", "\n\n\n") and repeat (the Gemma pattern, whose "\n" matches on every line).
TEST(BpeTokenizer, VerbatimTokensLeftmostLongestOnRandomText) {
  BpeConfig c = TinyBpe();
  for (const char* p : {"\n", "\n\n", "\n\n\n", "ab\n", "b\na", "<x>", "x>"}) {
    c.pieces.push_back(p);
    c.types.push_back(TokenType::kUserDefined);
    c.verbatim.push_back(static_cast<int32_t>(c.pieces.size() - 1));
  }
  auto r = MakeBpeTokenizer(c);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Tokenizer& tok = **r;
  // The reference: at each step, every verbatim piece searched from pos; no piece is listed twice, so
  // equal position and length mean the same piece.
  auto verbatim_split = [&](const std::string& text) {
    std::vector<std::pair<size_t, int32_t>> hits;
    size_t pos = 0;
    while (true) {
      size_t best_at = std::string::npos, best_len = 0;
      int32_t best = -1;
      for (int32_t id : c.verbatim) {
        const size_t at = text.find(c.pieces[id], pos);
        if (at != std::string::npos && (best < 0 || at < best_at || (at == best_at && c.pieces[id].size() > best_len))) {
          best_at = at, best_len = c.pieces[id].size(), best = id;
        }
      }
      if (best < 0) break;
      hits.emplace_back(best_at, best);
      pos = best_at + best_len;
    }
    return hits;
  };
  std::mt19937 rng(7);
  const std::string alphabet = "ab\n<x>";
  for (int trial = 0; trial < 300; ++trial) {
    std::string text(static_cast<size_t>(rng() % 60), ' ');
    for (char& ch : text) ch = alphabet[rng() % alphabet.size()];
    const std::vector<int32_t> ids = tok.Encode(text, false);
    std::vector<int32_t> got;
    for (int32_t id : ids) {
      if (std::find(c.verbatim.begin(), c.verbatim.end(), id) != c.verbatim.end()) got.push_back(id);
    }
    std::vector<int32_t> want;
    for (const auto& [at, id] : verbatim_split(text)) want.push_back(id);
    ASSERT_EQ(got, want) << "text " << ::testing::PrintToString(text);
  }
  EXPECT_EQ(tok.Encode("\n\n\n\n", false), (std::vector<int32_t>{10, 8}));
  EXPECT_EQ(tok.Encode("ab\nab\n", false), (std::vector<int32_t>{11, 11}));
}

TEST(BpeTokenizer, RejectsMergeOutsideVocabulary) {
  BpeConfig c = TinyBpe();
  c.merges.push_back({"b", "c"});  // "bc" is not a piece
  auto r = MakeBpeTokenizer(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bc"), std::string::npos) << r.error().message;
}

LlamaSpmConfig TinySpm() {
  LlamaSpmConfig c;
  c.pieces = {"<unk>", "<s>", "</s>", "<0x41>", "<0xC3>", "<0xA9>", "\xE2\x96\x81", "a", "b", "ab",
              "\xE2\x96\x81" "a", "\xE2\x96\x81" "ab"};
  c.scores = {0, 0, 0, 0, 0, 0, -5, -1, -1, -2, -3, -0.5f};
  c.types.assign(c.pieces.size(), TokenType::kNormal);
  c.types[0] = TokenType::kUnknown;
  c.types[1] = c.types[2] = TokenType::kControl;
  c.types[3] = c.types[4] = c.types[5] = TokenType::kByte;
  c.bos_id = 1, c.eos_id = 2, c.unk_id = 0;
  c.kind = "tiny-spm";
  return c;
}

TEST(LlamaSpmTokenizer, ScoresByteFallbackAndDecode) {
  auto r = MakeLlamaSpmTokenizer(TinySpm());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Tokenizer& tok = **r;
  // "▁ab": pairs ▁a (-3) and ab (-2): ab merges first, then ▁+ab = "▁ab" (-0.5).
  EXPECT_EQ(tok.Encode("ab", true), (std::vector<int32_t>{1, 11}));
  // "é" has no piece: its UTF-8 bytes via <0xC3><0xA9>; "A" via <0x41>; "z" has no byte piece -> unk.
  EXPECT_EQ(tok.Encode("a\xC3\xA9" "Az", false), (std::vector<int32_t>{10, 4, 5, 3, 0}));
  EXPECT_EQ(tok.Encode("", true), (std::vector<int32_t>{1}));
  EXPECT_EQ(tok.Decode(std::vector<int32_t>{1, 11, 6, 10, 4, 5, 2}), "ab  a\xC3\xA9");
  EXPECT_EQ(tok.DecodeToken(11), " ab");  // streaming keeps the space
}

TEST(LlamaSpmTokenizer, RejectsBadByteToken) {
  LlamaSpmConfig c = TinySpm();
  c.pieces[3] = "<0xZZ>";
  EXPECT_FALSE(MakeLlamaSpmTokenizer(c).ok());
  c = TinySpm();
  c.scores.pop_back();
  EXPECT_FALSE(MakeLlamaSpmTokenizer(c).ok());
}

TEST(Loaders, CorruptInputsAreErrors) {
  const auto dir = std::filesystem::temp_directory_path() / "qforge_tokenizer_test";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "trunc.bin", std::ios::binary);
    int32_t max_len = 4;
    float score = 0;
    int32_t len = 9;  // longer than max_token_length
    f.write(reinterpret_cast<char*>(&max_len), 4);
    f.write(reinterpret_cast<char*>(&score), 4);
    f.write(reinterpret_cast<char*>(&len), 4);
  }
  auto bin = LoadLlama2cTokenizer(dir / "trunc.bin", 3);
  ASSERT_FALSE(bin.ok());
  EXPECT_NE(bin.error().message.find("trunc.bin"), std::string::npos);
  {
    std::ofstream f(dir / "tokenizer.json");
    f << R"({"model": {"type": "WordPiece", "vocab": {}}})";
  }
  auto hf = LoadHfTokenizer(dir);
  ASSERT_FALSE(hf.ok());
  EXPECT_NE(hf.error().message.find("WordPiece"), std::string::npos) << hf.error().message;
  {
    std::ofstream f(dir / "tokenizer.json");
    f << R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "NFKC"}})";
  }
  hf = LoadHfTokenizer(dir / "tokenizer.json");
  ASSERT_FALSE(hf.ok());
  EXPECT_NE(hf.error().message.find("NFKC"), std::string::npos) << hf.error().message;
  {
    std::ofstream f(dir / "tokenizer.json");
    f << "{not json";
  }
  EXPECT_FALSE(LoadHfTokenizer(dir).ok());
  EXPECT_FALSE(LoadSentencePiece(dir / "tokenizer.json").ok());
  EXPECT_FALSE(LoadTokenizerForModel(dir / "model.bin").ok());  // llama2.c needs a tokenizer path
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qforge::io
