// Where tests find the shared reference material: ../shared beside the repository root.
#pragma once

#include <string>

namespace pocket::test {

inline std::string shared_dir() { return std::string(POCKET_SOURCE_DIR) + "/../shared"; }
inline std::string model_path(const std::string& file) { return shared_dir() + "/models/" + file; }
inline std::string pocket_binary() { return std::string(POCKET_BINARY_DIR) + "/src/cli/pocket"; }

}  // namespace pocket::test
