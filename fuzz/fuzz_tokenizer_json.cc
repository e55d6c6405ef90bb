// tokenizer.json (+ tokenizer_config.json as the second part): load, then encode and decode.
#include "fuzz/fuzz_util.h"
#include "io/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  const auto parts = fuzz::SplitInput(data, size, 2);
  const auto dir = fuzz::FreshScratchDir("hf");
  fuzz::WriteScratch("hf/tokenizer.json", parts[0]);
  if (!parts[1].empty()) fuzz::WriteScratch("hf/tokenizer_config.json", parts[1]);
  auto tok = io::LoadHfTokenizer(dir);
  if (tok.ok()) {
    auto ids = (*tok)->Encode("Hello world, 123 \xe2\x82\xac \xf0\x9f\x98\x80 <s> a\n\n b", true);
    (void)(*tok)->Decode(ids);
  }
  return 0;
}
