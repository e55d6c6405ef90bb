// The per-element grids of a quantized GGML row, and its codes apart from its block headers.
//
// Every GGML weight type stores blocks of a header (scales, mins, sub-block scales) and codes. Once a
// quantizer has written a row, each element's possible values form a grid fixed by the headers:
//   value(code) = scale * level(code) + offset,   code in [0, n_levels)
// with level(code) = code + level_min for the uniform types and level(code) = kIq4nlValues[code] for
// IQ4_NL / IQ4_XS. GPTQ inside GGML's grids (quant/gguf_gptq.h) lets llama.cpp's quantizer choose the
// headers, then re-chooses the codes column by column within them, and writes them back with
// SetGgmlRowCodes — the headers, and so the file's format, unchanged.
//
// Exactness: value(code) computed as `scale * float(level) + offset` equals the reference decoder's
// output (ggml_kquants.h / ggml_blocks.h) for every element, because scale and offset are the decoder's
// own sub-block factors (e.g. Q4_K: scale = d * sc, offset = -(dmin * m); Q4_0: scale = d, offset 0) and
// a + (-b) == a - b in IEEE arithmetic (ggml_grid_test.cc checks all types bit for bit, up to the sign
// of zero).
//
// Codes per type (the index stored, level):
//   Q4_0 16 (code - 8)   Q4_1 16 (code)   Q5_0 32 (code - 16)   Q5_1 32 (code)   Q8_0 256 (code - 128,
//   the int8 value + 128)   Q2_K 4 (code)   Q3_K 8 (code - 4: 2 low bits + the hmask bit)   Q4_K 16 (code)
//   Q5_K 32 (code)   Q6_K 64 (code - 32)   IQ4_NL / IQ4_XS 16 (kIq4nlValues[code]).
#pragma once

#include <cstdint>
#include <span>

#include "core/result.h"
#include "formats/ggml_blocks.h"

namespace qforge::formats {

struct GgmlGridInfo {
  int n_levels = 0;                 // codes 0 .. n_levels-1
  int level_min = 0;                // uniform types: level(code) = code + level_min
  const int8_t* levels = nullptr;   // non-uniform types (IQ4): level(code) = levels[code]
  float Level(int code) const { return static_cast<float>(levels != nullptr ? levels[code] : code + level_min); }
};

// Whether the type has a grid here: q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs.
bool HasGgmlGrid(GgmlType type);
GgmlGridInfo GgmlGrid(GgmlType type);  // HasGgmlGrid(type) required

// For each element of `row` (a whole row of blocks of `type`): its grid's scale and offset. Errors: a
// type without a grid, sizes that do not match.
Status GgmlRowGrid(GgmlType type, std::span<const uint8_t> row, std::span<float> scale, std::span<float> offset);
// The codes of the row's elements (0 .. n_levels-1).
Status GetGgmlRowCodes(GgmlType type, std::span<const uint8_t> row, std::span<uint8_t> codes);
// Writes the codes into the row, leaving every header byte unchanged. Codes must be < n_levels.
Status SetGgmlRowCodes(GgmlType type, std::span<uint8_t> row, std::span<const uint8_t> codes);

}  // namespace qforge::formats
