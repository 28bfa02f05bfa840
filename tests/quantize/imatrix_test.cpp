// Importance matrices: the file round-trips (mean squared activation per column),
// `quantize --imatrix` uses it for every tensor it covers, and `pocket imatrix` collects one
// from a model's forward pass that makes Q4_K_M's importance-weighted error smaller.
#include "quantize/imatrix.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <regex>

#include "cli/run_command.h"
#include "gguf/gguf.h"
#include "quantize/quantize_file.h"
#include "tensor/quantize.h"
#include "test_paths.h"

namespace pocket::quantize {
namespace {

namespace fs = std::filesystem;

// Fraction of weight tensors whose importance-weighted Q4_K_M error must drop with the imatrix.
// The quantizer minimizes exactly that error per block, so nearly all should; a few may not
// where the mix's plain search lands close anyway.
constexpr double kMinFractionImproved = 0.9;

std::vector<float> to_f32(const gguf::TensorInfo& t) {
  std::vector<float> v(static_cast<size_t>(t.n_elements()));
  dequantize_rows(t.type, t.data, v.data(), t.n_rows(), t.ne[0]);
  return v;
}

// sum over rows and columns of importance[column] * (quantized - exact)^2
double weighted_error(const gguf::TensorInfo& quantized, const std::vector<float>& exact,
                      const std::vector<float>& importance) {
  const std::vector<float> q = to_f32(quantized);
  const auto row_len = static_cast<size_t>(quantized.ne[0]);
  double sum = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    const double d = static_cast<double>(q[i]) - exact[i];
    sum += importance[i % row_len] * d * d;
  }
  return sum;
}

TEST(Imatrix, SaveLoadKeepsMeans) {
  Imatrix m;
  const float rows[2][3] = {{1, 2, 3}, {3, 2, 1}};
  m.accumulate("blk.0.attn_q.weight", &rows[0][0], 2, 3);
  m.end_call();
  m.accumulate("blk.0.attn_q.weight", &rows[0][0], 1, 3);
  m.end_call();
  m.dataset = "stories.txt";
  const fs::path path =
      fs::temp_directory_path() / ("pocket_imatrix_" + std::to_string(::getpid()));
  m.save(path.string());
  Imatrix back = Imatrix::load(path.string());
  fs::remove(path);
  std::vector<float> imp = back.importance("blk.0.attn_q.weight");
  ASSERT_EQ(imp.size(), 3u);
  EXPECT_NEAR(imp[0], (1 + 9 + 1) / 3.0, 1e-5);
  EXPECT_NEAR(imp[1], (4 + 4 + 4) / 3.0, 1e-5);
  EXPECT_NEAR(imp[2], (9 + 1 + 9) / 3.0, 1e-5);
  EXPECT_EQ(back.dataset, "stories.txt");
  EXPECT_TRUE(back.importance("missing").empty());
}

TEST(Imatrix, QuantizeUsesIt) {
  const std::string source = test::model_path("llama-spm-f32-q8_0embd.gguf");
  if (!fs::exists(source)) GTEST_SKIP() << "missing " << source;
  const gguf::File in = gguf::File::open(source);
  Imatrix m;
  for (const auto& t : in.tensors()) {
    if (t.n_dims < 2 || t.name == "token_embd.weight") continue;
    std::vector<float> ones(static_cast<size_t>(t.ne[0]), 1.0f);
    m.accumulate(t.name, ones.data(), 1, t.ne[0]);
  }
  m.end_call();
  const fs::path dir = fs::temp_directory_path() / ("pocket_imq_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  m.save((dir / "m.imatrix").string());
  QuantizeOptions opt;
  opt.input = source;
  opt.output = (dir / "out.gguf").string();
  opt.ftype = FileType::Q4_K_M;
  opt.allow_requantize = true;
  opt.imatrix_path = (dir / "m.imatrix").string();
  opt.n_threads = 2;
  QuantizeSummary s = quantize_file(opt);
  EXPECT_EQ(s.n_with_importance, 14);  // every 2-D weight but the embedding
  EXPECT_NO_THROW(gguf::File::open(opt.output));
  fs::remove_all(dir);
}

TEST(Imatrix, CollectedFromForwardPassLowersWeightedError) {
  const std::string source = test::model_path("llama-spm-f32-q8_0embd.gguf");
  if (!fs::exists(source)) GTEST_SKIP() << "missing " << source;
  const fs::path dir = fs::temp_directory_path() / ("pocket_imc_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string dat = (dir / "stories.dat").string();
  const std::string text = std::string(POCKET_SOURCE_DIR) + "/data/stories.txt";
  test::CommandResult r =
      test::run_command(test::pocket_binary() + " imatrix -m " + source + " -f " + text + " -o " +
                        dat + " -c 128 --chunks 8 -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("window 8/8"), std::string::npos) << r.err;

  // Every projection of every layer has an entry as wide as its rows, with positive values;
  // the output matrix is skipped by default.
  const Imatrix m = Imatrix::load(dat);
  EXPECT_EQ(m.dataset, text);
  const gguf::File in = gguf::File::open(source);
  const std::regex projection(R"(blk\.\d+\.(attn_[qkv]|attn_output|ffn_(gate|up|down))\.weight)");
  int n_projections = 0;
  for (const auto& t : in.tensors()) {
    if (!std::regex_match(t.name, projection)) continue;
    ++n_projections;
    const std::vector<float> imp = m.importance(t.name);
    ASSERT_EQ(static_cast<int64_t>(imp.size()), t.ne[0]) << t.name;
    for (size_t i = 0; i < imp.size(); ++i) ASSERT_GT(imp[i], 0.0f) << t.name << " column " << i;
    EXPECT_EQ(m.entries().at(t.name).n_calls, 8) << t.name;
  }
  EXPECT_EQ(n_projections, 14);
  EXPECT_EQ(m.size(), 14u);
  EXPECT_TRUE(m.importance("output.weight").empty());

  // Q4_K_M with and without it: the importance-weighted error of each tensor.
  QuantizeOptions opt;
  opt.input = source;
  opt.ftype = FileType::Q4_K_M;
  opt.allow_requantize = true;
  opt.n_threads = 2;
  opt.output = (dir / "plain.gguf").string();
  quantize_file(opt);
  opt.output = (dir / "weighted.gguf").string();
  opt.imatrix_path = dat;
  EXPECT_EQ(quantize_file(opt).n_with_importance, 14);
  const gguf::File plain = gguf::File::open((dir / "plain.gguf").string());
  const gguf::File weighted = gguf::File::open((dir / "weighted.gguf").string());
  int n_compared = 0, n_improved = 0;
  double total_plain = 0, total_weighted = 0;
  for (const auto& t : in.tensors()) {
    const std::vector<float> imp = m.importance(t.name);
    if (imp.empty()) continue;
    const gguf::TensorInfo* a = plain.find_tensor(t.name);
    const gguf::TensorInfo* b = weighted.find_tensor(t.name);
    ASSERT_TRUE(a != nullptr && b != nullptr) << t.name;
    ASSERT_EQ(a->type, b->type) << t.name;
    const std::vector<float> exact = to_f32(t);
    const double e_plain = weighted_error(*a, exact, imp);
    const double e_weighted = weighted_error(*b, exact, imp);
    std::printf("  %-24s %-5.*s weighted error %.4g -> %.4g (%.1f%%)\n", t.name.c_str(),
                static_cast<int>(dtype_name(a->type).size()), dtype_name(a->type).data(), e_plain,
                e_weighted, 100.0 * (e_weighted / e_plain - 1.0));
    ++n_compared;
    n_improved += e_weighted < e_plain ? 1 : 0;
    total_plain += e_plain;
    total_weighted += e_weighted;
  }
  std::printf("  %d of %d tensors improved; total weighted error %.4g -> %.4g\n", n_improved,
              n_compared, total_plain, total_weighted);
  EXPECT_EQ(n_compared, 14);
  EXPECT_GE(n_improved, kMinFractionImproved * n_compared);
  EXPECT_LT(total_weighted, total_plain);
  fs::remove_all(dir);
}

// Every architecture's entries carry GGUF tensor names quantize can find, as wide as the
// tensor's rows: phi3's fused attn_qkv and gate+up ffn_up under their own names, bert's
// windows through the embedding path.
class ImatrixNames : public ::testing::TestWithParam<const char*> {};

TEST_P(ImatrixNames, EntriesAreTensorsOfTheFile) {
  const std::string source = test::model_path(GetParam());
  if (!fs::exists(source)) GTEST_SKIP() << "missing " << source;
  const fs::path dat =
      fs::temp_directory_path() / ("pocket_imn_" + std::to_string(::getpid()) + ".dat");
  test::CommandResult r = test::run_command(
      test::pocket_binary() + " imatrix -m " + source + " -f " + std::string(POCKET_SOURCE_DIR) +
      "/data/stories.txt -o " + dat.string() + " -c 64 --chunks 2 -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Imatrix m = Imatrix::load(dat.string());
  fs::remove(dat);
  const gguf::File in = gguf::File::open(source);
  EXPECT_GE(
      m.size(),
      static_cast<size_t>(
          4 *
          in.get_int(std::string(in.get_string("general.architecture", "")) + ".block_count", 1)));
  for (const auto& [name, entry] : m.entries()) {
    const gguf::TensorInfo* t = in.find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(static_cast<int64_t>(entry.sum_sq.size()), t->ne[0]) << name;
    EXPECT_EQ(entry.n_calls, 2) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, ImatrixNames,
                         ::testing::Values("phi3-f32-q8_0embd.gguf", "qwen2-f16-q4_0embd.gguf",
                                           "gemma2-f16-q4_0embd.gguf", "bert-f32-q4_0embd.gguf"));

}  // namespace
}  // namespace pocket::quantize
