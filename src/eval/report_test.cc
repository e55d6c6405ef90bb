#include "eval/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

namespace qforge::eval {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// A hand-made matrix: a baseline, a GPTQ row whose command and status need CSV quoting, a per-channel
// RTN row with a '|' in its id and no KLD, and a failed row.
json HandMatrix() {
  return json::parse(R"({
    "model": "models/tiny llama", "created_by": "qforge compare models/tiny --bits 4,3", "threads": 2,
    "calibration": {"files": [{"path": "data/c4.jsonl", "sha256": "ab12cd34ef56ab12cd34ef56", "bytes": 1000, "documents": 7}],
                    "samples": 128, "seqlen": 2048, "seed": 0, "stream_tokens": 500000, "tokens_used": 262144},
    "texts": [{"path": "data/wiki.test.raw", "sha256": "ffee"}],
    "rows": [
      {"id": "baseline", "method": "baseline", "bits": null, "group_size": null, "command": "qforge eval models/tiny",
       "status": "ok",
       "eval": {"quality": {"ppl": [{"text": "data/wiki.test.raw", "protocol": "llamacpp", "ppl": 9.75312, "stderr": 0.069281, "tokens": 1000}],
                            "kld": null},
                "speed": {"prompt_tokens": 512, "gen_tokens": 128, "reps": 3, "ttft_ms": 120.5, "tpot_ms": 126.58, "prefill_tps": 90.1, "decode_tps": 7.9},
                "size": {"weight_bytes": 2471645184, "linear_params": 100, "linear_bits_per_weight": 16, "total_params": 120,
                         "model_bits_per_weight": 16, "peak_rss_bytes": 2700000000},
                "tasks": [{"task": "arc_easy", "n": 2376, "acc": 0.6532, "acc_stderr": 0.0098, "acc_norm": 0.6, "acc_norm_stderr": 0.01}]},
       "quantize": null},
      {"id": "gptq-w4-g32", "method": "gptq", "bits": 4, "group_size": 32,
       "command": "qforge quantize models/tiny -o \"out dir\" --method gptq --calib a.txt,b.txt",
       "status": "ok",
       "eval": {"quality": {"ppl": [{"text": "data/wiki.test.raw", "protocol": "llamacpp", "ppl": 10.13741, "stderr": 0.07204, "tokens": 1000}],
                            "kld": {"mean": 0.0291, "median": 0.012, "p99": 0.32883, "max": 1.7, "top1_agreement": 0.92841,
                                    "dp_mean": -0.01, "dp_rms": 0.05, "tokens": 1000}},
                "speed": {"prompt_tokens": 512, "gen_tokens": 128, "reps": 3, "ttft_ms": 44.123, "tpot_ms": 54.95, "prefill_tps": 210.5, "decode_tps": 18.2},
                "size": {"weight_bytes": 1133660000, "linear_params": 100, "linear_bits_per_weight": 5.0, "total_params": 120,
                         "model_bits_per_weight": 7.339, "peak_rss_bytes": 1400000000},
                "tasks": []},
       "quantize": {"layer_error": [0.02, 0.05, 0.03], "total_error": 0.0351, "linears": [], "seconds": 612.5}},
      {"id": "rtn|w3", "method": "rtn", "bits": 3, "group_size": -1, "command": "qforge quantize models/tiny --method rtn",
       "status": "ok",
       "eval": {"quality": {"ppl": [{"text": "data/wiki.test.raw", "protocol": "llamacpp", "ppl": 19.4876, "stderr": 0.1384, "tokens": 1000}]},
                "speed": null, "size": {"weight_bytes": 920800000, "linear_bits_per_weight": 3.0}},
       "quantize": {"layer_error": [0.1, 0.2, 0.15], "total_error": 0.15, "seconds": 40}},
      {"id": "awq-w3-g128", "method": "awq", "bits": 3, "group_size": 128, "command": "qforge quantize models/tiny --method awq",
       "status": "failed: awq: out of memory, needed 6.2 GB", "eval": null, "quantize": null}
    ]})");
}

std::vector<std::string> Lines(const std::string& text, const std::string& sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = text.find(sep, pos);
    if (next == std::string::npos) next = text.size();
    out.push_back(text.substr(pos, next - pos));
    pos = next + sep.size();
  }
  return out;
}

