#include "quant/checkpoint_writer.h"

#include <unistd.h>

#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "io/mapped_file.h"
#include "io/safetensors.h"

namespace qforge::quant {

namespace fs = std::filesystem;

Result<CheckpointWriter> CheckpointWriter::Create(const fs::path& out, bool overwrite, uint64_t max_shard_bytes) {
  std::error_code ec;
  if (fs::exists(out, ec) && !overwrite) {
    return MakeError("{}: already exists (remove it, choose another output, or pass --overwrite)", out.string());
  }
  CheckpointWriter w;
  w.out_ = out;
  w.overwrite_ = overwrite;
  w.max_shard_bytes_ = max_shard_bytes;
  fs::path parent = out.parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec)) return MakeError("{}: the parent directory does not exist", out.string());
  w.tmp_ = parent / fmt::format("{}.tmp-{}", out.filename().string(), ::getpid());
  fs::remove_all(w.tmp_, ec);
  if (!fs::create_directory(w.tmp_, ec)) {
    return MakeError("{}: cannot create the temporary directory: {}", w.tmp_.string(), ec.message());
  }
  return w;
}

CheckpointWriter::CheckpointWriter(CheckpointWriter&& o) noexcept
    : out_(std::move(o.out_)),
      tmp_(std::move(o.tmp_)),
      overwrite_(o.overwrite_),
      finished_(o.finished_),
      have_manifest_(o.have_manifest_),
      have_sbom_(o.have_sbom_),
      manifest_(std::move(o.manifest_)),
      sbom_(std::move(o.sbom_)),
      max_shard_bytes_(o.max_shard_bytes_),
      pending_bytes_(o.pending_bytes_),
      total_bytes_(o.total_bytes_),
      pending_(std::move(o.pending_)),
      shards_(std::move(o.shards_)) {
  o.tmp_.clear();
  o.finished_ = true;
}

CheckpointWriter::~CheckpointWriter() {
  if (!finished_ && !tmp_.empty()) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

Status CheckpointWriter::Add(std::string name, DType dtype, Shape shape, std::vector<uint8_t> bytes) {
  const int esize = io::SafetensorsDTypeBytes(dtype);
  if (esize == 0) return MakeError("tensor '{}': dtype {} has no safetensors name", name, Name(dtype));
  if (static_cast<uint64_t>(shape.NumElements()) * esize != bytes.size()) {
    return MakeError("tensor '{}': {} bytes for shape {} of {}", name, bytes.size(), shape.ToString(), Name(dtype));
  }
  pending_bytes_ += bytes.size();
  total_bytes_ += bytes.size();
  pending_.push_back({std::move(name), dtype, shape, std::move(bytes)});
  if (pending_bytes_ >= max_shard_bytes_) return Flush();
  return Status::Ok();
}

Status CheckpointWriter::AddF32(std::string name, Shape shape, const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return Add(std::move(name), DType::kF32, shape, std::move(bytes));
}

Status CheckpointWriter::Flush() {
  if (pending_.empty()) return Status::Ok();
  const std::string file = fmt::format("shard-{}.safetensors", shards_.size());
  std::vector<io::SafetensorsWriteTensor> ts;
  std::vector<std::string> names;
  for (const auto& p : pending_) {
    ts.push_back({p.name, p.dtype, p.shape, p.bytes});
    names.push_back(p.name);
  }
  QF_TRY(io::WriteSafetensors(tmp_ / file, ts, {{"format", "pt"}}));
  shards_.emplace_back(file, std::move(names));
  pending_.clear();
  pending_bytes_ = 0;
  return Status::Ok();
}

Status CheckpointWriter::CopyFile(const fs::path& from, const std::string& name) {
  std::error_code ec;
  if (!fs::copy_file(from, tmp_ / name, fs::copy_options::overwrite_existing, ec)) {
    return MakeError("{}: cannot copy into the output: {}", from.string(), ec.message());
  }
  return Status::Ok();
}

Status CheckpointWriter::WriteBytes(const std::string& name, std::string_view bytes) {
  return io::WriteFileAtomically(tmp_ / name, bytes);
}

Status CheckpointWriter::WriteJson(const std::string& name, const nlohmann::json& j) {
  return io::WriteFileAtomically(tmp_ / name, j.dump(2) + "\n");
}

Status CheckpointWriter::Finish() {
  QF_TRY(Flush());
  if (shards_.empty()) return MakeError("{}: no tensors were written", out_.string());
  std::error_code ec;
  const size_t n = shards_.size();
  if (n == 1) {
    fs::rename(tmp_ / shards_[0].first, tmp_ / "model.safetensors", ec);
    if (ec) return MakeError("{}: cannot rename the shard: {}", tmp_.string(), ec.message());
  } else {
    nlohmann::json map = nlohmann::json::object();
    for (size_t i = 0; i < n; ++i) {
      const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, n);
      fs::rename(tmp_ / shards_[i].first, tmp_ / name, ec);
      if (ec) return MakeError("{}: cannot rename the shard: {}", tmp_.string(), ec.message());
      for (const auto& t : shards_[i].second) map[t] = name;
    }
    nlohmann::json index = {{"metadata", {{"total_size", total_bytes_}}}, {"weight_map", map}};
    QF_TRY(WriteJson("model.safetensors.index.json", index));
  }
  if (!have_manifest_) return MakeError("{}: no manifest was given to the checkpoint writer", out_.string());
  const artifact::ArtifactPaths paths = artifact::PathsFor(tmp_, /*directory=*/true);
  if (have_sbom_) {
    QF_ASSIGN_OR_RETURN(std::vector<artifact::FileEntry> files, artifact::ListFiles(paths));
    QF_TRY(WriteJson(artifact::kSbomName, artifact::BuildSbom(sbom_, files)));
  }
  QF_TRY(artifact::WriteManifest(paths, manifest_));
  if (fs::exists(out_, ec)) {
    if (!overwrite_) return MakeError("{}: appeared while quantizing; not replaced", out_.string());
    fs::remove_all(out_, ec);
    if (ec) return MakeError("{}: cannot remove the old output: {}", out_.string(), ec.message());
  }
  fs::rename(tmp_, out_, ec);
  if (ec) return MakeError("{}: cannot rename {} into place: {}", out_.string(), tmp_.string(), ec.message());
  finished_ = true;
  return Status::Ok();
}

}  // namespace qforge::quant
