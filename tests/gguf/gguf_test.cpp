// GGUF reader/writer: metadata of every type, nested arrays, alignment, round trips and
// the named errors for malformed files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "gguf/gguf.h"
#include "test_paths.h"

namespace pocket::gguf {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Writer sample_writer(std::vector<float>& data) {
  Writer w;
  w.set("general.architecture", Value::from_string("llama"));
  w.set("a.u32", Value::from_u32(7));
  w.set("a.i32", Value::from_i32(-3));
  w.set("a.f32", Value::from_f32(0.5f));
  w.set("a.bool", Value::from_bool(true));
  w.set("a.u64", Value::from_u64(1ull << 40));
  w.set("a.strings", Value::from_array(Array::of_strings({"x", "yy", ""})));
  std::vector<float> f = {1.5f, -2.0f};
  w.set("a.floats", Value::from_array(Array::of_f32(f)));
  Array nested;
  nested.elem_type = ValueType::ARRAY;
  std::vector<int32_t> i1 = {1, 2}, i2 = {3};
  nested.arrays = {Value::from_array(Array::of_i32(i1)), Value::from_array(Array::of_i32(i2))};
  nested.count = 2;
  w.set("a.nested", Value::from_array(std::move(nested)));
  data.resize(64 * 3);
  for (size_t k = 0; k < data.size(); ++k) data[k] = static_cast<float>(k);
  w.add_tensor("t.weight", DType::F32, {64, 3}, data.data());
  w.add_tensor("t.bias", DType::F32, {3}, [](std::vector<uint8_t>& out) {
    float b[3] = {1, 2, 3};
    out.assign(reinterpret_cast<uint8_t*>(b), reinterpret_cast<uint8_t*>(b) + sizeof(b));
  });
  return w;
}

TEST(Gguf, RoundTripsEveryValueType) {
  std::vector<float> data;
  File f = File::from_memory(sample_writer(data).to_bytes(), "mem.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("a.u32"), 7);
  EXPECT_EQ(f.get_int("a.i32"), -3);
  EXPECT_DOUBLE_EQ(f.get_float("a.f32"), 0.5);
  EXPECT_TRUE(f.get_bool("a.bool", false));
  EXPECT_EQ(f.get_int("a.u64"), int64_t{1} << 40);
  const Array& s = f.get_array("a.strings");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.get_string(1), "yy");
  EXPECT_EQ(s.get_string(2), "");
  EXPECT_DOUBLE_EQ(f.get_array("a.floats").get_float(1), -2.0);
  const Array& n = f.get_array("a.nested");
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n.arrays[0].array->get_int(1), 2);
  EXPECT_EQ(n.arrays[1].array->get_int(0), 3);
  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorInfo* t = f.find_tensor("t.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->ne[0], 64);
  EXPECT_EQ(t->ne[1], 3);
  EXPECT_EQ((f.data_offset() + t->offset) % 32, 0u);
  float v;
  std::memcpy(&v, t->data + 4 * 70, 4);
  EXPECT_EQ(v, 70.0f);
  const TensorInfo* b = f.find_tensor("t.bias");
  ASSERT_NE(b, nullptr);
  std::memcpy(&v, b->data + 8, 4);
  EXPECT_EQ(v, 3.0f);
}

TEST(Gguf, TypedAccessorsNameKeyAndType) {
  std::vector<float> data;
  File f = File::from_memory(sample_writer(data).to_bytes(), "mem.gguf");
  EXPECT_NE(error_of([&] { f.get_int("missing.key"); }).find("'missing.key' is missing"), std::string::npos);
  EXPECT_NE(error_of([&] { f.get_string("a.u32"); }).find("'a.u32' has type uint32, expected string"),
            std::string::npos);
  EXPECT_EQ(f.get_int("missing.key", 42), 42);
}

TEST(Gguf, HonoursCustomAlignment) {
  std::vector<float> data;
  Writer w = sample_writer(data);
  w.set_alignment(64);
  File f = File::from_memory(w.to_bytes(), "mem.gguf");
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % 64, 0u);
}

TEST(Gguf, WriterLeavesNoPartialFileOnFailure) {
  Writer w;
  w.add_tensor("bad", DType::F32, {32}, [](std::vector<uint8_t>& out) { out.resize(3); });
  auto path = std::filesystem::temp_directory_path() / "pocket_partial_test.gguf";
  std::filesystem::remove(path);
  EXPECT_THROW(w.write(path.string()), Error);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".partial"));
  EXPECT_THROW(w.write("/nonexistent-dir/x.gguf"), Error);
}

TEST(Gguf, RejectsMalformedHeadersWithNamedErrors) {
  std::vector<float> data;
  std::vector<uint8_t> good = sample_writer(data).to_bytes();
  auto with = [&](size_t offset, std::vector<uint8_t> patch) {
    auto b = good;
    std::memcpy(b.data() + offset, patch.data(), patch.size());
    return error_of([&] { File::from_memory(b, "m.gguf"); });
  };
  EXPECT_NE(with(0, {'X'}).find("bad magic"), std::string::npos);
  EXPECT_NE(with(4, {9, 0, 0, 0}).find("unsupported GGUF version 9"), std::string::npos);
  EXPECT_NE(with(8, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}).find("tensor count"), std::string::npos);
  EXPECT_NE(with(16, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}).find("metadata count"), std::string::npos);
  auto truncated = good;
  truncated.resize(100);
  EXPECT_NE(error_of([&] { File::from_memory(truncated, "m.gguf"); }).find("m.gguf: "), std::string::npos);
  auto short_data = good;
  short_data.resize(good.size() - 32);  // the last tensor's padding and some of its bytes
  EXPECT_NE(error_of([&] { File::from_memory(short_data, "m.gguf"); }).find("outside the data section"),
            std::string::npos);
}

TEST(Gguf, ReadsSharedModels) {
  File f = File::open(test::model_path("stories260K.gguf"));
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.get_array("tokenizer.ggml.tokens").size(), 512u);
  EXPECT_THROW(File::open(test::shared_dir() + "/models/MANIFEST.md"), Error);
  EXPECT_THROW(File::open(test::shared_dir() + "/models/does-not-exist.gguf"), Error);
}

}  // namespace
}  // namespace pocket::gguf
