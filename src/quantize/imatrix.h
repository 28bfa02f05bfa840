// Importance matrices: per weight tensor, one value per input column (row element) giving how
// much that column matters, the mean of the squared activations that multiply it. Stored in the
// binary layout other GGUF tools use for .imatrix/.dat files (name, number of calls, values that
// are the running mean times the number of calls), so files can be exchanged. The collector
// (src/cli/cmd_imatrix.cpp) feeds it through the forward pass's MatmulObserver (model/model.h);
// this file is only the data and its I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pocket::quantize {

struct ImatrixEntry {
  std::vector<double> sum_sq;  // [row_len] sum over observed rows of x^2
  int64_t n_rows = 0;          // activation rows observed (after load: n_calls, see imatrix.cpp)
  int32_t n_calls = 0;         // forward passes that touched this tensor
};

class Imatrix {
 public:
  // Reads a file; throws pocket::Error naming the file and what is wrong.
  static Imatrix load(const std::string& path);
  // Writes via a temporary name and rename.
  void save(const std::string& path) const;

  // Adds n_rows activation rows of row_len values feeding tensor `name`.
  void accumulate(const std::string& name, const float* x, int64_t n_rows, int64_t row_len);
  // Marks the end of one forward pass (n_calls of every touched tensor advances).
  void end_call();

  // The importance of each column of `name` (mean squared activation), or empty if unknown.
  std::vector<float> importance(const std::string& name) const;
  size_t size() const { return entries_.size(); }
  const std::map<std::string, ImatrixEntry>& entries() const { return entries_; }

  std::string dataset;  // the text file it was collected on

 private:
  std::map<std::string, ImatrixEntry> entries_;
  std::map<std::string, bool> touched_;
};

}  // namespace pocket::quantize
