// `qforge quantize MODEL -o OUT.gguf --format gguf --type T [--imatrix FILE]`: a GGUF that llama.cpp
// loads, from a GGUF file or a Hugging Face directory (read as convert_hf_to_gguf.py would convert it,
// quant/gguf_from_hf.h), with every tensor typed by llama.cpp's own mixture rules (quant/gguf_recipe.h) and its data
// written by quantizers bit-exact with llama.cpp's (formats/ggml_quantize.h). From a GGUF source the
// result equals what `llama-quantize [--allow-requantize] [--imatrix FILE] IN OUT T` writes, tensor
// for tensor, byte for byte (scripts/peer/gguf_quant_check.py proves it against llama.cpp itself);
// the key/values are the source's, then general.quantization_version and general.file_type as
// llama.cpp sets them, then qforge's provenance keys (qforge.*; no timestamps, so two runs of the
// same command give the same file).
//
// Beside the file, "<OUT>.qforge-manifest.json" (artifact/manifest.h): the file's size and SHA-256, the
// source's hash, the type, the imatrix, the command — so `qforge sign / verify / reproduce` work on it.
// The file is complete before the manifest is written (a kill in between leaves a GGUF without one).
//
// Memory: the source is mapped; each tensor is converted in slabs of rows, so the resident set is
// bounded by one slab (f32 + output) plus the pages of the mapping being read.
// Determinism: rows are independent; the pool splits them, the bytes never depend on the thread count.
//
// Not yet: mixture-of-experts models; --imatrix together with a calibrated method (the calibrated
// methods weight the grids by their own calibration): both refused by name.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/thread_pool.h"
#include "formats/ggml_blocks.h"
#include "quant/calibration.h"
#include "quant/pipeline.h"

namespace qforge::quant {

struct GgufExportOptions {
  std::string type;  // a llama.cpp file type name: "Q4_K_M", "Q8_0", "F16", ... (GgufFileTypes())
  // kRtn: llama.cpp's reference quantizers (byte-identical with llama-quantize). kGptq / kAwq /
  // kAwqGptq: calibrated on `calib` layer by layer by the quantization pipeline (pipeline.h, LayerSink):
  // every decoder linear gets the type the mixture gives it, its grid (block headers) chosen by
  // llama.cpp's quantizer weighted by the calibration's own importance diag(H) (AWQ's scaling applied),
  // and GPTQ (kGptq, kAwqGptq) rounds its codes inside that grid with error feedback; AWQ folds its
  // scales into the preceding norm / v_proj / up_proj first. The embeddings, the classifier and the
  // final norm take the reference path. Still a plain GGUF of the same types. As with llama-quantize, a
  // tensor the source already holds in its target type is copied (re-rounding grid points only loses).
  Method method = Method::kRtn;
  CalibrationOptions calib;
  double damp = 0.01;
  // GPTQ (kGptq, kAwqGptq) with desc_act: every block's headers from the original weights, then the
  // columns by descending diag(H) (QuantizeGptqGgml's act_order).
  bool act_order = false;
  // Importance matrix: tensor name -> one weight per input column (ne[0]), as llama-quantize reads
  // it from an imatrix file; empty: none. Entries for tensors that are not quantized are ignored.
  std::map<std::string, std::vector<float>> imatrix;
  std::string imatrix_provenance;  // e.g. "imatrix.gguf sha256:..." (recorded in qforge.imatrix)
  bool overwrite = false;
  std::string command;  // the reproducing command, recorded in qforge.command and the manifest
  std::string artifact_version;  // the user's version of the output, recorded in its manifest
};

struct GgufTensorReport {
  std::string name;
  formats::GgmlType from, to;
  uint64_t bytes = 0;  // written
  int64_t elements = 0;
  bool fell_back = false;  // llama.cpp's shape fallback applied
  bool imatrix = false;    // quantized with an importance matrix row
  bool copied = false;     // same type as the source: bytes copied unchanged
};

struct GgufExportReport {
  std::vector<GgufTensorReport> tensors;  // in file order
  uint64_t source_bytes = 0, tensor_bytes = 0;
  int64_t elements = 0;
  int n_fallback = 0;
  double seconds = 0;
  std::optional<QuantizeReport> calibrated;  // the pipeline's report (per-layer errors) for gptq / awq / awq+gptq
  nlohmann::json provenance;                 // what the manifest records under "provenance"
};

// The reproducing command of an export with these options, without "-o OUT" (as
// quant::CanonicalCommand): `qforge quantize MODEL --format gguf --type T [--method M --damp D --calib
// ... --calib-samples N --calib-seqlen L --seed S] [--imatrix IMATRIX_PATH] [--version V]`. The type is
// spelt as llama.cpp spells it.
std::string GgufExportCommand(const std::filesystem::path& model, const GgufExportOptions& options,
                              const std::string& imatrix_path);

Result<GgufExportReport> ExportGguf(const std::filesystem::path& model, const std::filesystem::path& out,
                                    const GgufExportOptions& options, ThreadPool& pool);

}  // namespace qforge::quant
