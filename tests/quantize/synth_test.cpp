// `pocket synth`: files are deterministic from the seed (whatever the thread count), have the
// shape's tensors and the file type's mix, carry a real (padded) vocabulary, and load and run.
#include "quantize/synth.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "gguf/gguf.h"
#include "pocket/engine.h"
#include "test_paths.h"

namespace pocket::quantize {
namespace {

namespace fs = std::filesystem;

// llama.cpp's file of this shape and type, from ../shared/ANCHORS.md.
constexpr size_t kSmollm2Q8_0Bytes = 144810368;

class Synth : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pocket_synth_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    if (!fs::exists(test::shared_dir() + "/vocab/synth-vocab-smollm2.gguf")) {
      GTEST_SKIP() << "../shared vocabularies not found";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string make(const std::string& shape, FileType type, const std::string& file, int threads) {
    constexpr uint64_t kSeed = 7;
    SynthOptions o;
    o.shape = shape;
    o.ftype = type;
    o.output = (dir_ / file).string();
    o.seed = kSeed;
    o.shared_dir = test::shared_dir();
    o.n_threads = threads;
    synth_model(o);
    return o.output;
  }

  fs::path dir_;
};

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(Synth, Smollm2Q8_0IsDeterministicAndMatchesTheReferenceSize) {
  const std::string a = make("smollm2-135m", FileType::Q8_0, "a.gguf", 1);
  const std::string b = make("smollm2-135m", FileType::Q8_0, "b.gguf", 2);
  EXPECT_EQ(fs::file_size(a), kSmollm2Q8_0Bytes);
  EXPECT_TRUE(read_all(a) == read_all(b)) << "same seed, different thread count: bytes differ";

  const gguf::File f = gguf::File::open(a);
  EXPECT_EQ(f.tensors().size(), 2u + 30u * 9u);
  std::map<std::string, int> types;
  for (const auto& t : f.tensors()) ++types[std::string(dtype_name(t.type))];
  EXPECT_EQ(types["Q8_0"], 1 + 30 * 7);
  EXPECT_EQ(types["F32"], 1 + 30 * 2);
  EXPECT_EQ(f.get_int("general.file_type"), 7);
  EXPECT_EQ(f.find_array("tokenizer.ggml.tokens")->size(), 49152u);

  // It loads and produces finite logits.
  EngineOptions eo;
  eo.model_path = a;
  eo.n_threads = 2;
  eo.n_ctx = 64;
  auto engine = Engine::load(eo);
  std::vector<int32_t> tokens = engine->tokenizer().encode("Once upon a time", true, false);
  ASSERT_FALSE(tokens.empty());
  SeqId seq = engine->create_sequence();
  Engine::Request req{seq, tokens, false};
  auto logits = engine->decode(std::span<const Engine::Request>(&req, 1));
  ASSERT_EQ(static_cast<int64_t>(logits.size()), engine->config().n_vocab);
  double sum_sq = 0;
  for (float v : logits) {
    ASSERT_TRUE(std::isfinite(v));
    sum_sq += static_cast<double>(v) * v;
  }
  const double rms = std::sqrt(sum_sq / static_cast<double>(logits.size()));
  EXPECT_GT(rms, 1.0);  // the generator aims at logits with std about 8
  EXPECT_LT(rms, 30.0);
}

TEST_F(Synth, Qwen25HasBiasesAndPaddedVocab) {
  const std::string path = make("qwen2.5-0.5b", FileType::Q4_0, "q.gguf", 2);
  const gguf::File f = gguf::File::open(path);
  EXPECT_EQ(f.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(f.tensors().size(), 2u + 24u * 12u);
  const gguf::TensorInfo* bias = f.find_tensor("blk.3.attn_k.bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_EQ(bias->type, DType::F32);
  EXPECT_EQ(bias->ne[0], 128);
  // The tied embedding gets the output's extra bits: Q6_K needs rows of 256, d_model is 896,
  // so it is Q8_0 (as the established tool does); the rest is Q4_0.
  EXPECT_EQ(f.find_tensor("token_embd.weight")->type, DType::Q8_0);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->type, DType::Q4_0);
  const gguf::Array* tokens = f.find_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->size(), 151936u);
  EXPECT_EQ(tokens->get_string(151935), "[PAD151935]");
  EXPECT_EQ(f.find_array("tokenizer.ggml.token_type")->get_int(151935), 5);  // unused
  EngineOptions eo;
  eo.model_path = path;
  eo.n_threads = 2;
  eo.n_ctx = 32;
  EXPECT_NO_THROW(Engine::load(eo));
}

TEST(SynthShapes, KnownShapesAndErrors) {
  for (const char* name : {"smollm2-135m", "qwen2.5-0.5b", "qwen3-0.6b", "llama-3.2-1b",
                           "llama-3.2-3b", "llama-3.1-8b"}) {
    EXPECT_NO_THROW(synth_shape(name)) << name;
  }
  EXPECT_EQ(synth_shape("llama-3.1-8b").tied_embeddings, false);
  EXPECT_EQ(synth_shape("qwen3-0.6b").head_dim, 128);
  try {
    synth_shape("llama-9000");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("smollm2-135m"), std::string::npos);
  }
}

}  // namespace
}  // namespace pocket::quantize
