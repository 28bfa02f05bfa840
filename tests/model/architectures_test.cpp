// Reference comparison of the non-llama architectures in ../shared/reference (qwen2, gemma2,
// phi3: bounds and model classes in reference_compare.h) at 1 and 2 threads, and of bert's
// pooled embeddings (cosine similarity to the reference's). Also the registry: every
// architecture loads by name, and an unsupported one is an error that lists the supported.
#include <cmath>

#include "gguf/gguf.h"
#include "model/model.h"
#include "reference_compare.h"

namespace pocket {
namespace {

using test::ModelClass;

// The bert reference embedding is llama.cpp's mean-pooled, L2-normalized vector.
constexpr double kMinCosine = 0.9999;

struct ArchCase {
  const char* dir;
  ModelClass model_class;
};

class ArchReference : public ::testing::TestWithParam<std::tuple<ArchCase, int>> {};

TEST_P(ArchReference, MatchesTokensAndLogits) {
  const auto& [model, threads] = GetParam();
  test::compare_with_reference(model.dir, model.model_class, threads);
}

// All three have F16/F32 layers and a quantized (Q4_0/Q8_0) output or tied embedding matrix.
const ArchCase kArchModels[] = {
    {"qwen2", ModelClass::QuantizedOutput},
    {"gemma2", ModelClass::Quantized},
    {"phi3", ModelClass::QuantizedOutput},
};

std::string case_name(const ::testing::TestParamInfo<std::tuple<ArchCase, int>>& info) {
  return std::string(std::get<0>(info.param).dir) + "_t" + std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Models, ArchReference,
                         ::testing::Combine(::testing::ValuesIn(kArchModels),
                                            ::testing::Values(1, 2)),
                         case_name);

class ArchBertReference : public ::testing::TestWithParam<int> {};

TEST_P(ArchBertReference, PooledEmbeddingMatches) {
  const int threads = GetParam();
  test::ReferenceModel ref = test::load_reference("bert");
  EngineOptions options;
  options.model_path = ref.model_path;
  options.n_threads = threads;
  auto engine = Engine::load(options);
  ASSERT_EQ(engine->config().pooling, Pooling::Mean);
  for (const auto& c : ref.cases) {
    SCOPED_TRACE("bert case " + c.id);
    std::vector<int32_t> ids = engine->tokenizer().encode(c.prompt, true, true);
    ASSERT_EQ(ids, c.prompt_ids) << "prompt tokens differ";
    std::vector<float> got = engine->embed(ids, engine->config().pooling);
    ASSERT_EQ(got.size(), c.embedding.size());
    double dot = 0, norm_got = 0, norm_want = 0, max_diff = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      dot += static_cast<double>(got[i]) * c.embedding[i];
      norm_got += static_cast<double>(got[i]) * got[i];
      norm_want += static_cast<double>(c.embedding[i]) * c.embedding[i];
      max_diff = std::max(max_diff, std::abs(static_cast<double>(got[i]) - c.embedding[i]));
    }
    const double cosine = dot / std::sqrt(norm_got * norm_want);
    std::printf("[bert %s t=%d] cosine %.9f, max|diff| %.3g\n", c.id.c_str(), threads, cosine,
                max_diff);
    EXPECT_GE(cosine, kMinCosine);
    EXPECT_NEAR(std::sqrt(norm_got), 1.0, 1e-5) << "not L2-normalized";
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, ArchBertReference, ::testing::Values(1, 2));

TEST(ArchRegistry, ListsEveryFamily) {
  std::vector<std::string> names;
  for (const auto& entry : architectures()) names.emplace_back(entry.name);
  for (const char* want : {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "bert"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

TEST(ArchRegistry, UnsupportedArchitectureNamesItAndListsSupported) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::from_string("mamba9"));
  auto file = gguf::File::from_memory(w.to_bytes(), "mamba9.gguf");
  try {
    Model::load(std::move(file));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'mamba9'"), std::string::npos) << what;
    EXPECT_NE(what.find("gemma2"), std::string::npos) << what;
    EXPECT_NE(what.find("bert"), std::string::npos) << what;
  }
}

TEST(ArchRegistry, MissingHyperparameterIsAnErrorNamingTheKey) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::from_string("qwen2"));
  w.set("qwen2.embedding_length", gguf::Value::from_u32(64));
  auto file = gguf::File::from_memory(w.to_bytes(), "partial.gguf");
  try {
    Model::load(std::move(file));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("qwen2.block_count"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pocket
