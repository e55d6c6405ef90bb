// GPTQ v1 / AWQ gemm layouts: round trips, hand-checked golden words, and rejections by name.
//
// What the layouts were checked against (read, not copied):
//  - AutoGPTQ / GPTQModel QuantLinear.pack(): intweight is W^T [in, out]; for bits in {2, 4, 8}
//    each int32 row of qweight ORs 32/bits consecutive input rows at shifts bits*j; for 3 bits the
//    loop ORs 10 codes, puts the low 2 bits of the 11th at bit 30 and its high bit at bit 0 of the
//    next word (and 1 + 2 bits at the next boundary), i.e. one continuous LSB-first bit stream along
//    `in`, 32 codes per 3 words. qzeros: `zeros -= 1` (the v1 convention) then the same packing
//    along `out`. scales [groups, out] fp16, g_idx int32 [in].
//  - vLLM gptq.py / transformers' GPTQ integration read checkpoint_format "gptq" as v1 and add 1 to
//    the unpacked zeros (GPTQModel's v1 -> v2 conversion does the same).
//  - AutoAWQ / GPTQModel awq utils: AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7] at pack time (nibble i of
//    word j holds output column 8j + AWQ_ORDER[i]) and AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]
//    to undo it when unpacking with shifts 0, 4, ..., 28; qweight [in, out/8], qzeros
//    [in/group, out/8] (no offset), scales [in/group, out].
#include "io/gptq_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "core/random.h"
#include "formats/float16.h"

