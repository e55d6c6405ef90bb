// An importance matrix (`--imatrix FILE`, compare's "imatrix": FILE): llama-imatrix's GGUF format or
// its legacy .dat, as quant::ReadImatrix reads both. The input is written as the file.
#include "fuzz/fuzz_util.h"
#include "quant/imatrix.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  const auto path = fuzz::WriteScratch("imatrix.gguf", {reinterpret_cast<const char*>(data), size});
  auto m = quant::ReadImatrix(path);
  if (m.ok()) {
    // Every entry read is finite (ReadImatrix's contract); touching each value lets ASan see them.
    double s = 0;
    for (const auto& [name, v] : m->entries) {
      for (float x : v) s += x;
    }
    if (!(s == s)) __builtin_trap();
  }
  return 0;
}