// RFC 4180 fields of one record (no embedded newlines in these tests).
std::vector<std::string> CsvFields(const std::string& line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        f.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        f.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      f.emplace_back();
    } else {
      f.back() += c;
    }
  }
  return f;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(ReportMarkdown, ValuesWithStatedPrecision) {
  std::string md = RenderMatrixMarkdown(HandMatrix());
  EXPECT_THAT(md, HasSubstr("`models/tiny llama`"));
  EXPECT_THAT(md, HasSubstr("N = 128 samples × L = 2048 tokens, seed 0"));
  EXPECT_THAT(md, HasSubstr("`data/c4.jsonl` (sha256 `ab12cd34ef56ab12cd34ef56`, 1000 bytes, 7 documents)"));
  EXPECT_THAT(md, HasSubstr("| PPL wiki.test.raw/llamacpp | Δ% |"));
  // PPL and stderr 4 decimals, Δ% 2 decimals, KLD 5 decimals, top-1 percent 2 decimals, MB 2 decimals.
  EXPECT_THAT(md, HasSubstr("| 9.7531 ± 0.0693 | +0.00 |"));
  EXPECT_THAT(md, HasSubstr("| 10.1374 ± 0.0720 | +3.94 |"));
  EXPECT_THAT(md, HasSubstr("| 0.02910 | 0.32883 | 92.84 | 44.12 | 54.95 | 18.2 | 1400.00 |"));
  EXPECT_THAT(md, HasSubstr("| gptq-w4-g32 | gptq | 4 | 32 | 1133.66 | 5.000 |"));
  EXPECT_THAT(md, HasSubstr("| 65.32 ± 0.98 |"));  // arc_easy acc %
  // '|' in a cell is escaped; group -1 prints "channel"; missing values print "—".
  EXPECT_THAT(md, HasSubstr("| rtn\\|w3 | rtn | 3 | channel | 920.80 | 3.000 | 19.4876 ± 0.1384 | +99.81 | — | — |"));
  // The failed row: every measurement "—", the message in bold, and listed under "Failed rows".
  EXPECT_THAT(md, HasSubstr("| awq-w3-g128 | awq | 3 | 128 | — | — | — | — |"));
  EXPECT_THAT(md, HasSubstr("**failed: awq: out of memory, needed 6.2 GB** |"));
  EXPECT_THAT(md, HasSubstr("## Failed rows\n\n- `awq-w3-g128`: failed: awq: out of memory, needed 6.2 GB\n"));
  EXPECT_THAT(
      md, HasSubstr("- `gptq-w4-g32`: `qforge quantize models/tiny -o \"out dir\" --method gptq --calib a.txt,b.txt`"));
}

TEST(ReportMarkdown, NoBaselineHasNoDeltaColumn) {
  json m = HandMatrix();
  m["rows"].erase(m["rows"].begin());
  std::string md = RenderMatrixMarkdown(m);
  EXPECT_THAT(md, Not(HasSubstr("Δ%")));
  EXPECT_THAT(md, HasSubstr("| 10.1374 ± 0.0720 | 0.02910 |"));
}

TEST(ReportCsv, Rfc4180QuotingAndRawNumbers) {
  std::string csv = RenderMatrixCsv(HandMatrix());
  std::vector<std::string> lines = Lines(csv, "\r\n");
  ASSERT_EQ(lines.size(), 5u);  // header + 4 rows, every line CRLF-terminated
  EXPECT_EQ(csv.substr(csv.size() - 2), "\r\n");
  EXPECT_EQ(Count(csv, "\n"), Count(csv, "\r\n"));
  std::vector<std::string> head = CsvFields(lines[0]);
  for (const std::string& line : lines) EXPECT_EQ(CsvFields(line).size(), head.size()) << line;
  auto col = [&](const std::string& name) {
    auto it = std::find(head.begin(), head.end(), name);
    EXPECT_NE(it, head.end()) << name;
    return static_cast<size_t>(it - head.begin());
  };
  std::vector<std::string> gptq = CsvFields(lines[2]);
  EXPECT_EQ(gptq[col("id")], "gptq-w4-g32");
  EXPECT_EQ(gptq[col("ppl:wiki.test.raw/llamacpp")], "10.13741");
  EXPECT_EQ(gptq[col("ppl_stderr:wiki.test.raw/llamacpp")], "0.07204");
  EXPECT_EQ(gptq[col("weight_bytes")], "1133660000");
  EXPECT_EQ(gptq[col("kld_p99")], "0.32883");
  EXPECT_EQ(gptq[col("top1_agreement")], "0.92841");
  EXPECT_EQ(gptq[col("quant_seconds")], "612.5");
  EXPECT_EQ(gptq[col("command")], "qforge quantize models/tiny -o \"out dir\" --method gptq --calib a.txt,b.txt");
  // The raw text: quotes doubled and the field enclosed.
  EXPECT_THAT(csv,
              HasSubstr(",\"qforge quantize models/tiny -o \"\"out dir\"\" --method gptq --calib a.txt,b.txt\"\r\n"));
  EXPECT_THAT(csv, HasSubstr(",\"failed: awq: out of memory, needed 6.2 GB\","));
  // Missing values are empty fields.
  std::vector<std::string> base = CsvFields(lines[1]), failed = CsvFields(lines[4]);
  EXPECT_EQ(base[col("bits")], "");
  EXPECT_EQ(base[col("kld_mean")], "");
  EXPECT_EQ(failed[col("ppl:wiki.test.raw/llamacpp")], "");
  EXPECT_EQ(failed[col("decode_tps")], "");
  EXPECT_EQ(failed[col("acc:arc_easy")], "");
  EXPECT_EQ(base[col("acc:arc_easy")], "0.6532");
  EXPECT_EQ(CsvFields(lines[3])[col("group_size")], "-1");
}

