// A read-only memory-mapped file. Model weights live here and are never copied (DESIGN.md).
// Not a general file abstraction: it maps the whole file once and unmaps on destruction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pocket {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);  // throws Error naming the path
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Maps every page now, in one batched pass (reading it if it is not cached), instead of
  // one page fault per 4 KiB on first use: seconds for a 1 GB model in a VM. Call it once the
  // file is known to be wanted in full (inference), not for a metadata read. Best effort.
  void prefault() const;

 private:
  void release();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace pocket
