// Placeholder until the family is implemented: says so plainly.
#include "formats/families.h"

namespace qforge::formats::detail {

Result<QuantizedTensor> QuantizeFloat(MatrixF32, const QuantScheme& s, ThreadPool*) {
  return MakeError("format '{}' is not implemented yet", s.Name());
}
void DequantizeFloat(const QuantizedTensor&, MutableMatrixF32, ThreadPool*) {}

}  // namespace qforge::formats::detail
