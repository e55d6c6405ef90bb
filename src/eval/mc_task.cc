#include "eval/mc_task.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

namespace qforge::eval {

Result<std::vector<McItem>> ReadMcTask(const std::filesystem::path& path) {
  const std::string where = path.string();
  std::ifstream f(path, std::ios::binary);
  if (!f) return MakeError("cannot open task file '{}'", where);
  std::vector<McItem> items;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return MakeError("{}:{}: not a JSON object", where, lineno);
    McItem it;
    if (!j.contains("context") || !j["context"].is_string()) return MakeError("{}:{}: \"context\" must be a string", where, lineno);
    it.context = j["context"].get<std::string>();
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].size() < 2) {
      return MakeError("{}:{}: \"choices\" must be an array of at least 2 strings", where, lineno);
    }
    for (const auto& c : j["choices"]) {
      if (!c.is_string()) return MakeError("{}:{}: \"choices\" must hold strings", where, lineno);
      it.choices.push_back(c.get<std::string>());
      if (it.choices.back().empty()) return MakeError("{}:{}: choice {} is empty", where, lineno, it.choices.size() - 1);
    }
    if (!j.contains("label") || !j["label"].is_number_integer()) return MakeError("{}:{}: \"label\" must be an integer", where, lineno);
    it.label = j["label"].get<int64_t>();
    if (it.label < 0 || it.label >= static_cast<int64_t>(it.choices.size())) {
      return MakeError("{}:{}: label {} outside [0, {})", where, lineno, it.label, it.choices.size());
    }
    items.push_back(std::move(it));
  }
  if (f.bad()) return MakeError("{}: read error", where);
  if (items.empty()) return MakeError("{}: no items", where);
  return items;
}

McEncoding EncodeMcPair(const io::Tokenizer& tokenizer, std::string_view context, std::string_view continuation) {
  // Python's str.rstrip() whitespace, ASCII subset.
  size_t end = context.size();
  while (end > 0 && std::string_view(" \t\n\r\v\f").find(context[end - 1]) != std::string_view::npos) --end;
  std::string ctx(context.substr(0, end));
  std::string cont = std::string(context.substr(end)) + std::string(continuation);
  McEncoding e;
  const std::vector<int32_t> whole = tokenizer.Encode(ctx + cont);
  e.context = tokenizer.Encode(ctx);
  if (whole.size() > e.context.size()) e.continuation.assign(whole.begin() + e.context.size(), whole.end());
  if (e.context.empty()) {
    const int32_t prefix = tokenizer.bos_id() >= 0 ? tokenizer.bos_id() : tokenizer.eos_id();
    if (prefix >= 0) e.context.push_back(prefix);
  }
  return e;
}

Result<double> ContinuationLogLikelihood(const model::LlamaModel& model, std::span<const int32_t> context,
                                         std::span<const int32_t> continuation, ThreadPool& pool) {
  if (continuation.empty()) return MakeError("the continuation encodes to no token");
  if (context.empty()) return MakeError("the context encodes to no token and the vocabulary has no BOS/EOS");
  std::vector<int32_t> all(context.begin(), context.end());
  all.insert(all.end(), continuation.begin(), continuation.end());
  const int64_t max_len = model.spec().max_positions > 0 ? model.spec().max_positions : static_cast<int64_t>(all.size());
  const int64_t n_cont = static_cast<int64_t>(continuation.size());
  if (n_cont > max_len) return MakeError("the continuation has {} tokens, more than the model's {} positions", n_cont, max_len);
  // Input (ctx ++ cont)[-(max_len + 1):][:-1].
  const int64_t total = static_cast<int64_t>(all.size());
  const int64_t start = std::max<int64_t>(0, total - (max_len + 1));
  const int64_t n_in = total - 1 - start;
  const int64_t vocab = model.spec().vocab;
  model::Session sess(model, n_in, 64);
  std::vector<float> logits(n_in * vocab);
  QF_TRY(sess.Forward(std::span<const int32_t>(all.data() + start, n_in), true, logits.data(), pool));
  double ll = 0;
  // The logits at input position p predict all[start + p + 1]; the continuation starts at all[total - n_cont].
  for (int64_t k = 0; k < n_cont; ++k) {
    const int64_t p = total - n_cont + k - 1 - start;
    const float* row = logits.data() + p * vocab;
    float mx = row[0];
    for (int64_t i = 1; i < vocab; ++i) mx = std::max(mx, row[i]);
    double s = 0;
    for (int64_t i = 0; i < vocab; ++i) s += std::exp(static_cast<double>(row[i] - mx));
    ll += static_cast<double>(row[continuation[k]] - mx) - std::log(s);
  }
  return ll;
}

int64_t Utf8Length(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

namespace {
double SampleStderr(double p, int64_t n) { return n > 1 ? std::sqrt(p * (1 - p) / static_cast<double>(n - 1)) : 0.0; }
}  // namespace

McResult AggregateMc(std::string task, const std::vector<McItem>& items, const std::vector<std::vector<double>>& lls) {
  assert(items.size() == lls.size());
  McResult r;
  r.task = std::move(task);
  r.n = static_cast<int64_t>(items.size());
  int64_t correct = 0, correct_norm = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    assert(lls[i].size() == items[i].choices.size());
    size_t best = 0, best_norm = 0;
    double best_norm_v = lls[i][0] / static_cast<double>(Utf8Length(items[i].choices[0]));
    for (size_t c = 1; c < lls[i].size(); ++c) {
      if (lls[i][c] > lls[i][best]) best = c;
      const double v = lls[i][c] / static_cast<double>(Utf8Length(items[i].choices[c]));
      if (v > best_norm_v) {
        best_norm_v = v;
        best_norm = c;
      }
    }
    correct += static_cast<int64_t>(best) == items[i].label;
    correct_norm += static_cast<int64_t>(best_norm) == items[i].label;
  }
  if (r.n > 0) {
    r.acc = static_cast<double>(correct) / r.n;
    r.acc_norm = static_cast<double>(correct_norm) / r.n;
  }
  r.acc_stderr = SampleStderr(r.acc, r.n);
  r.acc_norm_stderr = SampleStderr(r.acc_norm, r.n);
  return r;
}

Result<McResult> ScoreMcTask(const model::LlamaModel& model, const io::Tokenizer& tokenizer, std::string task,
                             const std::vector<McItem>& items, ThreadPool& pool) {
  std::vector<std::vector<double>> lls(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    for (size_t c = 0; c < items[i].choices.size(); ++c) {
      const McEncoding e = EncodeMcPair(tokenizer, items[i].context, items[i].choices[c]);
      auto ll = ContinuationLogLikelihood(model, e.context, e.continuation, pool);
      if (!ll.ok()) return std::move(ll).error().Context(fmt::format("{}: item {} choice {}", task, i, c));
      lls[i].push_back(*ll);
    }
  }
  return AggregateMc(std::move(task), items, lls);
}

}  // namespace qforge::eval
