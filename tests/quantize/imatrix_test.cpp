// Importance matrices: the file round-trips (mean squared activation per column) and
// `quantize --imatrix` uses it for every tensor it covers.
#include "quantize/imatrix.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "gguf/gguf.h"
#include "quantize/quantize_file.h"
#include "test_paths.h"

namespace pocket::quantize {
namespace {

namespace fs = std::filesystem;

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

}  // namespace
}  // namespace pocket::quantize
