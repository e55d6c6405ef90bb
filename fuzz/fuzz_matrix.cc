// compare's matrix file.
#include "eval/compare.h"
#include "fuzz/fuzz_util.h"
#include "testing/shared_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  eval::CompareOptions o;
  o.model = testing::SharedPath("models/stories260K/hf");
  o.matrix_file = fuzz::WriteScratch("matrix.json", {reinterpret_cast<const char*>(data), size});
  (void)eval::MatrixConfigs(o);
  return 0;
}
