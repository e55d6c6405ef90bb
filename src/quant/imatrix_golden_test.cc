// `qforge imatrix` on stories260K (../shared): the file llama-quantize would read, with the properties
// llama-imatrix's files have — q/k/v (and gate/up) entries equal because they read the same input,
// counts = segments x tokens, sums non-negative — the same bytes for any thread count, and a round trip
// through ReadImatrix giving sum / count. The GGUF export then quantizes differently with it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "quant/gguf_export.h"
#include "quant/imatrix.h"
#include "testing/shared_data.h"

namespace qforge::quant {
namespace {

namespace fs = std::filesystem;

TEST(ImatrixGolden, Stories260KImatrixRoundTripsAndIsThreadInvariant) {
  const fs::path dir = fs::temp_directory_path() / ("qforge_imatrix_golden_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  CalibrationOptions c;
  c.files = {testing::SharedPath("data/tinystories/tinystories_valid_fragment.txt")};
  c.samples = 6;
  c.seqlen = 48;
  c.seed = 3;
  const fs::path gguf = testing::SharedPath("models/stories260K/stories260K.gguf");
  ThreadPool one(1), three(3);
  auto a = ComputeImatrix(gguf, c, one);
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto b = ComputeImatrix(testing::SharedPath("models/stories260K/hf"), c, three);
  ASSERT_TRUE(b.ok()) << b.error().message;
  ASSERT_EQ(a->entries.size(), 5u * 7u);  // 5 layers x 7 linears
  for (const auto& [name, e] : a->entries) {
    EXPECT_EQ(e.count, 6 * 48) << name;
    for (double v : e.sum2) EXPECT_GE(v, 0.0) << name;
  }
  EXPECT_EQ(a->entries.at("blk.2.attn_q.weight").sum2, a->entries.at("blk.2.attn_v.weight").sum2);
  EXPECT_EQ(a->entries.at("blk.2.ffn_gate.weight").sum2, a->entries.at("blk.2.ffn_up.weight").sum2);
  EXPECT_EQ(a->entries.at("blk.4.ffn_down.weight").sum2.size(), 172u);
  // The GGUF and HF forms of the model are the same function: the sums agree closely (the two loads
  // differ only in the order of q/k rows, which changes f32 rounding).
  for (const auto& [name, e] : a->entries) {
    const auto& f = b->entries.at(name);
    for (size_t j = 0; j < e.sum2.size(); ++j) EXPECT_NEAR(e.sum2[j], f.sum2[j], 1e-4 * (1 + e.sum2[j])) << name;
  }
  auto a3 = ComputeImatrix(gguf, c, three);
  ASSERT_TRUE(a3.ok());
  ASSERT_TRUE(WriteImatrixGguf(*a, dir / "a.gguf").ok());
  ASSERT_TRUE(WriteImatrixGguf(*a3, dir / "a3.gguf").ok());
  auto read = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(read(dir / "a.gguf"), read(dir / "a3.gguf"));
  auto m = ReadImatrix(dir / "a.gguf");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_FALSE(m->legacy);
  EXPECT_EQ(m->chunk_count, 6);
  EXPECT_EQ(m->chunk_size, 48);
  ASSERT_EQ(m->entries.size(), a->entries.size());
  for (const auto& [name, e] : a->entries) {
    const std::vector<float>& v = m->entries.at(name);
    for (size_t j = 0; j < v.size(); ++j) {
      EXPECT_EQ(v[j], static_cast<float>(e.sum2[j]) / static_cast<float>(e.count)) << name;
    }
  }
  // Quantizing with it changes the weighted types' bytes (Q4_0 has an imatrix path).
  GgufExportOptions o;
  o.type = "Q4_0";
  ASSERT_TRUE(ExportGguf(gguf, dir / "plain.gguf", o, one).ok());
  o.imatrix = m->entries;
  ASSERT_TRUE(ExportGguf(gguf, dir / "weighted.gguf", o, one).ok());
  EXPECT_NE(read(dir / "plain.gguf"), read(dir / "weighted.gguf"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qforge::quant
