// GGUF writer and in-memory Value construction (see gguf.h).
#include <cstdio>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace pocket::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;
constexpr uint32_t kVersion = 3;

class ByteSink {
 public:
  explicit ByteSink(std::vector<uint8_t>& out) : out_(out) {}
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out_.insert(out_.end(), p, p + sizeof(T));
  }
  void put_bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    put_bytes(s.data(), s.size());
  }

 private:
  std::vector<uint8_t>& out_;
};

size_t numeric_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    default: return 0;
  }
}

void put_scalar(ByteSink& sink, const Value& v) {
  switch (v.type) {
    case ValueType::UINT8: sink.put<uint8_t>(static_cast<uint8_t>(v.u)); break;
    case ValueType::INT8: sink.put<int8_t>(static_cast<int8_t>(v.i)); break;
    case ValueType::BOOL: sink.put<uint8_t>(v.u != 0); break;
    case ValueType::UINT16: sink.put<uint16_t>(static_cast<uint16_t>(v.u)); break;
    case ValueType::INT16: sink.put<int16_t>(static_cast<int16_t>(v.i)); break;
    case ValueType::UINT32: sink.put<uint32_t>(static_cast<uint32_t>(v.u)); break;
    case ValueType::INT32: sink.put<int32_t>(static_cast<int32_t>(v.i)); break;
    case ValueType::UINT64: sink.put<uint64_t>(v.u); break;
    case ValueType::INT64: sink.put<int64_t>(v.i); break;
    case ValueType::FLOAT32: sink.put<float>(static_cast<float>(v.f)); break;
    case ValueType::FLOAT64: sink.put<double>(v.f); break;
    default: break;
  }
}

void put_value(ByteSink& sink, const Value& v) {
  if (v.type == ValueType::STRING) {
    sink.put_string(v.str);
  } else if (v.type == ValueType::ARRAY) {
    const Array& a = *v.array;
    sink.put<uint32_t>(static_cast<uint32_t>(a.elem_type));
    sink.put<uint64_t>(a.count);
    if (a.elem_type == ValueType::STRING) {
      for (auto s : a.strings) sink.put_string(s);
    } else if (a.elem_type == ValueType::ARRAY) {
      for (const auto& sub : a.arrays) put_value(sink, sub);
    } else {
      sink.put_bytes(a.raw, a.count * numeric_size(a.elem_type));
    }
  } else {
    put_scalar(sink, v);
  }
}

}  // namespace

Value Value::from_u32(uint32_t v) {
  Value x;
  x.type = ValueType::UINT32;
  x.u = v;
  x.i = v;
  x.f = v;
  return x;
}
Value Value::from_i32(int32_t v) {
  Value x;
  x.type = ValueType::INT32;
  x.i = v;
  x.u = static_cast<uint64_t>(static_cast<int64_t>(v));
  x.f = v;
  return x;
}
Value Value::from_u64(uint64_t v) {
  Value x;
  x.type = ValueType::UINT64;
  x.u = v;
  x.i = static_cast<int64_t>(v);
  x.f = static_cast<double>(v);
  return x;
}
Value Value::from_f32(float v) {
  Value x;
  x.type = ValueType::FLOAT32;
  x.f = v;
  return x;
}
Value Value::from_bool(bool v) {
  Value x;
  x.type = ValueType::BOOL;
  x.u = v;
  x.i = v;
  return x;
}
Value Value::from_string(std::string v) {
  Value x;
  x.type = ValueType::STRING;
  x.owned = std::make_shared<const std::string>(std::move(v));
  x.str = *x.owned;
  return x;
}
Value Value::from_array(Array a) {
  Value x;
  x.type = ValueType::ARRAY;
  x.array = std::make_shared<const Array>(std::move(a));
  return x;
}

std::string Value::to_display(size_t max_items) const {
  switch (type) {
    case ValueType::STRING: return "\"" + std::string(str) + "\"";
    case ValueType::BOOL: return u ? "true" : "false";
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: return cat(f);
    case ValueType::ARRAY: {
      const Array& a = *array;
      std::string s = "[";
      size_t shown = std::min<size_t>(a.size(), max_items);
      for (size_t k = 0; k < shown; ++k) {
        if (k) s += ", ";
        if (a.elem_type == ValueType::STRING) {
          s += "\"" + std::string(a.strings[k]) + "\"";
        } else if (a.elem_type == ValueType::ARRAY) {
          s += a.arrays[k].to_display(max_items);
        } else if (is_float(a.elem_type)) {
          s += cat(a.get_float(k));
        } else {
          s += std::to_string(a.get_int(k));
        }
      }
      if (a.size() > shown) s += cat(", ... (", a.size(), " ", value_type_name(a.elem_type), ")");
      return s + "]";
    }
    default:
      if (type == ValueType::INT8 || type == ValueType::INT16 || type == ValueType::INT32 ||
          type == ValueType::INT64) {
        return std::to_string(i);
      }
      return std::to_string(u);
  }
}

Array Array::of_strings(const std::vector<std::string>& items) {
  Array a;
  a.elem_type = ValueType::STRING;
  a.count = items.size();
  a.owned_strings.reserve(items.size());
  a.strings.reserve(items.size());
  for (const auto& s : items) {
    a.owned_strings.push_back(std::make_shared<const std::string>(s));
    a.strings.push_back(*a.owned_strings.back());
  }
  return a;
}

