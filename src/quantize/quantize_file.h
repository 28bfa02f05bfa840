// Quantizing a GGUF file: every weight tensor is converted to the type the file type's mix
// gives it (type_mix.h), everything else is copied, all metadata is kept (general.file_type is
// updated), and the output appears only when complete (temporary name, then rename).
// Not the command line: cmd_quantize.cpp parses arguments and prints progress.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "gguf/gguf.h"
#include "quantize/type_mix.h"

namespace pocket::quantize {

struct TensorProgress {
  int index = 0;  // 1-based
  int count = 0;
  std::string name;
  std::string shape;
  DType from = DType::F32;
  DType to = DType::F32;
  bool converted = false;  // false: copied unchanged
  bool fallback = false;   // the mix's type did not fit the row length
  DType wanted = DType::F32;
  size_t in_bytes = 0;
  size_t out_bytes = 0;
};

struct QuantizeOptions {
  std::string input;
  std::string output;
  FileType ftype = FileType::Q8_0;
  bool allow_requantize = false;
  bool pure = false;
  std::string imatrix_path;                              // empty: none
  int n_threads = 0;                                     // 0: all cores
  std::function<void(const TensorProgress&)> on_tensor;  // called after each tensor is planned
};

struct QuantizeSummary {
  size_t in_bytes = 0;  // tensor data
  size_t out_bytes = 0;
  size_t file_bytes = 0;
  int n_tensors = 0;
  int n_converted = 0;
  int n_fallback = 0;
  int n_with_importance = 0;
  double seconds = 0;
};

// Throws pocket::Error (naming the file and tensor) before writing anything for bad input:
// a non-GGUF file, a requantization without allow_requantize, a type without arithmetic.
QuantizeSummary quantize_file(const QuantizeOptions& options);

// The model facts the type mix needs, read from a GGUF file.
ModelInfo model_info(const gguf::File& file);

}  // namespace pocket::quantize
