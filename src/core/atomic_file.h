// Writing a whole file so that a failure (disk full, a bad path, an error thrown while the
// bytes are produced) leaves no partial file and any earlier file at the path as it was: the
// bytes go to `path.partial`, which is renamed over `path` only once all of them are written.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

namespace pocket {

// `body` writes the file's bytes to the stream it is given. Its plain fwrite calls need no
// checks: a failed one sets the stream's error flag, which is checked after it returns.
// Throws pocket::Error naming `path` ("cannot create output file", "write failed", ...).
void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& body);

}  // namespace pocket
