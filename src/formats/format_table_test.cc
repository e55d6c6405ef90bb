// Table-wide format suite: every entry of kDTypeTable and every DefaultSchemes() scheme goes
// through the same checks, so a format appended to the table is covered without touching this
// file (except for its SQNR band, which the test demands: a missing band fails).
//
// Per scheme: shape round trip, StorageBytes equal to an independent formula, finite dequantized
// values, determinism (twice, and 1 vs 3 threads, bit for bit), measured vs nominal bits per
// weight, and a minimum SQNR on a seeded gaussian. A family that returns "not implemented yet"
// FAILS here (it does not skip).
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/random.h"
#include "formats/packing.h"
#include "formats/quantized_tensor.h"

namespace qforge::formats {
namespace {

constexpr int64_t kRows = 256, kCols = 1024;

// Minimum SQNR (dB) on MakeSynthetic(kGaussian, 256, 1024, seed 1) (std 0.02), for the schemes of
// DefaultSchemes(128). Measured values (this implementation, 2026-11) in the comments; each band is
// about 0.5 dB below. Rules of thumb they follow: ~6 dB per integer bit; groups > channel > tensor;
// asym > sym at the same group; f16 ~ 74 dB (11-bit significand), bf16 ~ 56 dB (8-bit).
const std::map<std::string, double>& SqnrBands() {
  static const std::map<std::string, double> bands = {
      {"f16", 73.0},                  // 73.67
      {"bf16", 55.0},                 // 55.64
      {"fp8_e4m3:tensor", 31.0},      // 31.56
      {"fp8_e4m3:channel", 31.0},     // 31.59
      {"fp8_e4m3:g128", 31.3},        // 31.80
      {"fp8_e5m2:tensor", 25.0},      // 25.58
      {"fp8_e5m2:channel", 25.0},     // 25.54
      {"fp8_e5m2:g128", 25.1},        // 25.62
      {"fp4_e2m1:tensor", 16.9},      // 17.39
      {"fp4_e2m1:channel", 18.2},     // 18.75
      {"fp4_e2m1:g128", 18.7},        // 19.23
      {"int2:tensor:sym", 0.0},       // 0.18 (3 levels: most weights round to 0)
      {"int2:channel:sym", 0.8},      // 1.23
      {"int2:g128:sym", 1.8},         // 2.32
      {"int2:g128:asym", 5.5},        // 5.98
      {"int3:tensor:sym", 5.9},       // 6.39
      {"int3:channel:sym", 9.0},      // 9.55
      {"int3:g128:sym", 10.8},        // 11.27
      {"int3:g128:asym", 12.8},       // 13.33
      {"int4:tensor:sym", 13.2},      // 13.75
      {"int4:channel:sym", 16.4},     // 16.89
      {"int4:g128:sym", 18.1},        // 18.63
      {"int4:g128:asym", 19.5},       // 19.97
      {"int5:tensor:sym", 19.8},      // 20.36
      {"int5:channel:sym", 23.0},     // 23.53
      {"int5:g128:sym", 24.7},        // 25.26
      {"int5:g128:asym", 25.7},       // 26.27
      {"int6:tensor:sym", 26.1},      // 26.68
      {"int6:channel:sym", 29.3},     // 29.84
      {"int6:g128:sym", 31.0},        // 31.55
      {"int6:g128:asym", 31.9},       // 32.43
      {"int7:tensor:sym", 32.3},      // 32.82
      {"int7:channel:sym", 35.4},     // 35.99
      {"int7:g128:sym", 37.2},        // 37.72
      {"int7:g128:asym", 38.0},       // 38.52
      {"int8:tensor:sym", 38.4},      // 38.92
      {"int8:channel:sym", 41.5},     // 42.07
      {"int8:g128:sym", 43.3},        // 43.80
      {"int8:g128:asym", 44.0},       // 44.55
      {"nf4", 20.2},                  // 20.72
      {"nf4:dq", 20.2},               // 20.72
      {"fp4_bnb", 17.7},              // 18.27
      {"fp4_bnb:dq", 17.7},           // 18.27
      {"mxfp4", 18.3},                // 18.86
      {"nvfp4", 19.9},                // 20.44
  };
  return bands;
}

// Independent size formula (bytes), from the scheme and the table only.
int64_t ExpectedBytes(const QuantScheme& s, int64_t rows, int64_t cols) {
  const DTypeInfo& info = Info(s.format);
  int64_t n_scales = 0;
  switch (s.granularity) {
    case Granularity::kNone: n_scales = 0; break;
    case Granularity::kTensor: n_scales = 1; break;
    case Granularity::kChannel: n_scales = rows; break;
    case Granularity::kGroup:
    case Granularity::kBlock: n_scales = rows * ((cols + s.group_size - 1) / s.group_size); break;
  }
  int64_t bytes = rows * ((cols * info.bits + 7) / 8);
  if (s.double_quant) {
    bytes += n_scales + 4 * ((n_scales + 255) / 256) + 4;  // 8-bit codes, FP32 per 256, FP32 offset
  } else {
    bytes += n_scales * ScaleBits(s.scale_type) / 8;
  }
  if (info.kind == FormatKind::kIntGrid && !s.symmetric) bytes += (n_scales * info.bits + 7) / 8;
  if (info.tensor_scale) bytes += 4;
  return bytes;
}

double Sqnr(const std::vector<float>& x, const std::vector<float>& y) {
  double sig = 0, err = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sig += static_cast<double>(x[i]) * x[i];
    const double d = static_cast<double>(x[i]) - y[i];
    err += d * d;
  }
  return err == 0 ? INFINITY : 10.0 * std::log10(sig / err);
}

// Every scheme under test: DefaultSchemes(128), each quantizable format's Default(), and variants
// with a group that does not divide the row (tails) and the clip search.
std::vector<QuantScheme> SchemesUnderTest() {
  std::vector<QuantScheme> out = DefaultSchemes(128);
  for (const DTypeInfo& info : kDTypeTable) {
    const QuantScheme d = QuantScheme::Default(info.id);
    if (!Validate(d).ok()) continue;
    out.push_back(d);
    if (info.kind == FormatKind::kIntGrid || info.kind == FormatKind::kFloat) {
      QuantScheme t = d;
      t.granularity = Granularity::kGroup;
      t.group_size = 100;  // 1024 = 10 * 100 + a 24-element tail
      t.clip_search = true;
      out.push_back(t);
    }
  }
  return out;
}

TEST(FormatTable, EveryEntryIsQuantizableOrRejectedWithAMessage) {
  for (const DTypeInfo& info : kDTypeTable) {
    EXPECT_EQ(Info(info.id).name, info.name);
    EXPECT_EQ(DTypeFromName(info.name), info.id);
    const Status st = Validate(QuantScheme::Default(info.id));
    if (!st.ok()) {
      EXPECT_FALSE(st.error().message.empty()) << info.name;
      // Only plain storage types other than f32/f16/bf16 and scale-only formats are rejected.
      EXPECT_TRUE(info.kind == FormatKind::kStorage || info.kind == FormatKind::kScaleOnly) << info.name;
      std::vector<float> v(4, 1.0f);
      EXPECT_FALSE(Quantize(MatrixF32{v.data(), 2, 2, 2}, QuantScheme::Default(info.id)).ok()) << info.name;
    }
  }
}

TEST(FormatTable, EverySchemeRoundTripsDeterministicallyAndMeetsItsBand) {
  const TensorF32 w = MakeSynthetic(SyntheticKind::kGaussian, kRows, kCols, 1);
  ThreadPool pool3(3);
  const auto& bands = SqnrBands();
  const std::vector<QuantScheme> defaults = DefaultSchemes(128);
  for (const QuantScheme& s : SchemesUnderTest()) {
    SCOPED_TRACE(s.Name());
    auto qr = Quantize(w.matrix(), s);
    ASSERT_TRUE(qr.ok()) << qr.error().message;  // "not implemented yet" fails here
    const QuantizedTensor& q = *qr;
    EXPECT_EQ(q.scheme, s);
    EXPECT_EQ(q.rows, kRows);
    EXPECT_EQ(q.cols, kCols);
    EXPECT_EQ(q.RowBytes(), PackedBytes(kCols, Info(s.format).bits));
    EXPECT_EQ(q.StorageBytes(), ExpectedBytes(s, kRows, kCols));
    // Measured bits/weight: the nominal figure plus at most the per-row / per-tensor scale
    // overhead that the nominal figure amortises away (16-bit scale per 1024-element row, or the
    // dq / tensor-scale constants).
    const double nominal = NominalBitsPerWeight(s);
    EXPECT_GE(q.BitsPerWeight(), nominal - 1e-9);
    EXPECT_LE(q.BitsPerWeight(), nominal + 32.0 / kCols + 1e-3);

    TensorF32 y(Shape{kRows, kCols});
    Dequantize(q, y.mutable_matrix());
    for (size_t i = 0; i < y.values.size(); ++i) ASSERT_TRUE(std::isfinite(y.values[i])) << i;

    // Deterministic, and bit-identical with 3 threads.
    const QuantizedTensor again = *Quantize(w.matrix(), s);
    EXPECT_EQ(again.codes, q.codes);
    EXPECT_EQ(again.scales, q.scales);
    const QuantizedTensor q3 = *Quantize(w.matrix(), s, &pool3);
    EXPECT_EQ(q3.codes, q.codes);
    EXPECT_EQ(q3.scales, q.scales);
    EXPECT_EQ(q3.zeros, q.zeros);
    EXPECT_EQ(q3.dq_codes, q.dq_codes);
    EXPECT_EQ(q3.dq_scales, q.dq_scales);
    EXPECT_EQ(q3.tensor_scale, q.tensor_scale);
    TensorF32 y3(Shape{kRows, kCols});
    Dequantize(q3, y3.mutable_matrix(), &pool3);
    EXPECT_EQ(y3.values, y.values);

    // FakeQuantize is Quantize + Dequantize.
    EXPECT_EQ(FakeQuantize(w.matrix(), s, &pool3)->values, y.values);

    const double sqnr = Sqnr(w.values, y.values);
    bool is_default = false;
    for (const QuantScheme& d : defaults) is_default |= d == s;
    if (is_default) {
      auto band = bands.find(s.Name());
      ASSERT_NE(band, bands.end()) << "no SQNR band for " << s.Name() << " (measured " << sqnr << " dB): add one";
      EXPECT_GE(sqnr, band->second) << "measured " << sqnr << " dB";
    } else {
      EXPECT_GT(sqnr, 0.0);
    }
  }
}

// Orderings that any sane implementation satisfies, measured rather than nominal.
TEST(FormatTable, BitsAndErrorOrdering) {
  const TensorF32 w = MakeSynthetic(SyntheticKind::kGaussian, 64, 1024, 2);
  auto measure = [&](const char* text, double* bpw) {
    const QuantScheme s = *QuantScheme::Parse(text);
    const QuantizedTensor q = *Quantize(w.matrix(), s);
    TensorF32 y(Shape{64, 1024});
    Dequantize(q, y.mutable_matrix());
    *bpw = q.BitsPerWeight();
    return Sqnr(w.values, y.values);
  };
  double prev_bpw = 0, prev_sqnr = -1e9;
  for (const char* t : {"int2:g128", "int3:g128", "int4:g128", "int5:g128", "int6:g128", "int7:g128", "int8:g128",
                        "bf16", "f16"}) {
    double bpw;
    const double sqnr = measure(t, &bpw);
    if (std::string(t) == "f16") {
      EXPECT_EQ(bpw, prev_bpw) << t;  // same 16 bits as bf16, 3 more significand bits
    } else {
      EXPECT_GT(bpw, prev_bpw) << t;
    }
    EXPECT_GT(sqnr, prev_sqnr + 4.0) << t << ": each extra bit should buy ~6 dB";
    prev_bpw = bpw;
    prev_sqnr = sqnr;
  }
  for (const char* f : {"int3", "int4", "int8", "fp8_e4m3", "fp4_e2m1"}) {
    double b_t, b_c, b_g;
    const double s_t = measure((std::string(f) + ":tensor").c_str(), &b_t);
    const double s_c = measure((std::string(f) + ":channel").c_str(), &b_c);
    const double s_g = measure((std::string(f) + ":g32").c_str(), &b_g);
    EXPECT_LT(b_t, b_c) << f;
    EXPECT_LT(b_c, b_g) << f;
    EXPECT_LE(s_t, s_c + 0.1) << f;  // finer scales never lose (within noise) on gaussian data
    EXPECT_LT(s_c, s_g) << f;
  }
  double b_sym, b_asym;
  const double s_sym = measure("int4:g64", &b_sym), s_asym = measure("int4:g64:asym", &b_asym);
  EXPECT_LT(b_sym, b_asym);
  EXPECT_LT(s_sym, s_asym);
  double b_nf4, b_dq;
  measure("nf4", &b_nf4);
  measure("nf4:dq", &b_dq);
  EXPECT_LT(b_dq, b_nf4);
}

}  // namespace
}  // namespace qforge::formats
