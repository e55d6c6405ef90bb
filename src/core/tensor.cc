#include "core/tensor.h"

#include <fmt/format.h>

namespace qforge {

std::string Shape::ToString() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) {
    if (i) s += ", ";
    s += fmt::format("{}", dims[i]);
  }
  return s + "]";
}

}  // namespace qforge
