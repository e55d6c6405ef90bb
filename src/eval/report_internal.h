// Shared by report.cc (Markdown, CSV, Pareto front) and report_html.cc (HTML + SVG): tolerant
// accessors over the matrix JSON and the columns derived from it. Not part of the public API.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::eval::report_detail {

using nlohmann::json;

// The value at `path` below `j` (object keys), or nullptr when a step is not an object, the key is
// missing or the value is null.
const json* Find(const json& j, std::initializer_list<std::string_view> path);
// A finite number at `path`, else nullopt (missing, null, not a number, NaN, inf).
std::optional<double> Num(const json& j, std::initializer_list<std::string_view> path);
// A string at `path` ("" when missing); a number or bool is printed in JSON form.
std::string Str(const json& j, std::initializer_list<std::string_view> path);

// "—" for nullopt, else `v * scale` with `decimals` decimals.
std::string Fixed(std::optional<double> v, int decimals, double scale = 1);

inline constexpr std::string_view kDash = "\u2014";  // "—", printed for every missing value

// One PPL column: a (text, protocol) pair found in the rows, in order of first appearance.
struct PplSeries {
  std::string text, protocol;
  std::string label;  // "<text basename>/<protocol>" (the full text path when basenames collide)
};

struct MatrixModel {
  std::vector<const json*> rows;  // the entries of "rows" that are objects, in order
  std::vector<PplSeries> ppl;
  std::vector<std::string> tasks;  // task names in order of first appearance
  int baseline = -1;               // index in rows of the first non-failed "baseline" row, or -1
};

MatrixModel Analyze(const json& matrix);

// The ppl entry of `row` for `series` (nullptr when absent).
const json* FindPplEntry(const json& row, const PplSeries& series);
// The tasks entry of `row` named `task` (nullptr when absent).
const json* TaskEntry(const json& row, std::string_view task);

// True when the row has a status other than "ok" (e.g. "failed: out of memory").
bool Failed(const json& row);
// "—" for null, "channel" for -1, else the integer.
std::string GroupText(const json& row);
std::string BitsText(const json& row);  // the bits, or a GGUF row's file type ("Q4_K_M")
std::string MethodText(const json& row);  // the method, "+imatrix" when the row used an importance matrix

// 100 * (v / base - 1), when both are present and base != 0.
std::optional<double> DeltaPercent(std::optional<double> v, std::optional<double> base);

}  // namespace qforge::eval::report_detail
