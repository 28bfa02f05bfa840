#include "core/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace pocket {

void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& body) {
  const std::string tmp = path + ".partial";
  std::FILE* out = std::fopen(tmp.c_str(), "wb");
  if (out == nullptr) fail(path, ": cannot create output file: ", std::strerror(errno));
  try {
    body(out);
  } catch (...) {
    std::fclose(out);
    std::remove(tmp.c_str());
    throw;
  }
  const bool written = std::fflush(out) == 0 && std::ferror(out) == 0;
  const int write_errno = errno;  // of the failed flush, or of an earlier failed fwrite
  if (std::fclose(out) != 0 || !written) {
    const int err = written ? errno : write_errno;
    std::remove(tmp.c_str());
    fail(path, ": write failed: ", err != 0 ? std::strerror(err) : "unknown error");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail(path, ": cannot rename temporary file into place: ", ec.message());
  }
}

}  // namespace pocket
