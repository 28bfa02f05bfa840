// GGUF reader: parse and validate (see gguf.h). Every read goes through Cursor, which checks
// bounds first, so a truncated or corrupt file can only ever produce a pocket::Error.
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/gguf.h"

namespace pocket::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxDims = 4;
constexpr int kMaxArrayNesting = 8;

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL:
      return 1;
    case ValueType::UINT16:
    case ValueType::INT16:
      return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32:
      return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
      return 8;
    case ValueType::STRING:
    case ValueType::ARRAY:
      return 0;
  }
  return 0;
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::FLOAT64); }

// Decodes one numeric element from little-endian bytes into a Value's u/i/f fields.
void decode_scalar(ValueType t, const uint8_t* p, Value& v) {
  v.type = t;
  switch (t) {
    case ValueType::UINT8: v.u = p[0]; break;
    case ValueType::INT8: v.i = static_cast<int8_t>(p[0]); break;
    case ValueType::BOOL: v.u = p[0] != 0; break;
    case ValueType::UINT16: { uint16_t x; std::memcpy(&x, p, 2); v.u = x; break; }
    case ValueType::INT16: { int16_t x; std::memcpy(&x, p, 2); v.i = x; break; }
    case ValueType::UINT32: { uint32_t x; std::memcpy(&x, p, 4); v.u = x; break; }
    case ValueType::INT32: { int32_t x; std::memcpy(&x, p, 4); v.i = x; break; }
    case ValueType::UINT64: { uint64_t x; std::memcpy(&x, p, 8); v.u = x; break; }
    case ValueType::INT64: { int64_t x; std::memcpy(&x, p, 8); v.i = x; break; }
    case ValueType::FLOAT32: { float x; std::memcpy(&x, p, 4); v.f = x; return; }
    case ValueType::FLOAT64: { double x; std::memcpy(&x, p, 8); v.f = x; return; }
    case ValueType::STRING:
    case ValueType::ARRAY: return;
  }
  // Mirror integers across the fields so accessors need not care about signedness.
  switch (t) {
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64:
      v.u = static_cast<uint64_t>(v.i);
      v.f = static_cast<double>(v.i);
      break;
    default:
      v.i = static_cast<int64_t>(v.u);
      v.f = static_cast<double>(v.u);
  }
}

class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size, const std::string& file)
      : base_(base), size_(size), file_(file) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  const uint8_t* take(size_t n, const std::string& what) {
    if (n > remaining()) {
      fail(file_, ": truncated while reading ", what, " at offset ", pos_, " (need ", n,
           " bytes, ", remaining(), " left)");
    }
    const uint8_t* p = base_ + pos_;
    pos_ += n;
    return p;
  }
  template <class T>
  T read(const std::string& what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }
  std::string_view read_string(const std::string& what) {
    uint64_t len = read<uint64_t>(what + " length");
    if (len > remaining()) {
      fail(file_, ": ", what, " length ", len, " runs past the end of the file (", remaining(),
           " bytes left at offset ", pos_, ")");
    }
    const uint8_t* p = take(static_cast<size_t>(len), what);
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(len)};
  }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& file_;
};

Value read_value(Cursor& c, ValueType type, const std::string& what, const std::string& file,
                 int depth);

Array read_array(Cursor& c, const std::string& what, const std::string& file, int depth) {
  if (depth > kMaxArrayNesting) fail(file, ": ", what, ": arrays nested deeper than ", kMaxArrayNesting);
  uint32_t raw_elem = c.read<uint32_t>(what + " element type");
  if (!valid_value_type(raw_elem)) fail(file, ": ", what, ": invalid array element type ", raw_elem);
  Array a;
  a.elem_type = static_cast<ValueType>(raw_elem);
  a.count = c.read<uint64_t>(what + " element count");
  // Every element takes at least this many bytes, so the count is bounded by the file.
  size_t min_elem = a.elem_type == ValueType::STRING  ? 8
                    : a.elem_type == ValueType::ARRAY ? 12
                                                      : scalar_size(a.elem_type);
  if (a.count > c.remaining() / min_elem) {
    fail(file, ": ", what, ": array of ", a.count, " ", value_type_name(a.elem_type),
         " elements cannot fit in the ", c.remaining(), " bytes left");
  }
  if (a.elem_type == ValueType::STRING) {
    a.strings.reserve(a.count);
    for (uint64_t k = 0; k < a.count; ++k) a.strings.push_back(c.read_string(what + " element"));
  } else if (a.elem_type == ValueType::ARRAY) {
    a.arrays.reserve(a.count);
    for (uint64_t k = 0; k < a.count; ++k) {
      a.arrays.push_back(read_value(c, ValueType::ARRAY, what + "[]", file, depth + 1));
    }
  } else {
    a.raw = c.take(static_cast<size_t>(a.count) * min_elem, what + " elements");
  }
  return a;
}

