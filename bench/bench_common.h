// Pieces shared by the Google Benchmark binaries in bench/: the decode-step loop and the --layers=N
// flag (parsed before Google Benchmark, which rejects flags it does not know).
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "model/llama.h"

namespace qforge::bench {

// Prefills a 128-token prompt, then times one decode step per iteration at positions 128, 129, ...
// (register with at most 64 iterations). Reports tokens/s.
inline void DecodeSteps(benchmark::State& state, const model::LlamaModel& model, ThreadPool& pool) {
  const int64_t ctx = 128, vocab = model.spec().vocab;
  model::Session sess(model, ctx + 64, 64);
  std::vector<int32_t> prompt(ctx);
  for (int64_t i = 0; i < ctx; ++i) prompt[i] = static_cast<int32_t>((i * 31) % vocab);
  std::vector<float> logits(vocab);
  if (!sess.Forward(prompt, false, logits.data(), pool).ok()) state.SkipWithError("forward failed");
  const int32_t one[1] = {static_cast<int32_t>(42 % vocab)};
  for (auto _ : state) {
    if (!sess.Forward(one, false, logits.data(), pool).ok()) state.SkipWithError("forward failed");
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Removes "--layers=N" from argv (storing N, at least 1, into *layers); returns the other arguments.
inline std::vector<char*> TakeLayersFlag(int argc, char** argv, int* layers) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--layers=", 0) == 0) {
      *layers = std::max(1, std::stoi(a.substr(9)));
    } else {
      rest.push_back(argv[i]);
    }
  }
  return rest;
}

}  // namespace qforge::bench
