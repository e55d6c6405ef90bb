// A Hugging Face model directory seen as the GGUF llama.cpp's convert_hf_to_gguf.py would make of it
// (quant/gguf_source.h), for `qforge quantize DIR --format gguf --type T`.
#pragma once

#include <filesystem>
#include <memory>

#include "core/result.h"
#include "quant/gguf_source.h"

namespace qforge::quant {

Result<std::unique_ptr<GgufSource>> OpenHfGgufSource(const std::filesystem::path& dir);

}  // namespace qforge::quant