Value read_value(Cursor& c, ValueType type, const std::string& what, const std::string& file,
                 int depth) {
  Value v;
  v.type = type;
  if (type == ValueType::STRING) {
    v.str = c.read_string(what);
  } else if (type == ValueType::ARRAY) {
    v.array = std::make_shared<const Array>(read_array(c, what, file, depth));
  } else {
    decode_scalar(type, c.take(scalar_size(type), what), v);
  }
  return v;
}

}  // namespace

std::string_view value_type_name(ValueType type) {
  static constexpr std::string_view kNames[] = {"uint8",   "int8",  "uint16", "int16", "uint32",
                                                "int32",   "float32", "bool", "string", "array",
                                                "uint64",  "int64", "float64"};
  auto i = static_cast<uint32_t>(type);
  return i < std::size(kNames) ? kNames[i] : std::string_view("invalid");
}

bool is_integer(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::INT8 || t == ValueType::UINT16 ||
         t == ValueType::INT16 || t == ValueType::UINT32 || t == ValueType::INT32 ||
         t == ValueType::UINT64 || t == ValueType::INT64;
}
bool is_float(ValueType t) { return t == ValueType::FLOAT32 || t == ValueType::FLOAT64; }

int64_t Array::get_int(size_t index) const {
  if (index >= count || !is_integer(elem_type)) fail("array element ", index, " is not an integer");
  Value v;
  decode_scalar(elem_type, raw + index * scalar_size(elem_type), v);
  return v.i;
}

double Array::get_float(size_t index) const {
  if (index >= count || !(is_integer(elem_type) || is_float(elem_type))) {
    fail("array element ", index, " is not a number");
  }
  Value v;
  decode_scalar(elem_type, raw + index * scalar_size(elem_type), v);
  return v.f;
}

std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "]";
}

File File::open(const std::string& path) {
  File f;
  f.name_ = path;
  f.map_ = MappedFile(path);
  f.base_ = f.map_.data();
  f.size_ = f.map_.size();
  f.parse();
  return f;
}

File File::from_memory(std::vector<uint8_t> bytes, const std::string& name) {
  File f;
  f.name_ = name;
  f.memory_ = std::move(bytes);
  f.base_ = f.memory_.data();
  f.size_ = f.memory_.size();
  f.parse();
  return f;
}

