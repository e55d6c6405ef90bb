// Renderers of the tradeoff matrix that `qforge compare` writes: matrix.md, matrix.csv and a
// self-contained report.html (inline CSS, a small inline vanilla script, plots as inline SVG drawn
// here; no network reference of any kind).
//
// Input: the matrix JSON of `qforge compare` (see README "compare"):
//   {"model", "created_by", "threads", "calibration": {...} | null, "texts": [{"path", "sha256"}],
//    "rows": [{"id", "method", "bits", "group_size", "command", "status",
//              "eval": {"quality": {"ppl": [{"text", "protocol", "ppl", "stderr", "tokens"}], "kld": {...}},
//                       "speed": {...}, "size": {...}, "tasks": [...]},
//              "quantize": {"layer_error": [...], "total_error", "linears": [...], "seconds"} | null}]}
// Every field may be missing or null (a failed row, a row without a baseline, an older file) and
// numbers may be NaN/inf when built in C++: such a value prints as "—" in Markdown and HTML, as an
// empty field in CSV, and is left out of the plots. Input of the wrong shape never throws.
//
// Precision (Markdown and HTML): PPL and its stderr 4 decimals; KLD mean/p99 5 decimals; top-1
// agreement and task accuracies as percent with 2 decimals; bits/weight 3 decimals; sizes in MB
// (10^6 bytes) with 2 decimals; TTFT/TPOT ms with 2 decimals; tokens/s with 1 decimal. CSV carries
// the numbers unrounded (shortest round-trip form) and sizes in bytes.
//
// Output is a pure function of the JSON (no clock, no locale, no hash-order dependence), so the
// same matrix renders byte-identical files. Thread safety: the functions share no state.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace qforge::eval {

// Markdown: header (model, command, calibration, texts), the matrix as a pipe table (one column per
// PPL text/protocol, "±" stderr, Δ% against the baseline row), failed rows with their message, and
// the exact command of every row. Cell text has '|' escaped and newlines folded.
std::string RenderMatrixMarkdown(const nlohmann::json& matrix);

// CSV (RFC 4180): CRLF line ends, a header line, one line per row; a field containing ',', '"', CR
// or LF is quoted with '"' doubled. Missing values are empty fields.
std::string RenderMatrixCsv(const nlohmann::json& matrix);

// What the quality plot (plot-ppl-bpw) shows on its y axis.
enum class ReportQualityMetric {
  kPpl,      // perplexity of the first text/protocol found in the rows
  kKldMean,  // mean KL divergence to the baseline
};

struct ReportOptions {
  ReportQualityMetric quality_metric = ReportQualityMetric::kPpl;
};

// The HTML report: one file, every string from the JSON HTML-escaped. Sections: header and
// provenance; the sortable matrix (#matrix, one <tr> per row in <tbody>); SVG plots with ids
// plot-ppl-bpw (quality vs linear bits/weight with the Pareto front), plot-kld-bpw (when the metric is
// PPL and KLD is present), plot-speed-size (decode tok/s vs weight size) and plot-layer-error
// (quantize.layer_error per decoder layer); calibration provenance and the command of every row.
// The inline script sets <body data-ok="1"> when it has initialised and, on any script error, adds
// <pre id="js-error"> to the body (the browser test checks both).
std::string RenderReportHtml(const nlohmann::json& matrix, const ReportOptions& options = {});

// Indices of the Pareto-optimal points when both coordinates are minimised ("lower-left": fewer bits
// and lower perplexity): p is on the front unless some q has q.x <= p.x and q.y <= p.y with one of the
// two strict. Identical points do not dominate each other (all copies are kept). Points with a NaN or
// infinite coordinate are ignored. Returned in ascending x (ties: ascending y, then index), which is
// the order of the front's step line; y is then non-increasing.
std::vector<size_t> ParetoFront(std::span<const std::pair<double, double>> points);

}  // namespace qforge::eval
