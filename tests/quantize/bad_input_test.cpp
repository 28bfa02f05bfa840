// Issue 5, bad input: `pocket quantize` fails with a clear message and leaves no output file
// (and no temporary file) for an unknown type, a non-GGUF input, a requantization without
// --allow-requantize, an output path that cannot be created, and a full disk (simulated with a
// file-size limit).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/run_command.h"
#include "quantize/type_mix.h"
#include "test_paths.h"

namespace pocket::test {
namespace {

namespace fs = std::filesystem;

class QuantizeBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pocket_qbad_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    source_ = model_path("llama-spm-f32-q8_0embd.gguf");
    if (!fs::exists(source_)) GTEST_SKIP() << "missing " << source_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // No output and no leftover temporary file.
  void expect_nothing_written(const fs::path& out) {
    EXPECT_FALSE(fs::exists(out)) << out;
    EXPECT_FALSE(fs::exists(out.string() + ".partial")) << out;
  }
  std::string quantize(const std::string& args) { return pocket_binary() + " quantize " + args; }

  fs::path dir_;
  std::string source_;
};

TEST_F(QuantizeBadInput, UnknownTypeListsValidTypes) {
  const fs::path out = dir_ / "out.gguf";
  CommandResult r =
      run_command(quantize(source_ + " " + out.string() + " Q4_K_X --allow-requantize"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown type 'Q4_K_X'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Q4_K_M"), std::string::npos) << r.err;
  expect_nothing_written(out);
}

TEST_F(QuantizeBadInput, NonGgufInput) {
  const fs::path in = dir_ / "not_a_model.gguf";
  std::ofstream(in) << "Once upon a time there was no model in this file.\n";
  const fs::path out = dir_ / "out.gguf";
  CommandResult r = run_command(quantize(in.string() + " " + out.string() + " Q8_0"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not_a_model.gguf"), std::string::npos) << r.err;
  expect_nothing_written(out);
}

TEST_F(QuantizeBadInput, RequantizeNeedsFlag) {
  const fs::path out = dir_ / "out.gguf";
  CommandResult r = run_command(quantize(source_ + " " + out.string() + " Q4_K_M"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("token_embd.weight"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-requantize"), std::string::npos) << r.err;
  expect_nothing_written(out);
  // Keeping the Q8_0 tensor as it is needs no requantization.
  r = run_command(quantize(source_ + " " + out.string() + " Q8_0 -q"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out));
}

TEST_F(QuantizeBadInput, OutputCannotBeCreated) {
  const fs::path blocker = dir_ / "a_file";
  std::ofstream(blocker) << "x";
  const fs::path out = blocker / "out.gguf";  // parent is a regular file
  CommandResult r = run_command(quantize(source_ + " " + out.string() + " Q8_0"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot create output file"), std::string::npos) << r.err;
  expect_nothing_written(out);
}

TEST_F(QuantizeBadInput, DiskFullLeavesNoFile) {
  const fs::path out = dir_ / "out.gguf";
  // A 1 MiB file-size limit (with SIGXFSZ ignored, writes past it fail with EFBIG, as on a
  // full disk); the output would be about 10 MB.
  CommandResult r = run_command("bash -c 'trap \"\" XFSZ; ulimit -f 1024; " +
                                quantize(source_ + " " + out.string() + " Q8_0 -q") + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("write failed"), std::string::npos) << r.err;
  expect_nothing_written(out);
}

TEST(TypeMix, NamesRoundTripAndUnknownIsRejected) {
  for (const auto& info : quantize::file_types()) {
    auto t = quantize::file_type_from_name(info.name);
    ASSERT_TRUE(t.has_value()) << info.name;
    EXPECT_EQ(*t, info.type);
  }
  EXPECT_FALSE(quantize::file_type_from_name("Q4_K_X").has_value());
  EXPECT_TRUE(quantize::file_type_from_name("q4_k_m").has_value());
}

TEST(TypeMix, MoreBitsLayersAndFallbacks) {
  using quantize::choose_type;
  quantize::ModelInfo m{"llama", 16, 4, false};
  const quantize::MixOptions none;
  // 16 layers: first 2, last 2, and every third between (4, 7, 10, 13) get Q6_K.
  std::string more;
  for (int l = 0; l < 16; ++l) {
    auto c = choose_type(m, "blk." + std::to_string(l) + ".ffn_down.weight", 8192,
                         quantize::FileType::Q4_K_M, none);
    if (c.type == DType::Q6_K) more += std::to_string(l) + ",";
  }
  EXPECT_EQ(more, "0,1,4,7,10,13,14,15,");
  EXPECT_EQ(choose_type(m, "token_embd.weight", 2048, quantize::FileType::Q4_K_M, none).type,
            DType::Q6_K);
  EXPECT_EQ(choose_type(m, "token_embd.weight", 2048, quantize::FileType::Q8_0, none).type,
            DType::Q8_0);
  EXPECT_EQ(choose_type(m, "blk.3.attn_q.weight", 2048, quantize::FileType::Q4_K_M, none).type,
            DType::Q4_K);
  // Rows that K-quant blocks do not divide fall back; 32-element types fall back to F16.
  auto c = choose_type(m, "blk.3.attn_q.weight", 64, quantize::FileType::Q4_K_M, none);
  EXPECT_EQ(c.type, DType::Q5_0);
  EXPECT_TRUE(c.fallback);
  EXPECT_EQ(choose_type(m, "blk.3.ffn_down.weight", 172, quantize::FileType::Q4_0, none).type,
            DType::F16);
  EXPECT_EQ(choose_type(m, "blk.3.ffn_down.weight", 172, quantize::FileType::Q6_K, none).type,
            DType::F16);
  // --pure: no mix.
  EXPECT_EQ(
      choose_type(m, "token_embd.weight", 2048, quantize::FileType::Q4_K_M, {true, false}).type,
      DType::Q4_K);
}

}  // namespace
}  // namespace pocket::test
