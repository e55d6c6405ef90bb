#include "quant/gguf_from_hf.h"

namespace qforge::quant {

Result<std::unique_ptr<GgufSource>> OpenHfGgufSource(const std::filesystem::path& dir) {
  return MakeError("{}: GGUF export from a Hugging Face directory is not implemented yet (its config and tokenizer "
                   "must be converted to GGUF metadata); give a GGUF file as the source",
                   dir.string());
}

}  // namespace qforge::quant
