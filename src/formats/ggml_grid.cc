#include "formats/ggml_grid.h"

#include <cstring>

#include "formats/float16.h"
#include "formats/ggml_kquants.h"

namespace qforge::formats {

namespace {

float HalfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return HalfToFloat(h);
}

// One block's three views; `b` points at the block (any alignment), element arrays hold the block's
// elements in row order.
struct GridOps {
  int block_elems;
  void (*grid)(const uint8_t* b, float* scale, float* offset);
  void (*get)(const uint8_t* b, uint8_t* codes);
  void (*set)(uint8_t* b, const uint8_t* codes);
};

// The 32-element layouts: a 4-bit nibble part (element j < 16 the low nibble of qs[j], j + 16 the
// high nibble) and, for the 5-bit types, bit e of the u32 qh is the 5th bit of element e.
void GetNibbles(const uint8_t* qs, uint8_t* c) {
  for (int j = 0; j < 16; ++j) {
    c[j] = qs[j] & 0xF;
    c[j + 16] = qs[j] >> 4;
  }
}
void SetNibbles(uint8_t* qs, const uint8_t* c) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((c[j] & 0xF) | ((c[j + 16] & 0xF) << 4));
}
void GetFifthBits(const uint8_t* qh_p, uint8_t* c) {
  uint32_t qh;
  std::memcpy(&qh, qh_p, 4);
  for (int e = 0; e < 32; ++e) c[e] = static_cast<uint8_t>(c[e] | (((qh >> e) & 1u) << 4));
}
void SetFifthBits(uint8_t* qh_p, const uint8_t* c) {
  uint32_t qh = 0;
  for (int e = 0; e < 32; ++e) qh |= static_cast<uint32_t>((c[e] >> 4) & 1) << e;
  std::memcpy(qh_p, &qh, 4);
}
void Fill(float* p, int n, float v) {
  for (int i = 0; i < n; ++i) p[i] = v;
}

// --- Q4_0 (d, qs[16]), Q4_1 (d, m, qs), Q5_0 (d, qh, qs), Q5_1 (d, m, qh, qs), Q8_0 (d, int8[32]), IQ4_NL.
void GridD(const uint8_t* b, float* s, float* o) {
  Fill(s, 32, HalfAt(b));
  Fill(o, 32, 0.0f);
}
void GridDM(const uint8_t* b, float* s, float* o) {
  Fill(s, 32, HalfAt(b));
  Fill(o, 32, HalfAt(b + 2));
}
void GetQ4_0(const uint8_t* b, uint8_t* c) { GetNibbles(b + 2, c); }
void SetQ4_0(uint8_t* b, const uint8_t* c) { SetNibbles(b + 2, c); }
void GetQ4_1(const uint8_t* b, uint8_t* c) { GetNibbles(b + 4, c); }
void SetQ4_1(uint8_t* b, const uint8_t* c) { SetNibbles(b + 4, c); }
void GetQ5_0(const uint8_t* b, uint8_t* c) {
  GetNibbles(b + 6, c);
  GetFifthBits(b + 2, c);
}
void SetQ5_0(uint8_t* b, const uint8_t* c) {
  SetNibbles(b + 6, c);
  SetFifthBits(b + 2, c);
}
void GetQ5_1(const uint8_t* b, uint8_t* c) {
  GetNibbles(b + 8, c);
  GetFifthBits(b + 4, c);
}
void SetQ5_1(uint8_t* b, const uint8_t* c) {
  SetNibbles(b + 8, c);
  SetFifthBits(b + 4, c);
}
void GetQ8_0(const uint8_t* b, uint8_t* c) {
  for (int j = 0; j < 32; ++j) c[j] = static_cast<uint8_t>(static_cast<int>(static_cast<int8_t>(b[2 + j])) + 128);
}
void SetQ8_0(uint8_t* b, const uint8_t* c) {
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(static_cast<int>(c[j]) - 128));
}

