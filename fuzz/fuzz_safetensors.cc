// safetensors: the untrusted JSON header, offsets and dtypes.
#include "fuzz/fuzz_util.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  const auto path = fuzz::WriteScratch("in.safetensors", {reinterpret_cast<const char*>(data), size});
  (void)io::SafetensorsFile::Open(path);
  return 0;
}
