// GGUF v2/v3 reader and writer.
// The reader memory-maps the file and validates everything before anything is used:
// every length, count, offset and shape is checked against the file, and any problem is a
// pocket::Error naming the file and the field or tensor. Tensor data and strings are views
// into the mapping (zero-copy). Not a model loader: it knows nothing of architectures.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"
#include "gguf/types.h"

namespace pocket::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view value_type_name(ValueType type);
bool is_integer(ValueType type);
bool is_float(ValueType type);

struct Array;

// One metadata value. Scalars are widened into u/i/f; strings view the mapping (or, for
// values built in memory for the writer, `owned`).
struct Value {
  ValueType type = ValueType::UINT32;
  uint64_t u = 0;  // unsigned integers and bool
  int64_t i = 0;   // signed integers (also set for unsigned ones that fit)
  double f = 0;    // floats (also set for integers)
  std::string_view str;
  std::shared_ptr<const std::string> owned;  // backing store of str when not in a file
  std::shared_ptr<const Array> array;

  static Value from_u32(uint32_t v);
  static Value from_i32(int32_t v);
  static Value from_u64(uint64_t v);
  static Value from_f32(float v);
  static Value from_bool(bool v);
  static Value from_string(std::string v);
  static Value from_array(Array a);

  bool as_bool() const { return u != 0; }
  std::string to_display(size_t max_items = 8) const;  // abbreviated human-readable form
};

// An array value. Numeric elements stay as little-endian bytes (in the file, or `owned_raw`).
struct Array {
  ValueType elem_type = ValueType::UINT8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;            // numeric elements
  std::vector<uint8_t> owned_raw;          // backing store when built in memory
  std::vector<std::string_view> strings;   // elem_type == STRING
  std::vector<std::shared_ptr<const std::string>> owned_strings;
  std::vector<Value> arrays;               // elem_type == ARRAY

  size_t size() const { return static_cast<size_t>(count); }
  int64_t get_int(size_t index) const;     // any integer element type
  double get_float(size_t index) const;    // any numeric element type
  std::string_view get_string(size_t index) const { return strings.at(index); }

  static Array of_strings(const std::vector<std::string>& items);
  static Array of_f32(std::span<const float> items);
  static Array of_i32(std::span<const int32_t> items);
};

struct TensorInfo {
  std::string name;
  DType type = DType::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the row length (contiguous), as in ggml
  uint64_t offset = 0;           // from the start of the data section
  size_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "[256, 128]"
};

class File {
 public:
  // Opens and validates a GGUF file; throws pocket::Error naming `path` and the field.
  static File open(const std::string& path);
  // Validates an in-memory image (used by tests and fuzzing); `name` is used in messages.
  static File from_memory(std::vector<uint8_t> bytes, const std::string& name);

  const std::string& path() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  size_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_offset_; }
  // Brings the whole mapped file in now (MappedFile::prefault); nothing for in-memory images.
  void prefault() const { map_.prefault(); }

  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed accessors: throw Error naming the file and key if missing or of the wrong type.
  int64_t get_int(std::string_view key) const;
  int64_t get_int(std::string_view key, int64_t fallback) const;
  double get_float(std::string_view key) const;  // floats, or integers converted
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::string_view get_string(std::string_view key) const;
  std::string_view get_string(std::string_view key, std::string_view fallback) const;
  const Array& get_array(std::string_view key) const;
  const Array* find_array(std::string_view key) const;  // nullptr if missing; throws if not an array

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  void parse();
  const Value& require(std::string_view key) const;

  std::string name_;
  MappedFile map_;
  std::vector<uint8_t> memory_;  // from_memory() images
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Builds a GGUF v3 file. Metadata keeps insertion order; setting a key again replaces it.
// write() goes to a temporary name beside the target and renames it into place at the end,
// so a failure (disk full, bad path) leaves no partial file.
class Writer {
 public:
  // Produces a tensor's bytes at write time (lets quantize stream tensor by tensor).
  using Producer = std::function<void(std::vector<uint8_t>& out)>;

  void set(const std::string& key, Value value);
  void remove(const std::string& key);
  void set_alignment(uint32_t alignment) { alignment_ = alignment; }

  // `data` must stay valid until write(); size must equal the type's row bytes x rows.
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> shape,
                  const void* data);
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> shape,
                  Producer producer);

  void write(const std::string& path) const;
  std::vector<uint8_t> to_bytes() const;  // the whole file image in memory

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    size_t n_bytes;
    const void* data;
    Producer producer;
  };
  void add(PendingTensor t);
  void write_to(std::FILE* out, const std::string& what) const;

  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<PendingTensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace pocket::gguf
