// File types (the names users pass to `pocket quantize`: Q4_K_M, Q8_0, ...) and the per-tensor
// type mix each one stands for: which tensors get more bits (output, tied token embedding,
// attention V and FFN down in some layers) and which fallback a tensor gets when its rows are
// not a multiple of the chosen type's block. The rules are those users know from llama.cpp's
// quantize tool, so file sizes and tensor types agree with its files. Not the quantizers
// themselves (tensor/quantize.h) nor file I/O (quantize_file.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/types.h"

namespace pocket::quantize {

// The general.file_type values (llama.cpp's llama_ftype ids).
enum class FileType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 7,
  Q5_0 = 8,
  Q5_1 = 9,
  Q2_K = 10,
  Q3_K_S = 11,
  Q3_K_M = 12,
  Q3_K_L = 13,
  Q4_K_S = 14,
  Q4_K_M = 15,
  Q5_K_S = 16,
  Q5_K_M = 17,
  Q6_K = 18,
  BF16 = 32,
};

struct FileTypeInfo {
  FileType type;
  std::string_view name;  // "Q4_K_M"
  DType base;             // the type most 2-D weights get
  std::string_view description;
};

const std::vector<FileTypeInfo>& file_types();
const FileTypeInfo& file_type_info(FileType type);
// Case-insensitive lookup ("q4_k_m" or "Q4_K_M").
std::optional<FileType> file_type_from_name(std::string_view name);
// "F32, F16, BF16, Q8_0, ..." for error messages.
std::string file_type_names();
// The file type recorded in an input's general.file_type, if it is one we know.
std::optional<FileType> file_type_from_id(uint32_t id);

// What the type mix needs to know about the whole model.
struct ModelInfo {
  std::string arch;
  int64_t n_layers = 0;     // number of attn_v (or attn_qkv) tensors
  int64_t n_gqa = 1;        // query heads per KV head
  bool has_output = false;  // a separate output.weight (else the embedding is tied)
};

// Whether a tensor is a weight that gets quantized at all (2-D or more, named "*.weight",
// not a position/type embedding or RoPE frequency table). Others keep their type.
bool is_quantizable(std::string_view name, int n_dims);

// Layer index from "blk.N.*", or -1.
int layer_of(std::string_view name);

struct TypeChoice {
  DType type;             // what to write
  DType wanted;           // what the mix asked for before any fallback
  bool fallback = false;  // the row length did not fit `wanted`'s block
};

struct MixOptions {
  bool pure = false;         // every quantizable tensor gets the base type (no mix)
  bool has_imatrix = false;  // some rules change when an importance matrix is given
};

// Type for one quantizable tensor of row length row_len.
// Throws pocket::Error if no type can hold rows of that length.
TypeChoice choose_type(const ModelInfo& model, std::string_view name, int64_t row_len,
                       FileType ftype, const MixOptions& options);

}  // namespace pocket::quantize
