// Placeholder until the family is implemented: says so plainly.
#include "formats/families.h"

namespace qforge::formats::detail {

Result<QuantizedTensor> QuantizeCodebook(MatrixF32, const QuantScheme& s, ThreadPool*) {
  return MakeError("format '{}' is not implemented yet", s.Name());
}
void DequantizeCodebook(const QuantizedTensor&, MutableMatrixF32, ThreadPool*) {}

}  // namespace qforge::formats::detail
