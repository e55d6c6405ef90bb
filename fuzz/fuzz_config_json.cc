// config.json: every key that changes the arithmetic understood or refused by name.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "io/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  const auto j = nlohmann::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), nullptr, false);
  if (j.is_discarded()) return 0;
  auto c = io::ParseHfConfig(j, "fuzz/config.json");
  // What qforge writes back must parse to the same arithmetic.
  if (c.ok()) (void)io::ParseHfConfig(io::ToHfConfigJson(*c), "fuzz/roundtrip");
  return 0;
}
