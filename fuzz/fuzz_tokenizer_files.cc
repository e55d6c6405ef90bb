// The other tokenizer files: SentencePiece tokenizer.model, llama2.c tokenizer.bin, GPT-2 vocab.json +
// merges.txt. The first byte picks the loader.
#include "fuzz/fuzz_util.h"
#include "io/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  if (size < 1) return 0;
  const int which = data[0] % 3;
  ++data;
  --size;
  Result<std::unique_ptr<io::Tokenizer>> tok = MakeError("none");
  if (which == 0) {
    tok = io::LoadSentencePiece(fuzz::WriteScratch("tokenizer.model", {reinterpret_cast<const char*>(data), size}));
  } else if (which == 1) {
    tok = io::LoadLlama2cTokenizer(fuzz::WriteScratch("tokenizer.bin", {reinterpret_cast<const char*>(data), size}), 512);
  } else {
    const auto parts = fuzz::SplitInput(data, size, 2);
    tok = io::LoadGpt2Files(fuzz::WriteScratch("vocab.json", parts[0]), fuzz::WriteScratch("merges.txt", parts[1]));
  }
  if (tok.ok()) {
    auto ids = (*tok)->Encode("Hello world, 123 \xe2\x82\xac!", true);
    (void)(*tok)->Decode(ids);
  }
  return 0;
}
