// GGUF: header, metadata, tensor infos; then what qforge derives from them (config, tokenizer, model).
#include "fuzz/fuzz_util.h"
#include "io/gguf.h"
#include "io/model_config.h"
#include "io/tokenizer.h"
#include "model/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  const auto path = fuzz::WriteScratch("in.gguf", {reinterpret_cast<const char*>(data), size});
  auto g = io::GgufFile::Open(path);
  if (!g.ok()) return 0;
  auto cfg = io::ConfigFromGguf(*g);
  auto tok = io::LoadGgufTokenizer(*g);
  if (tok.ok()) {
    auto ids = (*tok)->Encode("Hello world, 123 \xe2\x82\xac!", true);
    (void)(*tok)->Decode(ids);
  }
  // The model itself, when its declared sizes are modest: the runtime sizes its buffers (KV cache,
  // activations) from the declared context and dims, which a hostile header can make enormous — an
  // out-of-memory, not a memory-safety, question (noted in docs/results.md).
  if (cfg.ok() && cfg->hidden_size <= 4096 && cfg->num_layers <= 64 && cfg->max_position <= 8192 &&
      cfg->vocab_size <= (1 << 18) && cfg->intermediate_size <= 16384) {
    (void)model::LoadModel(path);
  }
  return 0;
}
