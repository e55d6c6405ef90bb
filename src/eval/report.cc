// Markdown and CSV renderers of the tradeoff matrix, the Pareto front, and the tolerant JSON accessors
// shared with report_html.cc.
#include "eval/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "eval/report_internal.h"

namespace qforge::eval {
namespace report_detail {

const json* Find(const json& j, std::initializer_list<std::string_view> path) {
  const json* cur = &j;
  for (std::string_view key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur->is_null() ? nullptr : cur;
}

std::optional<double> Num(const json& j, std::initializer_list<std::string_view> path) {
  const json* v = Find(j, path);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  double d = v->get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

std::string Str(const json& j, std::initializer_list<std::string_view> path) {
  const json* v = Find(j, path);
  if (v == nullptr) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number() || v->is_boolean()) return v->dump();
  return "";
}

std::string Fixed(std::optional<double> v, int decimals, double scale) {
  if (!v) return std::string(kDash);
  return fmt::format("{:.{}f}", *v * scale, decimals);
}

namespace {

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

MatrixModel Analyze(const json& matrix) {
  MatrixModel m;
  if (const json* rows = Find(matrix, {"rows"}); rows != nullptr && rows->is_array()) {
    for (const json& r : *rows) {
      if (r.is_object()) m.rows.push_back(&r);
    }
  }
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const json& row = *m.rows[i];
    if (m.baseline < 0 && Str(row, {"method"}) == "baseline" && !Failed(row)) m.baseline = static_cast<int>(i);
    if (const json* ppl = Find(row, {"eval", "quality", "ppl"}); ppl != nullptr && ppl->is_array()) {
      for (const json& e : *ppl) {
        std::string text = Str(e, {"text"}), protocol = Str(e, {"protocol"});
        bool seen = std::any_of(m.ppl.begin(), m.ppl.end(),
                                [&](const PplSeries& s) { return s.text == text && s.protocol == protocol; });
        if (!seen && e.is_object()) m.ppl.push_back({text, protocol, ""});
      }
    }
    if (const json* tasks = Find(row, {"eval", "tasks"}); tasks != nullptr && tasks->is_array()) {
      for (const json& t : *tasks) {
        std::string name = Str(t, {"task"});
        if (t.is_object() && std::find(m.tasks.begin(), m.tasks.end(), name) == m.tasks.end()) m.tasks.push_back(name);
      }
    }
  }
  for (PplSeries& s : m.ppl) {
    std::string base = Basename(s.text);
    bool collides = std::any_of(m.ppl.begin(), m.ppl.end(),
                                [&](const PplSeries& o) { return o.text != s.text && Basename(o.text) == base; });
    s.label = (collides ? s.text : base) + (s.protocol.empty() ? "" : "/" + s.protocol);
  }
  return m;
}

const json* FindPplEntry(const json& row, const PplSeries& series) {
  const json* ppl = Find(row, {"eval", "quality", "ppl"});
  if (ppl == nullptr || !ppl->is_array()) return nullptr;
  for (const json& e : *ppl) {
    if (e.is_object() && Str(e, {"text"}) == series.text && Str(e, {"protocol"}) == series.protocol) return &e;
  }
  return nullptr;
}

const json* TaskEntry(const json& row, std::string_view task) {
  const json* tasks = Find(row, {"eval", "tasks"});
  if (tasks == nullptr || !tasks->is_array()) return nullptr;
  for (const json& t : *tasks) {
    if (t.is_object() && Str(t, {"task"}) == task) return &t;
  }
  return nullptr;
}

bool Failed(const json& row) {
  const json* s = Find(row, {"status"});
  return s != nullptr && !(s->is_string() && s->get<std::string>() == "ok");
}

std::string GroupText(const json& row) {
  std::optional<double> g = Num(row, {"group_size"});
  if (!g) return std::string(kDash);
  if (*g < 0) return "channel";
  return fmt::format("{}", static_cast<long long>(*g));
}

std::string BitsText(const json& row) {
  if (const json* t = Find(row, {"type"}); t != nullptr && t->is_string()) return t->get<std::string>();  // a GGUF row
  std::optional<double> b = Num(row, {"bits"});
  if (!b) return std::string(kDash);
  return fmt::format("{}", static_cast<long long>(*b));
}

std::string MethodText(const json& row) {
  std::string m = Str(row, {"method"});
  if (m.empty()) return "?";
  if (const json* im = Find(row, {"imatrix"}); im != nullptr && !im->is_null()) m += "+imatrix";
  return m;
}

// A GGUF row's importance matrix: "calib" (made from the run's calibration set), its path, or "".
std::string ImatrixText(const json& row) {
  const json* im = Find(row, {"imatrix"});
  if (im == nullptr || im->is_null()) return "";
  if (im->is_string()) return im->get<std::string>();
  return Str(*im, {"path"});
}

std::optional<double> DeltaPercent(std::optional<double> v, std::optional<double> base) {
  if (!v || !base || *base == 0) return std::nullopt;
  return 100.0 * (*v / *base - 1.0);
}

}  // namespace report_detail

using namespace report_detail;

// ---------------------------------------------------------------------------------------------
// Markdown

namespace {

// A table cell: no '|' (escaped), no newline (folded to a space).
std::string MdCell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// Inline code that survives backticks inside `s` (CommonMark: a fence longer than any run inside).
std::string MdCode(std::string_view s) {
  size_t longest = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  std::string fence(longest + 1, '`');
  std::string pad = (!s.empty() && (s.front() == '`' || s.back() == '`')) ? " " : "";
  return fence + pad + MdCell(s) + pad + fence;
}

std::string PplWithStderr(const json* e, int decimals) {
  if (e == nullptr) return std::string(kDash);
  std::optional<double> p = Num(*e, {"ppl"}), se = Num(*e, {"stderr"});
  if (!p) return std::string(kDash);
  if (!se) return Fixed(p, decimals);
  return fmt::format("{:.{}f} ± {:.{}f}", *p, decimals, *se, decimals);
}

}  // namespace

std::string RenderMatrixMarkdown(const json& matrix) {
  const MatrixModel m = Analyze(matrix);
  std::string out = "# qforge tradeoff matrix\n\n";
  out += fmt::format("- **Model:** {}\n", MdCode(Str(matrix, {"model"})));
  if (std::string cmd = Str(matrix, {"created_by"}); !cmd.empty())
    out += fmt::format("- **Command:** {}\n", MdCode(cmd));
  if (auto t = Num(matrix, {"threads"})) out += fmt::format("- **Threads:** {}\n", static_cast<long long>(*t));
  if (const json* cal = Find(matrix, {"calibration"}); cal != nullptr && cal->is_object()) {
    out += fmt::format("- **Calibration:** N = {} samples × L = {} tokens, seed {}, {} tokens used of {}\n",
                       Fixed(Num(*cal, {"samples"}), 0), Fixed(Num(*cal, {"seqlen"}), 0), Fixed(Num(*cal, {"seed"}), 0),
                       Fixed(Num(*cal, {"tokens_used"}), 0), Fixed(Num(*cal, {"stream_tokens"}), 0));
    if (const json* files = Find(*cal, {"files"}); files != nullptr && files->is_array()) {
      for (const json& f : *files) {
        out += fmt::format("  - {} (sha256 {}, {} bytes, {} documents)\n", MdCode(Str(f, {"path"})),
                           MdCode(Str(f, {"sha256"})), Fixed(Num(f, {"bytes"}), 0), Fixed(Num(f, {"documents"}), 0));
      }
    }
  } else {
    out += fmt::format("- **Calibration:** {}\n", kDash);
  }
  if (const json* texts = Find(matrix, {"texts"}); texts != nullptr && texts->is_array() && !texts->empty()) {
    out += "- **Texts:**\n";
    for (const json& t : *texts) {
      out += fmt::format("  - {} (sha256 {})\n", MdCode(Str(t, {"path"})), MdCode(Str(t, {"sha256"})));
    }
  }

  // The matrix.
  std::vector<std::string> head = {"id", "method", "bits", "group", "weights MB", "bits/w"};
  for (const PplSeries& s : m.ppl) {
    head.push_back("PPL " + s.label);
    if (m.baseline >= 0) head.push_back("Δ%");
  }
  for (const char* h : {"KLD mean", "KLD p99", "top-1 %", "TTFT ms", "TPOT ms", "decode tok/s", "peak RSS MB", "KV B/token"}) {
    head.push_back(h);
  }
  for (const std::string& t : m.tasks) head.push_back(t + " acc %");
  head.push_back("status");
  out += "\n## Matrix\n\n|";
  for (const std::string& h : head) out += " " + MdCell(h) + " |";
  out += "\n|";
  for (size_t i = 0; i < head.size(); ++i) out += i < 2 || i + 1 == head.size() ? " --- |" : " ---: |";
  out += "\n";
  for (const json* rp : m.rows) {
    const json& row = *rp;
    std::vector<std::string> cells = {Str(row, {"id"}),
                                      MethodText(row),
                                      BitsText(row),
                                      GroupText(row),
                                      Fixed(Num(row, {"eval", "size", "weight_bytes"}), 2, 1e-6),
                                      Fixed(Num(row, {"eval", "size", "linear_bits_per_weight"}), 3)};
    for (const PplSeries& s : m.ppl) {
      const json* e = FindPplEntry(row, s);
      cells.push_back(PplWithStderr(e, 4));
      if (m.baseline >= 0) {
        const json* b = FindPplEntry(*m.rows[static_cast<size_t>(m.baseline)], s);
        std::optional<double> d =
            DeltaPercent(e ? Num(*e, {"ppl"}) : std::nullopt, b ? Num(*b, {"ppl"}) : std::nullopt);
        cells.push_back(d ? fmt::format("{:+.2f}", *d) : std::string(kDash));
      }
    }
    cells.push_back(Fixed(Num(row, {"eval", "quality", "kld", "mean"}), 5));
    cells.push_back(Fixed(Num(row, {"eval", "quality", "kld", "p99"}), 5));
    cells.push_back(Fixed(Num(row, {"eval", "quality", "kld", "top1_agreement"}), 2, 100));
    cells.push_back(Fixed(Num(row, {"eval", "speed", "ttft_ms"}), 2));
    cells.push_back(Fixed(Num(row, {"eval", "speed", "tpot_ms"}), 2));
    cells.push_back(Fixed(Num(row, {"eval", "speed", "decode_tps"}), 1));
    cells.push_back(Fixed(Num(row, {"eval", "size", "peak_rss_bytes"}), 2, 1e-6));
    {
      const std::optional<double> kv = Num(row, {"eval", "kv_cache", "bytes_per_token"});
      const std::string type = Str(row, {"eval", "kv_cache", "type"});
      cells.push_back(kv ? fmt::format("{:.0f} ({})", *kv, type) : std::string(kDash));
    }
    for (const std::string& t : m.tasks) {
      const json* e = TaskEntry(row, t);
      std::optional<double> acc = e ? Num(*e, {"acc"}) : std::nullopt, se = e ? Num(*e, {"acc_stderr"}) : std::nullopt;
      cells.push_back(acc && se ? fmt::format("{:.2f} ± {:.2f}", *acc * 100, *se * 100) : Fixed(acc, 2, 100));
    }
    std::string status = Str(row, {"status"});
    cells.push_back(status.empty() ? std::string(kDash) : Failed(row) ? "**" + status + "**" : status);
    out += "|";
    for (const std::string& c : cells) out += " " + MdCell(c.empty() ? std::string(kDash) : c) + " |";
    out += "\n";
  }
  if (m.rows.empty()) out += "\n(no rows)\n";

  // Failures, then commands.
  bool any_failed = false;
  for (const json* rp : m.rows) {
    if (!Failed(*rp)) continue;
    if (!any_failed) out += "\n## Failed rows\n\n";
    any_failed = true;
    out += fmt::format("- {}: {}\n", MdCode(Str(*rp, {"id"})), MdCell(Str(*rp, {"status"})));
  }
  out += "\n## Commands\n\n";
  for (const json* rp : m.rows) {
    std::string cmd = Str(*rp, {"command"});
    out += fmt::format("- {}: {}\n", MdCode(Str(*rp, {"id"})), cmd.empty() ? std::string(kDash) : MdCode(cmd));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CSV

namespace {

// RFC 4180 §2.6-2.7: a field with ',', '"', CR or LF is enclosed in '"', and '"' is doubled.
std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// A number as JSON prints it (integers stay integers, doubles in shortest round-trip form); empty
// for missing, null, non-numbers, NaN and inf.
std::string CsvNum(const json* v) {
  if (v == nullptr || !v->is_number()) return "";
  if (v->is_number_float() && !std::isfinite(v->get<double>())) return "";
  return v->dump();
}

}  // namespace

std::string RenderMatrixCsv(const json& matrix) {
  const MatrixModel m = Analyze(matrix);
  std::vector<std::string> head = {"id", "method", "bits", "group_size", "status", "format", "type", "imatrix"};
  const std::vector<std::pair<const char*, std::vector<std::string_view>>> size_cols = {
      {"weight_bytes", {"eval", "size", "weight_bytes"}},
      {"linear_params", {"eval", "size", "linear_params"}},
      {"linear_bits_per_weight", {"eval", "size", "linear_bits_per_weight"}},
      {"total_params", {"eval", "size", "total_params"}},
      {"model_bits_per_weight", {"eval", "size", "model_bits_per_weight"}},
      {"peak_rss_bytes", {"eval", "size", "peak_rss_bytes"}},
      {"kv_bytes_per_token", {"eval", "kv_cache", "bytes_per_token"}}};
  const char* kld_keys[] = {"mean", "median", "p99", "max", "top1_agreement", "dp_mean", "dp_rms", "tokens"};
  const char* speed_keys[] = {"prompt_tokens", "gen_tokens", "reps", "ttft_ms", "tpot_ms", "prefill_tps", "decode_tps"};
  const char* task_keys[] = {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr"};
  for (const auto& [name, path] : size_cols) head.push_back(name);
  for (const PplSeries& s : m.ppl) {
    for (const char* k : {"ppl", "ppl_stderr", "ppl_tokens"}) head.push_back(fmt::format("{}:{}", k, s.label));
  }
  for (const char* k : kld_keys) head.push_back(std::string_view(k) == "top1_agreement" ? k : fmt::format("kld_{}", k));
  for (const char* k : speed_keys) head.push_back(k);
  for (const std::string& t : m.tasks) {
    for (const char* k : task_keys) head.push_back(fmt::format("{}:{}", k, t));
  }
  for (const char* k : {"quant_total_error", "quant_seconds", "command"}) head.push_back(k);

  auto line = [](const std::vector<std::string>& fields) {
    std::string out;
    for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + CsvField(fields[i]);
    return out + "\r\n";
  };
  std::string out = line(head);
  for (const json* rp : m.rows) {
    const json& row = *rp;
    std::vector<std::string> f = {Str(row, {"id"}), Str(row, {"method"}), CsvNum(Find(row, {"bits"})),
                                  CsvNum(Find(row, {"group_size"})), Str(row, {"status"}), Str(row, {"format"}),
                                  Str(row, {"type"}), ImatrixText(row)};
    for (const auto& [name, path] : size_cols) f.push_back(CsvNum(Find(row, {path[0], path[1], path[2]})));
    for (const PplSeries& s : m.ppl) {
      const json* e = FindPplEntry(row, s);
      for (const char* k : {"ppl", "stderr", "tokens"}) f.push_back(e ? CsvNum(Find(*e, {k})) : "");
    }
    for (const char* k : kld_keys) f.push_back(CsvNum(Find(row, {"eval", "quality", "kld", k})));
    for (const char* k : speed_keys) f.push_back(CsvNum(Find(row, {"eval", "speed", k})));
    for (const std::string& t : m.tasks) {
      const json* e = TaskEntry(row, t);
      for (const char* k : task_keys) f.push_back(e ? CsvNum(Find(*e, {k})) : "");
    }
    f.push_back(CsvNum(Find(row, {"quantize", "total_error"})));
    f.push_back(CsvNum(Find(row, {"quantize", "seconds"})));
    f.push_back(Str(row, {"command"}));
    out += line(f);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pareto front

std::vector<size_t> ParetoFront(std::span<const std::pair<double, double>> points) {
  std::vector<size_t> order;
  for (size_t i = 0; i < points.size(); ++i) {
    if (std::isfinite(points[i].first) && std::isfinite(points[i].second)) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (points[a].first != points[b].first) return points[a].first < points[b].first;
    if (points[a].second != points[b].second) return points[a].second < points[b].second;
    return a < b;
  });
  // Sweep in ascending x (then y): every earlier point has x <= this x, so this point is dominated
  // iff an earlier one has smaller y, or equal y at a strictly smaller x. `best` is the first point
  // (smallest x) reaching the lowest y so far.
  std::vector<size_t> front;
  const std::pair<double, double>* best = nullptr;
  for (size_t i : order) {
    const auto& p = points[i];
    bool on_front = best == nullptr || p.second < best->second || (p.second == best->second && p.first == best->first);
    if (on_front) {
      front.push_back(i);
      if (best == nullptr || p.second < best->second) best = &p;
    }
  }
  return front;
}

}  // namespace qforge::eval