// --- Q2_K: scales[16] @0, qs[64] @16, d @80, dmin @82. Element 128h + 32s + 16half + l: bits 2s of
// qs[32h + 16half + l], sub-block 8h + 2s + half.
void GridQ2_K(const uint8_t* b, float* s, float* o) {
  const float d = HalfAt(b + 80), dmin = HalfAt(b + 82);
  for (int sb = 0; sb < 16; ++sb) {
    const uint8_t sc = b[sb];
    const int h = sb / 8, sh = (sb % 8) / 2, half = sb % 2;
    const int y0 = 128 * h + 32 * sh + 16 * half;
    Fill(s + y0, 16, d * static_cast<float>(sc & 0xF));
    Fill(o + y0, 16, -(dmin * static_cast<float>(sc >> 4)));
  }
}
void GetQ2_K(const uint8_t* b, uint8_t* c) {
  for (int y = 0; y < kQK_K; ++y) {
    const int h = y / 128, sh = (y % 128) / 32, r = y % 32;
    c[y] = (b[16 + 32 * h + r] >> (2 * sh)) & 3;
  }
}
void SetQ2_K(uint8_t* b, const uint8_t* c) {
  std::memset(b + 16, 0, 64);
  for (int y = 0; y < kQK_K; ++y) {
    const int h = y / 128, sh = (y % 128) / 32, r = y % 32;
    b[16 + 32 * h + r] = static_cast<uint8_t>(b[16 + 32 * h + r] | ((c[y] & 3) << (2 * sh)));
  }
}

// --- Q3_K: hmask[32] @0, qs[64] @32, scales[12] @96, d @108. Element 128h + 32s + l (l < 32): low bits
// 2s of qs[32h + l], high bit (4h + s) of hmask[l]; sub-block 8h + 2s + l/16; level = code - 4.
void GridQ3_K(const uint8_t* b, float* s, float* o) {
  const float d = HalfAt(b + 108);
  const uint8_t* scales = b + 96;
  for (int j = 0; j < 16; ++j) {
    const int lo = (scales[j % 8] >> (4 * (j / 8))) & 0xF;
    const int hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    Fill(s + 16 * j, 16, d * static_cast<float>((lo | (hi << 4)) - 32));
    Fill(o + 16 * j, 16, 0.0f);
  }
}
void GetQ3_K(const uint8_t* b, uint8_t* c) {
  for (int y = 0; y < kQK_K; ++y) {
    const int h = y / 128, sh = (y % 128) / 32, l = y % 32;
    const int lo = (b[32 + 32 * h + l] >> (2 * sh)) & 3;
    const int hi = (b[l] >> (4 * h + sh)) & 1;
    c[y] = static_cast<uint8_t>(lo | (hi << 2));
  }
}
void SetQ3_K(uint8_t* b, const uint8_t* c) {
  std::memset(b, 0, 32 + 64);
  for (int y = 0; y < kQK_K; ++y) {
    const int h = y / 128, sh = (y % 128) / 32, l = y % 32;
    b[32 + 32 * h + l] = static_cast<uint8_t>(b[32 + 32 * h + l] | ((c[y] & 3) << (2 * sh)));
    b[l] = static_cast<uint8_t>(b[l] | (((c[y] >> 2) & 1) << (4 * h + sh)));
  }
}

// --- Q4_K: d @0, dmin @2, scales[12] @4, qs[128] @16; Q5_K the same plus qh[32] @16, qs @48. Element
// 64c + l: low nibble of qs[32c + l] (sub-block 2c); 64c + 32 + l: high nibble (sub-block 2c + 1); Q5_K's
// 5th bits: bit 2c / 2c + 1 of qh[l].
void ScaleMinK(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
void GridQ4_KLike(const uint8_t* b, float* s, float* o) {
  const float d = HalfAt(b), dmin = HalfAt(b + 2);
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    ScaleMinK(j, b + 4, &sc, &m);
    Fill(s + 32 * j, 32, d * static_cast<float>(sc));
    Fill(o + 32 * j, 32, -(dmin * static_cast<float>(m)));
  }
}
void GetKNibbles(const uint8_t* qs, uint8_t* c) {
  for (int ch = 0; ch < 4; ++ch) {
    for (int l = 0; l < 32; ++l) {
      c[64 * ch + l] = qs[32 * ch + l] & 0xF;
      c[64 * ch + 32 + l] = qs[32 * ch + l] >> 4;
    }
  }
}
void SetKNibbles(uint8_t* qs, const uint8_t* c) {
  for (int ch = 0; ch < 4; ++ch) {
    for (int l = 0; l < 32; ++l) {
      qs[32 * ch + l] = static_cast<uint8_t>((c[64 * ch + l] & 0xF) | ((c[64 * ch + 32 + l] & 0xF) << 4));
    }
  }
}
void GetQ4_K(const uint8_t* b, uint8_t* c) { GetKNibbles(b + 16, c); }
void SetQ4_K(uint8_t* b, const uint8_t* c) { SetKNibbles(b + 16, c); }
void GetQ5_K(const uint8_t* b, uint8_t* c) {
  GetKNibbles(b + 48, c);
  for (int ch = 0; ch < 4; ++ch) {
    for (int l = 0; l < 32; ++l) {
      c[64 * ch + l] = static_cast<uint8_t>(c[64 * ch + l] | (((b[16 + l] >> (2 * ch)) & 1) << 4));
      c[64 * ch + 32 + l] = static_cast<uint8_t>(c[64 * ch + 32 + l] | (((b[16 + l] >> (2 * ch + 1)) & 1) << 4));
    }
  }
}
void SetQ5_K(uint8_t* b, const uint8_t* c) {
  SetKNibbles(b + 48, c);
  std::memset(b + 16, 0, 32);
  for (int ch = 0; ch < 4; ++ch) {
    for (int l = 0; l < 32; ++l) {
      b[16 + l] = static_cast<uint8_t>(b[16 + l] | (((c[64 * ch + l] >> 4) & 1) << (2 * ch)) |
                                       (((c[64 * ch + 32 + l] >> 4) & 1) << (2 * ch + 1)));
    }
  }
}