void File::parse() {
  const std::string& file = name_;
  Cursor c(base_, size_, file);
  uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) fail(file, ": not a GGUF file (bad magic 0x", std::hex, magic, ")");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    fail(file, ": unsupported GGUF version ", version_, " (supported: 2, 3)");
  }
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // A key-value pair takes at least 12 bytes (key length + type), a tensor info at least 24.
  if (n_kv > c.remaining() / 12) fail(file, ": metadata count ", n_kv, " cannot fit in the file");
  if (n_tensors > c.remaining() / 24) fail(file, ": tensor count ", n_tensors, " cannot fit in the file");

  // The indexes hold views of the names: reserve so that growing never moves them.
  kv_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key(c.read_string("metadata key " + std::to_string(k)));
    uint32_t raw_type = c.read<uint32_t>("type of metadata key '" + key + "'");
    if (!valid_value_type(raw_type)) fail(file, ": metadata key '", key, "' has invalid type ", raw_type);
    Value v = read_value(c, static_cast<ValueType>(raw_type), "metadata key '" + key + "'", file, 0);
    if (find(key) != nullptr) fail(file, ": duplicate metadata key '", key, "'");
    kv_.emplace_back(std::move(key), std::move(v));
    kv_index_.emplace(kv_.back().first, kv_.size() - 1);
  }

  if (const Value* a = find("general.alignment")) {
    if (!is_integer(a->type) || a->u == 0 || a->u > (1u << 30) || (a->u & (a->u - 1)) != 0) {
      fail(file, ": general.alignment must be a power of two, got ", a->to_display());
    }
    alignment_ = static_cast<uint32_t>(a->u);
  }

  tensors_.reserve(n_tensors);
  for (uint64_t t = 0; t < n_tensors; ++t) {
    TensorInfo info;
    info.name = std::string(c.read_string("tensor " + std::to_string(t) + " name"));
    const std::string what = "tensor '" + info.name + "'";
    uint32_t n_dims = c.read<uint32_t>(what + " dimension count");
    if (n_dims == 0 || n_dims > kMaxDims) fail(file, ": ", what, " has ", n_dims, " dimensions (1..4 allowed)");
    info.n_dims = static_cast<int>(n_dims);
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = c.read<uint64_t>(what + " dimension " + std::to_string(d));
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          static_cast<uint64_t>(n_elements) > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne) {
        fail(file, ": ", what, " dimension ", d, " = ", ne, " is zero or overflows the element count");
      }
      info.ne[d] = static_cast<int64_t>(ne);
      n_elements *= info.ne[d];
    }
    uint32_t raw_type = c.read<uint32_t>(what + " type");
    auto geometry = dtype_geometry(raw_type);
    if (!geometry) fail(file, ": ", what, " has unknown type id ", raw_type);
    info.type = geometry->type;
    if (info.ne[0] % geometry->block_size != 0) {
      fail(file, ": ", what, " row length ", info.ne[0], " is not a multiple of the ",
           geometry->name, " block size ", geometry->block_size);
    }
    uint64_t n_blocks = static_cast<uint64_t>(n_elements / geometry->block_size);
    if (n_blocks > std::numeric_limits<uint64_t>::max() / geometry->block_bytes) {
      fail(file, ": ", what, " byte size overflows");
    }
    info.n_bytes = static_cast<size_t>(n_blocks * geometry->block_bytes);
    info.offset = c.read<uint64_t>(what + " offset");
    if (info.offset % alignment_ != 0) {
      fail(file, ": ", what, " offset ", info.offset, " is not a multiple of the alignment ", alignment_);
    }
    if (find_tensor(info.name) != nullptr) fail(file, ": duplicate tensor name '", info.name, "'");
    tensors_.push_back(std::move(info));
    tensor_index_.emplace(tensors_.back().name, tensors_.size() - 1);
  }

  uint64_t header_end = c.pos();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_offset_ > size_) {
    fail(file, ": data section starts at ", data_offset_, ", past the end of the file (", size_, " bytes)");
  }
  uint64_t data_size = size_ > data_offset_ ? size_ - data_offset_ : 0;

  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      fail(file, ": tensor '", t.name, "' data [", t.offset, ", +", t.n_bytes,
           ") lies outside the data section of ", data_size, " bytes");
    }
    t.data = base_ + data_offset_ + t.offset;
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const TensorInfo* prev = by_offset[k - 1];
    if (prev->offset + prev->n_bytes > by_offset[k]->offset) {
      fail(file, ": tensors '", prev->name, "' and '", by_offset[k]->name, "' overlap");
    }
  }
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const Value& File::require(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) fail(name_, ": required metadata key '", key, "' is missing");
  return *v;
}

int64_t File::get_int(std::string_view key) const {
  const Value& v = require(key);
  if (!is_integer(v.type)) {
    fail(name_, ": metadata key '", key, "' has type ", value_type_name(v.type), ", expected an integer");
  }
  return v.i;
}

int64_t File::get_int(std::string_view key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double File::get_float(std::string_view key) const {
  const Value& v = require(key);
  if (!is_float(v.type) && !is_integer(v.type)) {
    fail(name_, ": metadata key '", key, "' has type ", value_type_name(v.type), ", expected a number");
  }
  return v.f;
}

double File::get_float(std::string_view key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}

bool File::get_bool(std::string_view key, bool fallback) const {
  const Value* v = find(key);
  if (v == nullptr) return fallback;
  if (v->type != ValueType::BOOL && !is_integer(v->type)) {
    fail(name_, ": metadata key '", key, "' has type ", value_type_name(v->type), ", expected bool");
  }
  return v->u != 0;
}

std::string_view File::get_string(std::string_view key) const {
  const Value& v = require(key);
  if (v.type != ValueType::STRING) {
    fail(name_, ": metadata key '", key, "' has type ", value_type_name(v.type), ", expected string");
  }
  return v.str;
}

std::string_view File::get_string(std::string_view key, std::string_view fallback) const {
  return has(key) ? get_string(key) : fallback;
}

const Array& File::get_array(std::string_view key) const {
  const Array* a = find_array(key);
  if (a == nullptr) fail(name_, ": required metadata key '", key, "' is missing");
  return *a;
}

const Array* File::find_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return nullptr;
  if (v->type != ValueType::ARRAY) {
    fail(name_, ": metadata key '", key, "' has type ", value_type_name(v->type), ", expected array");
  }
  return v->array.get();
}

}  // namespace pocket::gguf
