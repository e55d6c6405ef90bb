// qforge_render_report MATRIX.json OUT_DIR [--kld]
// Renders report.html, matrix.md and matrix.csv from a matrix JSON written by `qforge compare`
// (development tool and the input side of the browser test, src/eval/report_browser_test.sh).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "eval/report.h"

namespace {

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) std::cerr << "qforge_render_report: cannot write " << path << "\n";
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4 || (argc == 4 && std::string(argv[3]) != "--kld")) {
    std::cerr << "usage: qforge_render_report MATRIX.json OUT_DIR [--kld]\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "qforge_render_report: cannot read " << argv[1] << "\n";
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json matrix = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (matrix.is_discarded()) {
    std::cerr << "qforge_render_report: " << argv[1] << " is not valid JSON\n";
    return 2;
  }
  qforge::eval::ReportOptions options;
  if (argc == 4) options.quality_metric = qforge::eval::ReportQualityMetric::kKldMean;
  const std::string dir = argv[2];
  bool ok = WriteFile(dir + "/report.html", qforge::eval::RenderReportHtml(matrix, options)) &&
            WriteFile(dir + "/matrix.md", qforge::eval::RenderMatrixMarkdown(matrix)) &&
            WriteFile(dir + "/matrix.csv", qforge::eval::RenderMatrixCsv(matrix));
  return ok ? 0 : 1;
}