// GGUF rows (compare's {"format": "gguf"} entries): the file type stands in the bits column, an
// importance matrix is named in the method, and the CSV carries format, type and imatrix.
TEST(ReportMatrix, GgufRowsShowTheirTypeAndImatrix) {
  json m = HandMatrix();
  json g = m["rows"][1];
  g["id"] = "gguf-q4_k_m-rtn-imatrix";
  g["method"] = "rtn";
  g.erase("bits");
  g.erase("group_size");
  g["format"] = "gguf";
  g["type"] = "Q4_K_M";
  g["imatrix"] = {{"path", "im dir/imatrix.gguf"}, {"sha256", "00ff"}};
  m["rows"].push_back(g);
  g["id"] = "gguf-q4_k_m-gptq";
  g["method"] = "gptq";
  g["imatrix"] = nullptr;
  m["rows"].push_back(g);
  const std::string md = RenderMatrixMarkdown(m);
  EXPECT_THAT(md, HasSubstr("| gguf-q4_k_m-rtn-imatrix | rtn+imatrix | Q4_K_M | — | 1133.66 |"));
  EXPECT_THAT(md, HasSubstr("| gguf-q4_k_m-gptq | gptq | Q4_K_M | — | 1133.66 |"));
  const std::vector<std::string> lines = Lines(RenderMatrixCsv(m), "\r\n");
  ASSERT_EQ(lines.size(), 7u);
  const std::vector<std::string> head = CsvFields(lines[0]);
  auto col = [&](const std::string& name) { return static_cast<size_t>(std::find(head.begin(), head.end(), name) - head.begin()); };
  ASSERT_LT(col("imatrix"), head.size());
  const std::vector<std::string> im = CsvFields(lines[5]), gptq = CsvFields(lines[6]), ck = CsvFields(lines[2]);
  EXPECT_EQ(im[col("format")], "gguf");
  EXPECT_EQ(im[col("type")], "Q4_K_M");
  EXPECT_EQ(im[col("imatrix")], "im dir/imatrix.gguf");
  EXPECT_EQ(im[col("bits")], "");
  EXPECT_EQ(gptq[col("imatrix")], "");
  EXPECT_EQ(ck[col("format")], "");
  EXPECT_EQ(ck[col("bits")], "4");
  const std::string html = RenderReportHtml(m);
  EXPECT_THAT(html, HasSubstr("rtn+imatrix"));
}