// --- Q6_K: ql[128] @0, qh[64] @128, int8 scales[16] @192, d @208. Half h, quarter k (0..3), l < 32:
// element 128h + 32k + l; its low nibble is in ql[64h + l + 32 (k % 2)] (low nibble for k < 2, high for
// k >= 2), its top 2 bits are bits 2k of qh[32h + l]; sub-block 8h + 2k + l/16; level = code - 32.
void GridQ6_K(const uint8_t* b, float* s, float* o) {
  const float d = HalfAt(b + 208);
  for (int j = 0; j < 16; ++j) {
    Fill(s + 16 * j, 16, d * static_cast<float>(static_cast<int8_t>(b[192 + j])));
    Fill(o + 16 * j, 16, 0.0f);
  }
}
void GetQ6_K(const uint8_t* b, uint8_t* c) {
  for (int y = 0; y < kQK_K; ++y) {
    const int h = y / 128, k = (y % 128) / 32, l = y % 32;
    const uint8_t q = b[64 * h + l + 32 * (k % 2)];
    const int lo = k < 2 ? (q & 0xF) : (q >> 4);
    const int hi = (b[128 + 32 * h + l] >> (2 * k)) & 3;
    c[y] = static_cast<uint8_t>(lo | (hi << 4));
  }
}
void SetQ6_K(uint8_t* b, const uint8_t* c) {
  std::memset(b, 0, 128 + 64);
  for (int y = 0; y < kQK_K; ++y) {
    const int h = y / 128, k = (y % 128) / 32, l = y % 32;
    uint8_t& q = b[64 * h + l + 32 * (k % 2)];
    q = static_cast<uint8_t>(q | (k < 2 ? (c[y] & 0xF) : ((c[y] & 0xF) << 4)));
    b[128 + 32 * h + l] = static_cast<uint8_t>(b[128 + 32 * h + l] | (((c[y] >> 4) & 3) << (2 * k)));
  }
}

// --- IQ4_XS: d @0, scales_h u16 @2, scales_l[4] @4, qs[128] @8; sub-block ib of 32 elements in IQ4_NL's
// nibble order at qs + 16 ib.
void GridIQ4_XS(const uint8_t* b, float* s, float* o) {
  const float d = HalfAt(b);
  uint16_t sh;
  std::memcpy(&sh, b + 2, 2);
  for (int ib = 0; ib < 8; ++ib) {
    const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4);
    Fill(s + 32 * ib, 32, d * static_cast<float>(ls - 32));
    Fill(o + 32 * ib, 32, 0.0f);
  }
}
void GetIQ4_XS(const uint8_t* b, uint8_t* c) {
  for (int ib = 0; ib < 8; ++ib) GetNibbles(b + 8 + 16 * ib, c + 32 * ib);
}
void SetIQ4_XS(uint8_t* b, const uint8_t* c) {
  for (int ib = 0; ib < 8; ++ib) SetNibbles(b + 8 + 16 * ib, c + 32 * ib);
}