Array Array::of_f32(std::span<const float> items) {
  Array a;
  a.elem_type = ValueType::FLOAT32;
  a.count = items.size();
  a.owned_raw.resize(items.size_bytes());
  std::memcpy(a.owned_raw.data(), items.data(), items.size_bytes());
  a.raw = a.owned_raw.data();
  return a;
}

Array Array::of_i32(std::span<const int32_t> items) {
  Array a;
  a.elem_type = ValueType::INT32;
  a.count = items.size();
  a.owned_raw.resize(items.size_bytes());
  std::memcpy(a.owned_raw.data(), items.data(), items.size_bytes());
  a.raw = a.owned_raw.data();
  return a;
}

void Writer::set(const std::string& key, Value value) {
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  kv_.emplace_back(key, std::move(value));
}

void Writer::remove(const std::string& key) {
  std::erase_if(kv_, [&](const auto& kv) { return kv.first == key; });
}

void Writer::add(PendingTensor t) {
  if (t.shape.empty() || t.shape.size() > 4) fail("tensor '", t.name, "': 1..4 dimensions required");
  const auto& g = dtype_geometry(t.type);
  int64_t n = 1;
  for (int64_t d : t.shape) {
    if (d <= 0) fail("tensor '", t.name, "': dimensions must be positive");
    n *= d;
  }
  if (t.shape[0] % g.block_size != 0) {
    fail("tensor '", t.name, "': row length ", t.shape[0], " is not a multiple of the ", g.name,
         " block size ", g.block_size);
  }
  t.n_bytes = static_cast<size_t>(n / g.block_size) * g.block_bytes;
  for (const auto& other : tensors_) {
    if (other.name == t.name) fail("duplicate tensor name '", t.name, "'");
  }
  tensors_.push_back(std::move(t));
}

void Writer::add_tensor(const std::string& name, DType type, std::vector<int64_t> shape,
                        const void* data) {
  add({name, type, std::move(shape), 0, data, nullptr});
}

void Writer::add_tensor(const std::string& name, DType type, std::vector<int64_t> shape,
                        Producer producer) {
  add({name, type, std::move(shape), 0, nullptr, std::move(producer)});
}

void Writer::write_to(std::FILE* out, const std::string& what) const {
  std::vector<uint8_t> buf;
  ByteSink sink(buf);
  sink.put<uint32_t>(kMagic);
  sink.put<uint32_t>(kVersion);
  sink.put<uint64_t>(tensors_.size());
  bool has_alignment = false;
  for (const auto& [k, v] : kv_) has_alignment |= k == "general.alignment";
  sink.put<uint64_t>(kv_.size() + (has_alignment || alignment_ == 32 ? 0 : 1));
  for (const auto& [k, v] : kv_) {
    sink.put_string(k);
    sink.put<uint32_t>(static_cast<uint32_t>(v.type));
    put_value(sink, v);
  }
  if (!has_alignment && alignment_ != 32) {
    sink.put_string("general.alignment");
    sink.put<uint32_t>(static_cast<uint32_t>(ValueType::UINT32));
    sink.put<uint32_t>(alignment_);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    sink.put_string(t.name);
    sink.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) sink.put<uint64_t>(static_cast<uint64_t>(d));
    sink.put<uint32_t>(static_cast<uint32_t>(t.type));
    sink.put<uint64_t>(offset);
    offset += (t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  auto pad = [&](std::vector<uint8_t>& b) {
    while (b.size() % alignment_ != 0) b.push_back(0);
  };
  pad(buf);
  auto flush = [&](const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, out) != n) fail(what, ": write failed (disk full?)");
  };
  flush(buf.data(), buf.size());
  std::vector<uint8_t> produced;
  for (const auto& t : tensors_) {
    const void* data = t.data;
    if (t.producer) {
      produced.clear();
      t.producer(produced);
      if (produced.size() != t.n_bytes) {
        fail(what, ": tensor '", t.name, "' produced ", produced.size(), " bytes, expected ", t.n_bytes);
      }
      data = produced.data();
    }
    flush(data, t.n_bytes);
    static const uint8_t kZeros[64] = {};
    size_t padding = (alignment_ - t.n_bytes % alignment_) % alignment_;
    while (padding > 0) {
      size_t n = std::min<size_t>(padding, sizeof(kZeros));
      flush(kZeros, n);
      padding -= n;
    }
  }
}

void Writer::write(const std::string& path) const {
  write_file_atomically(path, [&](std::FILE* out) { write_to(out, path); });
}

std::vector<uint8_t> Writer::to_bytes() const {
  std::FILE* mem = std::tmpfile();
  if (mem == nullptr) fail("cannot create a temporary file");
  try {
    write_to(mem, "in-memory GGUF");
  } catch (...) {
    std::fclose(mem);
    throw;
  }
  long n = std::ftell(mem);
  std::vector<uint8_t> bytes(static_cast<size_t>(n));
  std::rewind(mem);
  size_t got = std::fread(bytes.data(), 1, bytes.size(), mem);
  std::fclose(mem);
  if (got != bytes.size()) fail("cannot read back the in-memory GGUF");
  return bytes;
}

}  // namespace pocket::gguf