TEST(ReportHtml, EscapesEverythingFromJson) {
  json m = HandMatrix();
  m["model"] = "models/<script>alert(1)</script>";
  m["created_by"] = "qforge compare \"a\" & 'b' <img src=x onerror=alert(2)>";
  m["rows"][1]["id"] = "<b>bold</b>";
  m["rows"][1]["command"] = "x\" onmouseover=\"alert(3)";
  m["texts"][0]["path"] = "</script><script>alert(4)</script>";
  std::string html = RenderReportHtml(m);
  EXPECT_THAT(html, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<b>bold")));
  EXPECT_THAT(html, Not(HasSubstr("\" onmouseover=\"")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("qforge compare &quot;a&quot; &amp; &#39;b&#39; &lt;img src=x onerror=alert(2)&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;bold&lt;/b&gt;"));
  EXPECT_EQ(Count(html, "<script"), 2u);  // the page's own two inline scripts, nothing else
  EXPECT_EQ(Count(html, "</script>"), 2u);
}

TEST(ReportHtml, DeterministicAndSelfContained) {
  json m = HandMatrix();
  std::string a = RenderReportHtml(m), b = RenderReportHtml(json::parse(m.dump()));
  EXPECT_EQ(a, b);
  EXPECT_THAT(a, Not(HasSubstr("http://")));
  EXPECT_THAT(a, Not(HasSubstr("https://")));
  EXPECT_FALSE(std::regex_search(a, std::regex(R"((src|href)\s*=\s*["']?\s*(https?:)?//)", std::regex::icase)));
  EXPECT_THAT(a, Not(HasSubstr("<link")));
  EXPECT_THAT(a, Not(HasSubstr("@import")));
  EXPECT_THAT(a, Not(HasSubstr("url(")));
  EXPECT_THAT(a, Not(HasSubstr("<script src")));
}

TEST(ReportHtml, TableAndPlots) {
  std::string html = RenderReportHtml(HandMatrix());
  EXPECT_EQ(Count(html, "<tr data-i="), 4u);
  for (const char* id : {"id=\"matrix\"", "id=\"plot-ppl-bpw\"", "id=\"plot-kld-bpw\"", "id=\"plot-speed-size\"",
                         "id=\"plot-layer-error\"", "id=\"commands\"", "id=\"calibration-files\""}) {
    EXPECT_THAT(html, HasSubstr(id));
  }
  EXPECT_THAT(html, HasSubstr("class=\"sortable\""));
  EXPECT_THAT(html, HasSubstr("data-v=\"10.13741\""));  // sort keys carry the unrounded value
  EXPECT_THAT(html, HasSubstr(">10.1374<span class=\"pm\">±0.0720</span>"));
  EXPECT_THAT(html, HasSubstr("failed: awq: out of memory, needed 6.2 GB"));
  EXPECT_THAT(html, HasSubstr("document.body.dataset.ok='1'"));
  EXPECT_THAT(html, HasSubstr("window.onerror"));
  // Three points in the quality plot (the failed row has none): one <g class="pt"> each.
  size_t begin = html.find("id=\"plot-ppl-bpw\""), end = html.find("</svg>", begin);
  EXPECT_EQ(Count(html.substr(begin, end - begin), "<g class=\"pt\""), 3u);
  // Two layer-error lines.
  begin = html.find("id=\"plot-layer-error\"");
  end = html.find("</svg>", begin);
  EXPECT_EQ(Count(html.substr(begin, end - begin), "<g class=\"ln\""), 2u);
  // The KLD option puts KLD on the main quality plot and drops the second one.
  ReportOptions kld;
  kld.quality_metric = ReportQualityMetric::kKldMean;
  std::string k = RenderReportHtml(HandMatrix(), kld);
  EXPECT_THAT(k, HasSubstr("<title>mean KL divergence to the baseline vs bits per weight</title>"));
  EXPECT_THAT(k, Not(HasSubstr("plot-kld-bpw")));
}

TEST(ReportHtml, ParetoRowsAreMarked) {
  // baseline (16, 9.75), gptq (5, 10.14), rtn (3, 19.49): all three are on the front.
  std::string html = RenderReportHtml(HandMatrix());
  EXPECT_EQ(Count(html, "<span class=\"badge\" title="), 3u);
  json m = HandMatrix();
  m["rows"][2]["eval"]["size"]["linear_bits_per_weight"] = 6.0;  // now dominated by gptq (5, 10.14)
  EXPECT_EQ(Count(RenderReportHtml(m), "<span class=\"badge\" title="), 2u);
}

TEST(ReportHtml, SingleRowNullPartsAndNonFinite) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  json m = {
      {"model", "m"},
      {"rows",
       {{{"id", "only"},
         {"method", "rtn"},
         {"bits", 4},
         {"status", "ok"},
         {"eval",
          {{"quality",
            {{"ppl", {{{"text", "t"}, {"protocol", "windows"}, {"ppl", nan}, {"stderr", inf}}}}, {"kld", nullptr}}},
           {"speed", {{"decode_tps", inf}, {"ttft_ms", -inf}}},
           {"size", {{"weight_bytes", 1e6}, {"linear_bits_per_weight", nan}}},
           {"tasks", nullptr}}},
         {"quantize", {{"layer_error", {0.1, nan, inf, 0.2}}, {"total_error", nan}}}}}}};
  std::string html = RenderReportHtml(m), md = RenderMatrixMarkdown(m), csv = RenderMatrixCsv(m);
  EXPECT_FALSE(std::regex_search(html, std::regex(R"(\b(nan|inf|infinity)\b)", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(md, std::regex(R"(\b(nan|inf|infinity)\b)", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(csv, std::regex(R"(\b(nan|inf|infinity|null)\b)", std::regex::icase)));
  EXPECT_EQ(Count(html, "<tr data-i="), 1u);
  EXPECT_THAT(html, HasSubstr("no perplexity to plot"));
  EXPECT_THAT(html, HasSubstr("no speed to plot"));
  EXPECT_THAT(html, HasSubstr("Calibration</dt><dd>—"));
  EXPECT_THAT(md, HasSubstr("| only | rtn | 4 | — | 1.00 | — | — | — | — | — | — | — | — | — | — | ok |"));
  // The layer line skips the missing layers: two points (+ the legend's marker), two separate segments.
  size_t begin = html.find("<g class=\"ln\""), end = html.find("</g>", begin);
  std::string layer = html.substr(begin, end - begin);
  EXPECT_EQ(Count(layer, "<circle"), 2u);
  EXPECT_EQ(Count(layer, "M"), 2u);
  EXPECT_EQ(Count(layer, "d=\"M"), 1u);
}

TEST(ReportHtml, WrongShapesNeverThrow) {
  for (
      const char* text :
      {"null", "[]", "42", "{}", R"({"rows": "x"})", R"({"rows": [1, "a", null, []]})",
       R"({"rows": [{"eval": 3, "quantize": {"layer_error": "x"}, "bits": "4"}]})",
       R"({"calibration": [], "texts": {}, "model": 3, "rows": [{"eval": {"quality": {"ppl": [3, {"ppl": "x"}]}}}]})"}) {
    json m = json::parse(text);
    EXPECT_NO_THROW({
      std::string h = RenderReportHtml(m);
      EXPECT_THAT(h, HasSubstr("id=\"plot-layer-error\""));
      RenderMatrixMarkdown(m);
      RenderMatrixCsv(m);
    }) << text;
  }
}

TEST(ReportHtml, SampleMatrixRenders) {
  std::filesystem::path sample = std::filesystem::path(__FILE__).parent_path() / "testdata" / "report_matrix.json";
  std::ifstream in(sample);
  ASSERT_TRUE(in) << sample;
  json m = json::parse(in);
  std::string html = RenderReportHtml(m);
  EXPECT_EQ(Count(html, "<tr data-i="), m["rows"].size());
  EXPECT_EQ(html, RenderReportHtml(m));
  EXPECT_THAT(html, Not(HasSubstr("http")));
}

TEST(ParetoFront, HandMadeSet) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::pair<double, double>> pts = {
      {16, 9.75},     // 0 baseline: lowest PPL -> on the front
      {8.25, 9.76},   // 1 on
      {4.25, 11.04},  // 2 dominated by 7
      {4.25, 10.32},  // 3 dominated by 7
      {5.0, 10.14},   // 4 on
      {3.25, 19.49},  // 5 dominated by 6 (same x, higher y)
      {3.25, 12.9},   // 6 on (fewest bits)
      {4.25, 10.21},  // 7 on
      {nan, 1.0},     // 8 ignored
      {5.0, 10.14},   // 9 duplicate of 4: kept
      {6.0, 10.5},    // 10 dominated by 4
      {20, 9.75},     // 11 same y as 0 at more bits: dominated
  };
  EXPECT_THAT(ParetoFront(pts), ::testing::ElementsAre(6, 7, 4, 9, 1, 0));
}

TEST(ParetoFront, EdgeCases) {
  EXPECT_TRUE(ParetoFront({}).empty());
  std::vector<std::pair<double, double>> one = {{4, 10}};
  EXPECT_THAT(ParetoFront(one), ::testing::ElementsAre(0));
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::pair<double, double>> bad = {{inf, 1}, {1, -inf}, {2, 2}};
  EXPECT_THAT(ParetoFront(bad), ::testing::ElementsAre(2));
  // A strictly decreasing curve is entirely on the front; a rising one keeps only its first point.
  std::vector<std::pair<double, double>> curve = {{4, 1}, {1, 4}, {3, 2}, {2, 3}};
  EXPECT_THAT(ParetoFront(curve), ::testing::ElementsAre(1, 3, 2, 0));
  std::vector<std::pair<double, double>> rising = {{1, 1}, {2, 2}, {3, 3}};
  EXPECT_THAT(ParetoFront(rising), ::testing::ElementsAre(0));
}

}  // namespace
}  // namespace qforge::eval