namespace qforge::io {
namespace {

using formats::GroupQuantMatrix;
using ::testing::HasSubstr;

// A random matrix: codes uniform, f16 scales, zeros in [1, 2^bits) (v1-storable), g_idx plain or
// act-order (groups assigned to columns in a shuffled order, each group still group_size columns).
GroupQuantMatrix RandomMatrix(int bits, int64_t out, int64_t in, int64_t group_size, bool act_order, uint64_t seed,
                              bool sym = false) {
  Rng rng(seed);
  GroupQuantMatrix m = GroupQuantMatrix::Shaped(bits, sym, out, in, group_size);
  const int levels = 1 << bits;
  for (auto& c : m.codes) c = static_cast<uint8_t>(rng.NextU64() % levels);
  if (act_order) {
    // Fisher-Yates shuffle of the column->group assignment keeps every group's size.
    for (int64_t i = in - 1; i > 0; --i) std::swap(m.g_idx[i], m.g_idx[rng.NextU64() % (i + 1)]);
  }
  for (auto& s : m.scales) s = HalfToFloat(FloatToHalf(static_cast<float>(0.001 + 0.01 * rng.Uniform())));
  for (auto& z : m.zeros) z = sym ? static_cast<uint8_t>(levels / 2) : static_cast<uint8_t>(1 + rng.NextU64() % (levels - 1));
  return m;
}

const PackedTensor& Get(const std::vector<PackedTensor>& ts, const std::string& suffix) {
  for (const auto& t : ts)
    if (t.suffix == suffix) return t;
  ADD_FAILURE() << "no tensor " << suffix;
  return ts.front();
}

TensorView View(const PackedTensor& t) { return TensorView::Contiguous(t.bytes.data(), t.dtype, t.shape); }

void ExpectSame(const GroupQuantMatrix& a, const GroupQuantMatrix& b) {
  EXPECT_EQ(a.bits, b.bits);
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.groups, b.groups);
  EXPECT_EQ(a.group_size, b.group_size);
  EXPECT_EQ(a.codes, b.codes);
  EXPECT_EQ(a.g_idx, b.g_idx);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_EQ(a.zeros, b.zeros);
}

Result<GroupQuantMatrix> RoundTripGptq(const GroupQuantMatrix& m, std::vector<PackedTensor>* keep, bool sym = false) {
  auto packed = PackGptq(m);
  if (!packed.ok()) return std::move(packed).error();
  *keep = std::move(packed).value();
  const TensorView gi = View(Get(*keep, "g_idx"));
  return UnpackGptq("layer", View(Get(*keep, "qweight")), View(Get(*keep, "qzeros")), View(Get(*keep, "scales")), &gi,
                    m.bits, m.group_size == m.cols ? -1 : m.group_size, sym, m.cols, m.rows);
}

TEST(GptqLayout, RoundTripAllBitsGroupsAndActOrder) {
  for (int bits : {2, 3, 4, 5, 6, 7, 8}) {
    for (int64_t in : {int64_t{256}, int64_t{172}}) {
      for (int64_t gs : {int64_t{32}, int64_t{64}, int64_t{128}, int64_t{-1}}) {
        for (bool act : {false, true}) {
          SCOPED_TRACE(::testing::Message() << "bits " << bits << " in " << in << " gs " << gs << " act " << act);
          const GroupQuantMatrix m = RandomMatrix(bits, 40, in, gs, act, 1000 + bits * 7 + in + gs);
          std::vector<PackedTensor> keep;
          auto back = RoundTripGptq(m, &keep);
          ASSERT_TRUE(back.ok()) << back.error().message;
          ExpectSame(m, *back);
          // Shapes as documented.
          EXPECT_EQ(Get(keep, "qweight").shape, (Shape{(in * bits + 31) / 32, 40}));
          EXPECT_EQ(Get(keep, "qzeros").shape, (Shape{m.groups, (40 * bits + 31) / 32}));
          EXPECT_EQ(Get(keep, "scales").shape, (Shape{m.groups, 40}));
          EXPECT_EQ(Get(keep, "g_idx").shape, (Shape{in}));
        }
      }
    }
  }
}

TEST(GptqLayout, TrailingBitsOfLastWordAreZero) {
  // in = 172 at 3 bits = 516 bits: the 17th word holds 4 bits; the rest must be zero.
  GroupQuantMatrix m = RandomMatrix(3, 8, 172, 64, false, 5);
  for (auto& c : m.codes) c = 7;
  std::vector<PackedTensor> keep;
  ASSERT_TRUE(RoundTripGptq(m, &keep).ok());
  const PackedTensor& q = Get(keep, "qweight");
  ASSERT_EQ(q.shape, (Shape{17, 8}));
  const auto* w = reinterpret_cast<const uint32_t*>(q.bytes.data());
  for (int o = 0; o < 8; ++o) {
    EXPECT_EQ(w[0 * 8 + o], 0xffffffffu);
    EXPECT_EQ(w[16 * 8 + o], 0xfu) << "only 516 - 512 = 4 bits are used in the last word";
  }
}

TEST(GptqLayout, GoldenWords) {
  // 4-bit, one output column with codes 0..7 along `in`: qweight word 0 = 0x76543210 (code j at
  // bits 4j). Zero 8 (sym) is stored as 7 in every nibble of qzeros: 0x77777777 for 8 outputs.
  GroupQuantMatrix m = RandomMatrix(4, 8, 8, -1, false, 1, /*sym=*/true);
  for (int o = 0; o < 8; ++o)
    for (int i = 0; i < 8; ++i) m.codes[o * 8 + i] = static_cast<uint8_t>(o == 0 ? i : 15 - i);
  auto p = PackGptq(m);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto* q = reinterpret_cast<const uint32_t*>(Get(*p, "qweight").bytes.data());
  EXPECT_EQ(q[0], 0x76543210u);
  EXPECT_EQ(q[1], 0x89abcdefu);
  EXPECT_EQ(*reinterpret_cast<const uint32_t*>(Get(*p, "qzeros").bytes.data()), 0x77777777u);

  // 3-bit straddling: codes 1,2,...: word 0 bits 30-31 = low 2 bits of code 10, word 1 bit 0 = its high bit.
  GroupQuantMatrix m3 = RandomMatrix(3, 1, 32, -1, false, 2);
  for (int i = 0; i < 32; ++i) m3.codes[i] = static_cast<uint8_t>(i % 8);
  auto p3 = PackGptq(m3);
  ASSERT_TRUE(p3.ok());
  const auto* w3 = reinterpret_cast<const uint32_t*>(Get(*p3, "qweight").bytes.data());
  uint32_t expect0 = 0;
  for (int i = 0; i < 10; ++i) expect0 |= static_cast<uint32_t>(i % 8) << (3 * i);
  expect0 |= (static_cast<uint32_t>(10 % 8) & 3u) << 30;  // code 10 = 2: low bits 10b
  EXPECT_EQ(w3[0], expect0);
  EXPECT_EQ(w3[1] & 1u, (10 % 8) >> 2);  // its high bit
  EXPECT_EQ((w3[1] >> 1) & 7u, 11u % 8);  // code 11 follows immediately

  // AWQ: row i of qweight, word 0, for outputs o = 0..7 holding codes o: nibble k holds output
  // kAwqOrder[k] -> nibbles 0,2,4,6,1,3,5,7 -> 0x75316420.
  GroupQuantMatrix a = RandomMatrix(4, 8, 4, -1, false, 3);
  for (int o = 0; o < 8; ++o)
    for (int i = 0; i < 4; ++i) a.codes[o * 4 + i] = static_cast<uint8_t>(o);
  for (int o = 0; o < 8; ++o) a.zeros[o] = static_cast<uint8_t>(o);  // zero 0 is allowed in AWQ
  auto pa = PackAwqGemm(a);
  ASSERT_TRUE(pa.ok()) << pa.error().message;
  const auto* wa = reinterpret_cast<const uint32_t*>(Get(*pa, "qweight").bytes.data());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(wa[i], 0x75316420u);
  EXPECT_EQ(*reinterpret_cast<const uint32_t*>(Get(*pa, "qzeros").bytes.data()), 0x75316420u);
}

TEST(AwqLayout, RoundTrip) {
  for (int64_t gs : {int64_t{32}, int64_t{64}, int64_t{128}, int64_t{-1}}) {
    for (int64_t in : {int64_t{256}, int64_t{172}}) {
      SCOPED_TRACE(::testing::Message() << "gs " << gs << " in " << in);
      GroupQuantMatrix m = RandomMatrix(4, 48, in, gs, false, 77 + gs + in);
      for (size_t i = 0; i < m.zeros.size(); i += 5) m.zeros[i] = 0;  // AWQ stores zero 0 fine
      auto p = PackAwqGemm(m);
      ASSERT_TRUE(p.ok()) << p.error().message;
      EXPECT_EQ(Get(*p, "qweight").shape, (Shape{in, 6}));
      EXPECT_EQ(Get(*p, "qzeros").shape, (Shape{m.groups, 6}));
      auto back = UnpackAwqGemm("layer", View(Get(*p, "qweight")), View(Get(*p, "qzeros")), View(Get(*p, "scales")), 4,
                                gs, in, 48);
      ASSERT_TRUE(back.ok()) << back.error().message;
      ExpectSame(m, *back);
    }
  }
}

TEST(GptqLayout, PackRejections) {
  GroupQuantMatrix m = RandomMatrix(4, 8, 64, 32, false, 9);
  m.zeros[3] = 0;
  auto r = PackGptq(m);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("zero point 0"));
  m = RandomMatrix(4, 8, 64, 32, false, 9);
  m.scales[1] = 0.1f;  // not f16-exact
  r = PackGptq(m);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("not representable in f16"));
  m = RandomMatrix(4, 8, 64, 32, false, 9);
  m.bits = 9;
  ASSERT_FALSE(PackGptq(m).ok());
  m = RandomMatrix(4, 8, 64, 32, false, 9);
  m.g_idx[5] = 2;
  r = PackGptq(m);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("g_idx[5]"));

  GroupQuantMatrix a = RandomMatrix(3, 8, 64, 32, false, 9);
  auto ra = PackAwqGemm(a);
  ASSERT_FALSE(ra.ok());
  EXPECT_THAT(ra.error().message, HasSubstr("bits 3"));
  a = RandomMatrix(4, 12, 64, 32, false, 9);
  ra = PackAwqGemm(a);
  ASSERT_FALSE(ra.ok());
  EXPECT_THAT(ra.error().message, HasSubstr("multiple of 8"));
  a = RandomMatrix(4, 8, 64, 32, true, 9);
  std::iota(a.g_idx.begin(), a.g_idx.end(), 0);
  for (auto& g : a.g_idx) g = 1 - g / 32;  // groups reversed: not plain
  ra = PackAwqGemm(a);
  ASSERT_FALSE(ra.ok());
  EXPECT_THAT(ra.error().message, HasSubstr("contiguous groups"));
}

