// llama2.c checkpoints: the header and the weight layout it implies, then the model built on it.
#include "fuzz/fuzz_util.h"
#include "io/llama2c.h"
#include "model/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  const auto path = fuzz::WriteScratch("model.bin", {reinterpret_cast<const char*>(data), size});
  if (io::Llama2cFile::Open(path).ok()) (void)model::LoadModel(path);
  return 0;
}