const GridOps* OpsOf(GgmlType t) {
  static constexpr GridOps kQ4_0{32, GridD, GetQ4_0, SetQ4_0}, kQ4_1{32, GridDM, GetQ4_1, SetQ4_1},
      kQ5_0{32, GridD, GetQ5_0, SetQ5_0}, kQ5_1{32, GridDM, GetQ5_1, SetQ5_1}, kQ8_0{32, GridD, GetQ8_0, SetQ8_0},
      kIQ4_NL{32, GridD, GetQ4_0, SetQ4_0}, kQ2_K{256, GridQ2_K, GetQ2_K, SetQ2_K},
      kQ3_K{256, GridQ3_K, GetQ3_K, SetQ3_K}, kQ4_K{256, GridQ4_KLike, GetQ4_K, SetQ4_K},
      kQ5_K{256, GridQ4_KLike, GetQ5_K, SetQ5_K}, kQ6_K{256, GridQ6_K, GetQ6_K, SetQ6_K},
      kIQ4_XS{256, GridIQ4_XS, GetIQ4_XS, SetIQ4_XS};
  switch (t) {
    case GgmlType::kQ4_0: return &kQ4_0;
    case GgmlType::kQ4_1: return &kQ4_1;
    case GgmlType::kQ5_0: return &kQ5_0;
    case GgmlType::kQ5_1: return &kQ5_1;
    case GgmlType::kQ8_0: return &kQ8_0;
    case GgmlType::kIQ4_NL: return &kIQ4_NL;
    case GgmlType::kQ2_K: return &kQ2_K;
    case GgmlType::kQ3_K: return &kQ3_K;
    case GgmlType::kQ4_K: return &kQ4_K;
    case GgmlType::kQ5_K: return &kQ5_K;
    case GgmlType::kQ6_K: return &kQ6_K;
    case GgmlType::kIQ4_XS: return &kIQ4_XS;
    default: return nullptr;
  }
}

Result<int64_t> CheckRow(GgmlType type, size_t row_bytes, size_t elems) {
  const GridOps* ops = OpsOf(type);
  if (ops == nullptr) return MakeError("ggml type {} has no code grid here", GgmlInfo(type).name);
  const int64_t blocks = static_cast<int64_t>(elems) / ops->block_elems;
  if (static_cast<int64_t>(elems) % ops->block_elems != 0 || row_bytes != static_cast<size_t>(blocks) * GgmlInfo(type).type_size) {
    return MakeError("ggml type {}: {} elements do not match a row of {} bytes", GgmlInfo(type).name, elems, row_bytes);
  }
  return blocks;
}

}  // namespace

bool HasGgmlGrid(GgmlType type) { return OpsOf(type) != nullptr; }

GgmlGridInfo GgmlGrid(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0: return {16, -8, nullptr};
    case GgmlType::kQ4_1: return {16, 0, nullptr};
    case GgmlType::kQ5_0: return {32, -16, nullptr};
    case GgmlType::kQ5_1: return {32, 0, nullptr};
    case GgmlType::kQ8_0: return {256, -128, nullptr};
    case GgmlType::kQ2_K: return {4, 0, nullptr};
    case GgmlType::kQ3_K: return {8, -4, nullptr};
    case GgmlType::kQ4_K: return {16, 0, nullptr};
    case GgmlType::kQ5_K: return {32, 0, nullptr};
    case GgmlType::kQ6_K: return {64, -32, nullptr};
    case GgmlType::kIQ4_NL:
    case GgmlType::kIQ4_XS: return {16, 0, kIq4nlValues};
    default: return {};
  }
}

Status GgmlRowGrid(GgmlType type, std::span<const uint8_t> row, std::span<float> scale, std::span<float> offset) {
  QF_ASSIGN_OR_RETURN(int64_t blocks, CheckRow(type, row.size(), scale.size()));
  if (offset.size() != scale.size()) return MakeError("GgmlRowGrid: scale and offset sizes differ");
  const GridOps* ops = OpsOf(type);
  const size_t bb = GgmlInfo(type).type_size;
  for (int64_t i = 0; i < blocks; ++i) {
    ops->grid(row.data() + i * bb, scale.data() + i * ops->block_elems, offset.data() + i * ops->block_elems);
  }
  return Status::Ok();
}

Status GetGgmlRowCodes(GgmlType type, std::span<const uint8_t> row, std::span<uint8_t> codes) {
  QF_ASSIGN_OR_RETURN(int64_t blocks, CheckRow(type, row.size(), codes.size()));
  const GridOps* ops = OpsOf(type);
  const size_t bb = GgmlInfo(type).type_size;
  for (int64_t i = 0; i < blocks; ++i) ops->get(row.data() + i * bb, codes.data() + i * ops->block_elems);
  return Status::Ok();
}

Status SetGgmlRowCodes(GgmlType type, std::span<uint8_t> row, std::span<const uint8_t> codes) {
  QF_ASSIGN_OR_RETURN(int64_t blocks, CheckRow(type, row.size(), codes.size()));
  const int n = GgmlGrid(type).n_levels;
  for (uint8_t c : codes) {
    if (c >= n) return MakeError("ggml type {}: code {} outside 0..{}", GgmlInfo(type).name, int{c}, n - 1);
  }
  const GridOps* ops = OpsOf(type);
  const size_t bb = GgmlInfo(type).type_size;
  for (int64_t i = 0; i < blocks; ++i) ops->set(row.data() + i * bb, codes.data() + i * ops->block_elems);
  return Status::Ok();
}

}  // namespace qforge::formats