TEST(GptqLayout, UnpackRejectionsNameTheTensor) {
  const GroupQuantMatrix m = RandomMatrix(4, 16, 128, 32, false, 11);
  auto p = PackGptq(m);
  ASSERT_TRUE(p.ok());
  std::vector<PackedTensor> ts = *p;
  const TensorView qw = View(Get(ts, "qweight")), qz = View(Get(ts, "qzeros")), sc = View(Get(ts, "scales"));
  TensorView gi = View(Get(ts, "g_idx"));
  auto expect_error = [&](const Result<GroupQuantMatrix>& r, const std::string& what) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_THAT(r.error().message, HasSubstr(what));
  };
  // Wrong shapes: in / out / group size that the tensors do not match.
  expect_error(UnpackGptq("model.layers.0.mlp.up_proj", qw, qz, sc, &gi, 4, 32, false, 256, 16),
               "tensor 'model.layers.0.mlp.up_proj.qweight': expected shape [32, 16], found [16, 16]");
  expect_error(UnpackGptq("L", qw, qz, sc, &gi, 4, 32, false, 128, 24), "tensor 'L.qweight'");
  expect_error(UnpackGptq("L", qw, qz, sc, &gi, 4, 64, false, 128, 16), "tensor 'L.qzeros': expected shape [2, 2]");
  // Wrong bits reads as a shape mismatch of qweight.
  expect_error(UnpackGptq("L", qw, qz, sc, &gi, 8, 32, false, 128, 16), "tensor 'L.qweight': expected shape [32, 16]");
  expect_error(UnpackGptq("L", qw, qz, sc, &gi, 1, 32, false, 128, 16), "bits 1");
  // Wrong dtypes.
  TensorView bad = qw;
  bad.dtype = DType::kF32;
  expect_error(UnpackGptq("L", bad, qz, sc, &gi, 4, 32, false, 128, 16), "tensor 'L.qweight': expected dtype i32, found f32");
  TensorView bad_sc = sc;
  bad_sc.dtype = DType::kBF16;
  expect_error(UnpackGptq("L", qw, qz, bad_sc, &gi, 4, 32, false, 128, 16), "tensor 'L.scales': expected dtype f16");
  TensorView bad_gi = gi;
  bad_gi.dtype = DType::kI64;
  expect_error(UnpackGptq("L", qw, qz, sc, &bad_gi, 4, 32, false, 128, 16), "tensor 'L.g_idx': expected I32 [128]");
  // g_idx out of range.
  std::vector<int32_t> g(128);
  std::memcpy(g.data(), gi.data, 128 * 4);
  g[77] = 4;
  TensorView gv = TensorView::Contiguous(g.data(), DType::kI32, {128});
  expect_error(UnpackGptq("L", qw, qz, sc, &gv, 4, 32, false, 128, 16), "tensor 'L.g_idx': entry 77 is 4, outside [0, 4)");
  g[77] = -1;
  expect_error(UnpackGptq("L", qw, qz, sc, &gv, 4, 32, false, 128, 16), "entry 77 is -1");
  // A v1 zero point of 0 (stored as all ones).
  std::vector<uint8_t> zb = Get(ts, "qzeros").bytes;
  zb[0] |= 0x0f;
  TensorView zv = TensorView::Contiguous(zb.data(), DType::kI32, qz.shape);
  expect_error(UnpackGptq("L", qw, zv, sc, &gi, 4, 32, false, 128, 16), "tensor 'L.qzeros': (group 0, out 0)");
  // sym with a zero point other than 2^(bits-1).
  expect_error(UnpackGptq("L", qw, qz, sc, &gi, 4, 32, true, 128, 16), "sym is true");

  // AWQ.
  GroupQuantMatrix a = RandomMatrix(4, 16, 128, 32, false, 12);
  auto pa = PackAwqGemm(a);
  ASSERT_TRUE(pa.ok());
  const TensorView aw = View(Get(*pa, "qweight")), az = View(Get(*pa, "qzeros")), as = View(Get(*pa, "scales"));
  expect_error(UnpackAwqGemm("A", aw, az, as, 3, 32, 128, 16), "bits 3");
  expect_error(UnpackAwqGemm("A", aw, az, as, 4, 32, 128, 12), "out % 8");
  expect_error(UnpackAwqGemm("A", aw, az, as, 4, 32, 64, 16), "tensor 'A.qweight': expected shape [64, 2]");
  expect_error(UnpackAwqGemm("A", aw, az, as, 4, 64, 128, 16), "tensor 'A.qzeros': expected shape [2, 2]");
  expect_error(UnpackAwqGemm("A", aw, az, aw, 4, 32, 128, 16), "tensor 'A.scales': expected dtype f16, found i32");
  EXPECT_TRUE(UnpackAwqGemm("A", aw, az, as, 4, 32, 128, 16).ok());
}

TEST(GptqLayout, SymmetricRoundTripAndPlainGidxWhenAbsent) {
  const GroupQuantMatrix m = RandomMatrix(8, 16, 96, 32, false, 13, /*sym=*/true);
  auto p = PackGptq(m);
  ASSERT_TRUE(p.ok());
  auto back = UnpackGptq("L", View(Get(*p, "qweight")), View(Get(*p, "qzeros")), View(Get(*p, "scales")), nullptr, 8, 32,
                         true, 96, 16);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSame(m, *back);
}

}  // namespace
}  // namespace qforge::io
