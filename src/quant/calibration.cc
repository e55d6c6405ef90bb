#include "quant/calibration.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "artifact/digest.h"
#include "core/random.h"

namespace qforge::quant {

namespace {

Result<std::string> ReadAll(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return MakeError("{}: cannot open the calibration file", path.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return MakeError("{}: read error", path.string());
  return ss.str();
}

}  // namespace

Result<std::vector<std::string>> ReadCalibrationDocuments(const std::filesystem::path& path) {
  QF_ASSIGN_OR_RETURN(std::string text, ReadAll(path));
  const size_t first = text.find_first_not_of(" \t\r\n");
  const bool jsonl = path.extension() == ".jsonl" || (first != std::string::npos && text[first] == '{');
  std::vector<std::string> docs;
  if (!jsonl) {
    if (first == std::string::npos) return MakeError("{}: the calibration file holds no text", path.string());
    docs.push_back(std::move(text));
    return docs;
  }
  std::istringstream in(text);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return MakeError("{}:{}: not a JSON object (JSONL calibration file)", path.string(), lineno);
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
      return MakeError("{}:{}: expected an object with a \"text\" string", path.string(), lineno);
    }
    std::string t = j["text"].get<std::string>();
    if (!t.empty()) docs.push_back(std::move(t));
  }
  if (docs.empty()) return MakeError("{}: no non-empty \"text\" documents", path.string());
  return docs;
}

Result<CalibrationSet> BuildCalibrationSet(const io::Tokenizer& tokenizer, const CalibrationOptions& opt,
                                           int64_t model_context) {
  if (opt.files.empty()) return MakeError("no calibration files given (--calib FILE...)");
  if (opt.samples < 1) return MakeError("--calib-samples must be at least 1, got {}", opt.samples);
  CalibrationSet set;
  set.seqlen = opt.seqlen > 0 ? opt.seqlen : std::min<int64_t>(2048, model_context);
  if (set.seqlen < 2) return MakeError("--calib-seqlen must be at least 2, got {}", set.seqlen);
  if (model_context > 0 && set.seqlen > model_context) {
    return MakeError("--calib-seqlen {} exceeds the model's context of {} positions", set.seqlen, model_context);
  }
  set.samples = opt.samples;
  set.seed = opt.seed;
  std::string joined;
  for (const auto& path : opt.files) {
    QF_ASSIGN_OR_RETURN(std::vector<std::string> docs, ReadCalibrationDocuments(path));
    CalibrationFile f;
    f.path = path.string();
    QF_ASSIGN_OR_RETURN(f.sha256, artifact::Sha256File(path));
    std::error_code ec;
    f.bytes = std::filesystem::file_size(path, ec);
    f.documents = static_cast<int64_t>(docs.size());
    for (auto& d : docs) {
      if (!joined.empty()) joined += "\n\n";
      joined += d;
    }
    set.files.push_back(std::move(f));
  }
  const std::vector<int32_t> stream = tokenizer.Encode(joined);
  set.stream_tokens = static_cast<int64_t>(stream.size());
  if (set.stream_tokens < set.seqlen) {
    return MakeError("the calibration text has {} tokens, fewer than one segment of --calib-seqlen {}",
                     set.stream_tokens, set.seqlen);
  }
  Rng rng(opt.seed);
  std::vector<uint8_t> covered(stream.size(), 0);
  const uint64_t starts = static_cast<uint64_t>(set.stream_tokens - set.seqlen + 1);
  for (int64_t s = 0; s < set.samples; ++s) {
    const int64_t i = static_cast<int64_t>(rng.Below(starts));
    set.sequences.emplace_back(stream.begin() + i, stream.begin() + i + set.seqlen);
    std::fill(covered.begin() + i, covered.begin() + i + set.seqlen, uint8_t{1});
  }
  set.covered_tokens = std::count(covered.begin(), covered.end(), uint8_t{1});
  return set;
}

nlohmann::json CalibrationSet::Provenance() const {
  nlohmann::json files_j = nlohmann::json::array();
  for (const auto& f : files) {
    files_j.push_back({{"path", f.path}, {"sha256", f.sha256}, {"bytes", f.bytes}, {"documents", f.documents}});
  }
  return {{"files", files_j},
          {"samples", samples},
          {"seqlen", seqlen},
          {"seed", seed},
          {"sampling", "uniform random windows over the joined, tokenized text (qforge Rng xoshiro256**)"},
          {"stream_tokens", stream_tokens},
          {"tokens_used", samples * seqlen},
          {"distinct_tokens_covered", covered_tokens}};
}

}  // namespace qforge::quant
