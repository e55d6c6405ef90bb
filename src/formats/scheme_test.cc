// QuantScheme text form (Parse / Name), validation and nominal bits per weight.
#include "formats/scheme.h"

#include <string>

#include <gtest/gtest.h>

namespace qforge::formats {
namespace {

TEST(Scheme, DefaultSchemesRoundTripThroughText) {
  for (int64_t g : {32, 64, 128, 100}) {
    const auto schemes = DefaultSchemes(g);
    ASSERT_FALSE(schemes.empty());
    for (const QuantScheme& s : schemes) {
      ASSERT_TRUE(Validate(s).ok()) << s.Name();
      auto back = QuantScheme::Parse(s.Name());
      ASSERT_TRUE(back.ok()) << s.Name() << ": " << back.error().message;
      EXPECT_EQ(*back, s) << s.Name();
      EXPECT_EQ(back->Name(), s.Name());
    }
  }
}

TEST(Scheme, DefaultSchemesCoverEveryQuantizableFormat) {
  const auto schemes = DefaultSchemes(128);
  for (const DTypeInfo& info : kDTypeTable) {
    const bool quantizable = Validate(QuantScheme::Default(info.id)).ok();
    bool listed = false;
    for (const QuantScheme& s : schemes) listed |= s.format == info.id;
    // f32 is the identity cast: quantizable, but not worth comparing by default.
    if (info.id != DType::kF32) {
      EXPECT_EQ(listed, quantizable) << info.name;
    }
  }
}

TEST(Scheme, ParsesEdgeCases) {
  struct Case {
    const char* text;
    const char* name;  // canonical Name()
  };
  const Case cases[] = {
      {"int4", "int4:channel:sym"},
      {"int4:g128", "int4:g128:sym"},
      {"int4:g128:asym", "int4:g128:asym"},
      {"int4:asym:g128", "int4:g128:asym"},  // options in any order
      {"int3:g64:sym:clip", "int3:g64:sym:clip"},
      {"int8:tensor", "int8:tensor:sym"},
      {"int8:g1", "int8:g1:sym"},
      {"int2:g7:asym:scale=bf16", "int2:g7:asym:scale=bf16"},
      {"int6:channel:scale=f32", "int6:channel:sym:scale=f32"},
      {"int4:g32:scale=f16", "int4:g32:sym"},  // f16 is the default and not spelled out
      {"int4:g32:g64", "int4:g64:sym"},        // the last granularity wins
      {"fp8_e4m3:channel", "fp8_e4m3:channel"},
      {"fp4_e2m1:g32:clip", "fp4_e2m1:g32:clip"},
      {"nf4", "nf4"},
      {"nf4:dq", "nf4:dq"},
      {"fp4_bnb:dq", "fp4_bnb:dq"},
      {"mxfp4", "mxfp4"},
      {"nvfp4", "nvfp4"},
      {"f16", "f16"},
      {"bf16", "bf16"},
      {"f32", "f32"},
  };
  for (const Case& c : cases) {
    auto s = QuantScheme::Parse(c.text);
    ASSERT_TRUE(s.ok()) << c.text << ": " << s.error().message;
    EXPECT_EQ(s->Name(), c.name) << c.text;
    EXPECT_EQ(*QuantScheme::Parse(s->Name()), *s) << c.text;
  }
  auto g = *QuantScheme::Parse("int4:g100:asym:clip:scale=bf16");
  EXPECT_EQ(g.format, DType::kInt4);
  EXPECT_EQ(g.granularity, Granularity::kGroup);
  EXPECT_EQ(g.group_size, 100);
  EXPECT_FALSE(g.symmetric);
  EXPECT_TRUE(g.clip_search);
  EXPECT_EQ(g.scale_type, ScaleType::kBF16);
  EXPECT_EQ(g.GroupsPerRow(1000), 10);
  EXPECT_EQ(g.GroupsPerRow(1001), 11);  // a shorter tail group
  EXPECT_EQ(g.GroupsPerRow(0), 0);
}

TEST(Scheme, RejectsBadTextWithAMessage) {
  struct Case {
    const char* text;
    const char* says;  // a fragment the message must contain
  };
  const Case cases[] = {
      {"", "unknown format ''"},
      {"int9", "unknown format 'int9'"},
      {"INT4", "unknown format 'INT4'"},
      {"int4:", "unknown option ''"},
      {"int4::sym", "unknown option ''"},
      {"int4:g0", "bad group size 'g0'"},
      {"int4:g-4", "bad group size 'g-4'"},
      {"int4:gx", "bad group size 'gx'"},
      {"int4:g12x", "bad group size 'g12x'"},
      {"int4:g99999999999999999999", "bad group size"},
      {"int4:block", "unknown option 'block'"},
      {"int4:dq", "double quantization"},
      {"int4:scale=e8m0", "unknown option 'scale=e8m0'"},
      {"fp8_e4m3:asym", "asymmetric"},
      {"nf4:g32", "fixed 64-element blocks"},
      {"nf4:clip", "does not take :clip"},
      {"mxfp4:dq", "double quantization"},
      {"mxfp4:scale=f16", "fixed 32-element blocks"},
      {"nvfp4:asym", "symmetric by definition"},
      {"e8m0", "scale format"},
      {"i8", "storage type"},
      {"f16:channel", "plain cast"},
  };
  for (const Case& c : cases) {
    auto s = QuantScheme::Parse(c.text);
    ASSERT_FALSE(s.ok()) << "accepted '" << c.text << "' as " << s->Name();
    const std::string& m = s.error().message;
    EXPECT_NE(m.find(c.says), std::string::npos) << c.text << " -> " << m;
    EXPECT_NE(m.find("bad quantization scheme"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
  }
}

TEST(Scheme, NominalBitsPerWeight) {
  auto bpw = [](const char* t) { return NominalBitsPerWeight(*QuantScheme::Parse(t)); };
  EXPECT_DOUBLE_EQ(bpw("int4:g128"), 4.125);         // 4 + 16/128
  EXPECT_DOUBLE_EQ(bpw("int4:g128:asym"), 4.15625);  // + 4-bit zero point / 128
  EXPECT_DOUBLE_EQ(bpw("int4:g128:scale=f32"), 4.25);
  EXPECT_DOUBLE_EQ(bpw("int3:g64:asym"), 3.0 + 16.0 / 64 + 3.0 / 64);
  EXPECT_DOUBLE_EQ(bpw("int8:channel"), 8.0);
  EXPECT_DOUBLE_EQ(bpw("nf4"), 4.5);                 // 4 + 32/64 (QLoRA)
  EXPECT_NEAR(bpw("nf4:dq"), 4.127, 0.0005);         // 4 + 8/64 + 32/(64*256) = 4.1270 (QLoRA paper)
  EXPECT_DOUBLE_EQ(bpw("mxfp4"), 4.25);              // 4 + 8/32 (OCP MX v1.0)
  EXPECT_DOUBLE_EQ(bpw("nvfp4"), 4.5);               // 4 + 8/16 (tensor scale amortised)
  EXPECT_DOUBLE_EQ(bpw("f16"), 16.0);
  EXPECT_DOUBLE_EQ(bpw("fp8_e4m3:g32"), 8.5);
}

}  // namespace
}  // namespace qforge::formats
