// Writes a Hugging Face model directory tensor by tensor with bounded memory, atomically.
//
// Everything goes into a temporary directory "<out>.tmp-<pid>" beside <out>; Finish() renames it to
// <out>, so an interrupted or failed run never leaves a partial model at <out> (the temporary
// directory is removed by the destructor when Finish did not succeed).
//
// Tensors are buffered until `max_shard_bytes` of data are pending, then written as one safetensors
// shard; at the end the shards are named "model-0000i-of-0000n.safetensors" with a
// "model.safetensors.index.json" (HF's sharded layout), or "model.safetensors" when one shard
// suffices. Every shard carries __metadata__ {"format": "pt"} (what transformers expects) plus the
// caller's metadata.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "artifact/manifest.h"
#include "artifact/sbom.h"
#include "core/dtype.h"
#include "core/result.h"
#include "core/tensor.h"

namespace qforge::quant {

class CheckpointWriter {
 public:
  // Fails when <out> exists (unless `overwrite`, which replaces it at Finish) or the temporary
  // directory cannot be created.
  static Result<CheckpointWriter> Create(const std::filesystem::path& out, bool overwrite,
                                         uint64_t max_shard_bytes = uint64_t{1} << 30);
  CheckpointWriter(CheckpointWriter&&) noexcept;
  CheckpointWriter& operator=(CheckpointWriter&&) = delete;
  ~CheckpointWriter();

  // Queues one tensor (bytes.size() must match shape x dtype); may flush a shard.
  Status Add(std::string name, DType dtype, Shape shape, std::vector<uint8_t> bytes);
  Status AddF32(std::string name, Shape shape, const std::vector<float>& values);
  // Copies a file into the directory under `name` (tokenizer, generation config).
  Status CopyFile(const std::filesystem::path& from, const std::string& name);
  // Writes a file of the given bytes (e.g. tokenizer.gguf).
  Status WriteBytes(const std::string& name, std::string_view bytes);
  // Writes config.json (pretty-printed) and any other JSON file.
  Status WriteJson(const std::string& name, const nlohmann::json& j);

  // The manifest Finish writes last, over every file (artifact/manifest.h). Without one, Finish fails:
  // every checkpoint qforge writes carries its manifest.
  void SetManifest(artifact::ManifestSpec spec) { manifest_ = std::move(spec); have_manifest_ = true; }
  // The SBOM (artifact/sbom.h) Finish writes as sbom.cdx.json before the manifest.
  void SetSbom(artifact::SbomSpec spec) { sbom_ = std::move(spec); have_sbom_ = true; }

  // Flushes, names the shards, writes the index and the manifest, renames into place.
  Status Finish();

  uint64_t tensor_bytes() const { return total_bytes_; }
  const std::filesystem::path& temp_dir() const { return tmp_; }

 private:
  CheckpointWriter() = default;
  Status Flush();
  struct Pending {
    std::string name;
    DType dtype;
    Shape shape;
    std::vector<uint8_t> bytes;
  };
  std::filesystem::path out_, tmp_;
  bool overwrite_ = false, finished_ = false, have_manifest_ = false, have_sbom_ = false;
  artifact::ManifestSpec manifest_;
  artifact::SbomSpec sbom_;
  uint64_t max_shard_bytes_ = 0, pending_bytes_ = 0, total_bytes_ = 0;
  std::vector<Pending> pending_;
  std::vector<std::pair<std::string, std::vector<std::string>>> shards_;  // temp file name, tensor names
};

}  // namespace qforge::quant
