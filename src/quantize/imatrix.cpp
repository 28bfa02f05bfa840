// Importance-matrix data and its file layout:
//   int32 n_entries
//   n_entries x { int32 name_len, name bytes, int32 n_calls, int32 n_values, f32 values[n_values] }
//   int32 last_call, int32 dataset_len, dataset bytes      (optional trailer)
// values[i] = mean(x_i^2) * n_calls, so a reader recovers the mean by dividing by n_calls.
#include "quantize/imatrix.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"

namespace pocket::quantize {
namespace {

class Reader {
 public:
  Reader(std::FILE* f, const std::string& path) : f_(f), path_(path) {}
  template <class T>
  T get(const char* what) {
    T v{};
    if (std::fread(&v, sizeof v, 1, f_) != 1)
      fail(path_, ": truncated imatrix file (reading ", what, ")");
    return v;
  }
  std::string get_string(int32_t len, const char* what) {
    if (len < 0 || len > (1 << 20)) fail(path_, ": bad ", what, " length ", len);
    std::string s(static_cast<size_t>(len), '\0');
    if (len > 0 && std::fread(s.data(), 1, s.size(), f_) != s.size()) {
      fail(path_, ": truncated imatrix file (reading ", what, ")");
    }
    return s;
  }
  bool at_end() {
    int c = std::fgetc(f_);
    if (c == EOF) return true;
    std::ungetc(c, f_);
    return false;
  }

 private:
  std::FILE* f_;
  const std::string& path_;
};

}  // namespace

Imatrix Imatrix::load(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fail(path, ": cannot open imatrix file: ", std::strerror(errno));
  Imatrix m;
  try {
    Reader r(f, path);
    const int32_t n = r.get<int32_t>("entry count");
    if (n < 0 || n > 1000000) fail(path, ": not an imatrix file (entry count ", n, ")");
    for (int32_t e = 0; e < n; ++e) {
      std::string name = r.get_string(r.get<int32_t>("name length"), "tensor name");
      const int32_t n_calls = r.get<int32_t>("call count");
      const int32_t n_values = r.get<int32_t>("value count");
      if (n_values <= 0 || n_values > (1 << 26))
        fail(path, ": tensor '", name, "' has ", n_values, " values");
      std::vector<float> values(static_cast<size_t>(n_values));
      if (std::fread(values.data(), sizeof(float), values.size(), f) != values.size()) {
        fail(path, ": truncated imatrix file (values of '", name, "')");
      }
      ImatrixEntry& entry = m.entries_[name];
      entry.n_calls = std::max(n_calls, 1);
      entry.n_rows = entry.n_calls;  // values are mean * n_calls
      entry.sum_sq.assign(values.begin(), values.end());
    }
    if (!r.at_end()) {
      r.get<int32_t>("last call");
      m.dataset = r.get_string(r.get<int32_t>("dataset length"), "dataset name");
    }
  } catch (...) {
    std::fclose(f);
    throw;
  }
  std::fclose(f);
  return m;
}

void Imatrix::save(const std::string& path) const {
  write_file_atomically(path, [&](std::FILE* f) {
    auto put = [&](const void* p, size_t n) { std::fwrite(p, 1, n, f); };
    auto put_i32 = [&](int32_t v) { put(&v, sizeof v); };
    put_i32(static_cast<int32_t>(entries_.size()));
    int32_t last_call = 0;
    for (const auto& [name, e] : entries_) {
      put_i32(static_cast<int32_t>(name.size()));
      put(name.data(), name.size());
      const int32_t calls = std::max(e.n_calls, 1);
      last_call = std::max(last_call, calls);
      put_i32(calls);
      put_i32(static_cast<int32_t>(e.sum_sq.size()));
      std::vector<float> values(e.sum_sq.size());
      for (size_t i = 0; i < values.size(); ++i) {
        const double mean = e.n_rows > 0 ? e.sum_sq[i] / static_cast<double>(e.n_rows) : 0.0;
        values[i] = static_cast<float>(mean * calls);
      }
      put(values.data(), values.size() * sizeof(float));
    }
    put_i32(last_call);
    put_i32(static_cast<int32_t>(dataset.size()));
    put(dataset.data(), dataset.size());
  });
}

void Imatrix::accumulate(const std::string& name, const float* x, int64_t n_rows, int64_t row_len) {
  ImatrixEntry& e = entries_[name];
  if (e.sum_sq.empty()) e.sum_sq.assign(static_cast<size_t>(row_len), 0.0);
  if (static_cast<int64_t>(e.sum_sq.size()) != row_len) {
    fail("imatrix: tensor '", name, "' row length changed from ", e.sum_sq.size(), " to ", row_len);
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* row = x + r * row_len;
    for (int64_t i = 0; i < row_len; ++i) e.sum_sq[i] += static_cast<double>(row[i]) * row[i];
  }
  e.n_rows += n_rows;
  touched_[name] = true;
}

void Imatrix::end_call() {
  for (auto& [name, touched] : touched_) {
    if (touched) ++entries_[name].n_calls;
    touched = false;
  }
}

std::vector<float> Imatrix::importance(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.n_rows == 0) return {};
  const ImatrixEntry& e = it->second;
  std::vector<float> out(e.sum_sq.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<float>(e.sum_sq[i] / static_cast<double>(e.n_rows));
  }
  return out;
}

}  // namespace pocket::quantize
