// MappedFile: a read-only memory map of a whole file (RAII), and AtomicFileWriter: every qforge output
// is written to "<path>.tmp-XXXXXX" in the same directory and renamed over <path> on Commit(), so a
// failure (or a crash) never leaves a partial file at <path>.
//
// Thread safety: a MappedFile is immutable after Open; concurrent reads of bytes() are safe. Moving a
// MappedFile keeps the mapping at the same address, so spans into it stay valid for its lifetime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace qforge::io {

class MappedFile {
 public:
  // Maps `path` read-only (MAP_PRIVATE). An empty file gives an empty span. Errors name the path and
  // the failing system call (errno text).
  static Result<MappedFile> Open(const std::filesystem::path& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }  // as given to Open, for error messages

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Drops the resident pages of a read-only file mapping that lie entirely inside `bytes`
// (madvise MADV_DONTNEED): they are re-read from the file if touched again. Lets a streaming pass
// over a large checkpoint (quant/pipeline) keep one layer resident instead of the whole file.
// A hint: failures are ignored.
void ReleasePages(std::span<const uint8_t> bytes);

// Writes a file atomically: Create() opens a unique temporary "<path>.tmp-XXXXXX" beside <path>;
// Write() appends; Commit() flushes, fsyncs, closes and renames it to <path>. If the writer is
// destroyed without a successful Commit() (error path), the temporary file is removed.
class AtomicFileWriter {
 public:
  static Result<AtomicFileWriter> Create(const std::filesystem::path& path);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  Status Write(const void* data, size_t n);
  Status Write(std::string_view s) { return Write(s.data(), s.size()); }
  Status Write(std::span<const uint8_t> s) { return Write(s.data(), s.size()); }
  uint64_t bytes_written() const { return written_; }
  // Finishes the file; after Commit (ok or not) the writer is closed.
  Status Commit();

  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }

 private:
  AtomicFileWriter() = default;
  void Abandon();
  int fd_ = -1;
  uint64_t written_ = 0;
  std::filesystem::path path_;
  std::filesystem::path temp_path_;
};

// Convenience: the whole of `contents` written atomically to `path`.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace qforge::io
