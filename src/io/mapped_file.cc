#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace qforge::io {
namespace {

std::string ErrnoText(int e) { return std::strerror(e); }

}  // namespace

Result<MappedFile> MappedFile::Open(const std::filesystem::path& path) {
  const std::string p = path.string();
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MakeError("{}: cannot open: {}", p, ErrnoText(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return MakeError("{}: fstat failed: {}", p, ErrnoText(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return MakeError("{}: not a regular file", p);
  }
  MappedFile f;
  f.path_ = p;
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ > 0) {
    void* addr = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      return MakeError("{}: mmap of {} bytes failed: {}", p, f.size_, ErrnoText(e));
    }
    f.data_ = static_cast<const uint8_t*>(addr);
  }
  ::close(fd);  // the mapping stays valid after close
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(other.data_), size_(other.size_), path_(std::move(other.path_)) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = other.data_;
    size_ = other.size_;
    path_ = std::move(other.path_);
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

Result<AtomicFileWriter> AtomicFileWriter::Create(const std::filesystem::path& path) {
  AtomicFileWriter w;
  w.path_ = path;
  std::string tmpl = path.string() + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const int fd = ::mkstemp(buf.data());
  if (fd < 0) return MakeError("{}: cannot create temporary file {}: {}", path.string(), tmpl, ErrnoText(errno));
  // mkstemp creates 0600; outputs are ordinary files, so use the usual 0644 (minus umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  w.fd_ = fd;
  w.temp_path_ = buf.data();
  return w;
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : fd_(other.fd_), written_(other.written_), path_(std::move(other.path_)), temp_path_(std::move(other.temp_path_)) {
  other.fd_ = -1;
}

AtomicFileWriter& AtomicFileWriter::operator=(AtomicFileWriter&& other) noexcept {
  if (this != &other) {
    Abandon();
    fd_ = other.fd_;
    written_ = other.written_;
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    other.fd_ = -1;
  }
  return *this;
}

AtomicFileWriter::~AtomicFileWriter() { Abandon(); }

void AtomicFileWriter::Abandon() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    std::filesystem::remove(temp_path_, ec);
  }
}

Status AtomicFileWriter::Write(const void* data, size_t n) {
  if (fd_ < 0) return MakeError("{}: write after the file was closed", path_.string());
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t k = ::write(fd_, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      Abandon();
      return MakeError("{}: write failed after {} bytes: {}", path_.string(), written_, ErrnoText(e));
    }
    p += k;
    n -= static_cast<size_t>(k);
    written_ += static_cast<uint64_t>(k);
  }
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return MakeError("{}: commit after the file was closed", path_.string());
  if (::fsync(fd_) != 0) {
    const int e = errno;
    Abandon();
    return MakeError("{}: fsync failed: {}", path_.string(), ErrnoText(e));
  }
  if (::close(fd_) != 0) {
    const int e = errno;
    fd_ = -1;
    std::error_code ec;
    std::filesystem::remove(temp_path_, ec);
    return MakeError("{}: close failed: {}", path_.string(), ErrnoText(e));
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    std::error_code ec;
    std::filesystem::remove(temp_path_, ec);
    return MakeError("{}: rename from {} failed: {}", path_.string(), temp_path_.string(), ErrnoText(e));
  }
  return Status::Ok();
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents) {
  QF_ASSIGN_OR_RETURN(AtomicFileWriter w, AtomicFileWriter::Create(path));
  QF_TRY(w.Write(contents));
  return w.Commit();
}

void ReleasePages(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(bytes.data()) + page - 1) / page * page;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(bytes.data()) + bytes.size()) / page * page;
  if (e > b) (void)madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

}  // namespace qforge::io
