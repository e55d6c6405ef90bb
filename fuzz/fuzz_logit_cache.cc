// Baseline log-probability files (eval --baseline-logprobs reads them from other engines).
#include "eval/logit_cache.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  const auto path = fuzz::WriteScratch("logprobs.bin", {reinterpret_cast<const char*>(data), size});
  (void)eval::ReadLogitCache(path, {"", std::string(64, 'a'), 64, 2});
  (void)eval::ReadLogitCache(path, {std::string(64, 'b'), std::string(64, 'a'), 64, -1});
  return 0;
}
