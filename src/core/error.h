// pocket::Error: the one exception type library code throws for anything that depends on input.
// Messages say what, where, expected and actual, e.g.
//   "model.gguf: tensor 'blk.3.attn_q.weight' has shape [256,128], expected [256,256]".
// Front ends (CLI, server, Python) catch it at their boundary; nothing below them exits or aborts.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace pocket {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Concatenates any streamable values into a string (g++ 12 has no <format>).
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

// Throws pocket::Error whose message is the concatenation of args.
template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(cat(std::forward<Args>(args)...));
}

}  // namespace pocket
