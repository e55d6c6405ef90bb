// Score-ordered BPE with byte fallback: SentencePiece's BPE encoding as re-implemented by llama.cpp
// (llm_tokenizer_spm) and llama2.c (encode), for GGUF "llama" vocabularies and llama2.c tokenizer.bin.
//
// Encoding: user-defined pieces are matched verbatim first; each remaining fragment gets " " prepended
// (add_space_prefix, when it starts the text or follows a matched piece), spaces become "▁", the text
// is split into UTF-8 characters, and the adjacent pair whose concatenation is a piece with the highest
// score is merged (leftmost on ties) until no pair is a piece. A final symbol that is not a piece is
// emitted as its <0xXX> byte pieces (or unk when the vocabulary has none).
// Merge targets are pieces of type normal or user-defined only, as in SentencePiece (control, unknown,
// unused and byte pieces are never produced by merging); llama.cpp and llama2.c look up any piece,
// which differs only for text such as "<0x41>" when its sub-strings are pieces (never for Llama-2).
// Thread safety: immutable after construction; const methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "io/tokenizer.h"

namespace qforge::io {

struct LlamaSpmConfig {
  std::vector<std::string> pieces;  // "▁the", "<0x0A>", "<s>"
  std::vector<float> scores;
  std::vector<TokenType> types;
  int32_t bos_id = -1, eos_id = -1, unk_id = -1;
  bool add_bos = true;
  bool add_space_prefix = true;
  std::string kind;
  std::string source;  // file name for errors
};

Result<std::unique_ptr<Tokenizer>> MakeLlamaSpmTokenizer(LlamaSpmConfig config);

}  // namespace qforge::io
