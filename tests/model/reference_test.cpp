// Reference comparison of the llama-family models in ../shared/reference (bounds and model
// classes: reference_compare.h), at 1 and 2 threads.
#include "reference_compare.h"

namespace pocket {
namespace {

using test::ModelClass;

struct ModelCase {
  const char* dir;
  ModelClass model_class;
};

class LlamaReference : public ::testing::TestWithParam<std::tuple<ModelCase, int>> {};

TEST_P(LlamaReference, MatchesTokensAndLogits) {
  const auto& [model, threads] = GetParam();
  test::compare_with_reference(model.dir, model.model_class, threads);
}

const ModelCase kLlamaModels[] = {
    {"stories260K", ModelClass::Float},
    {"stories260K-f16", ModelClass::Float},
    {"llama-spm-f32-q8_0embd", ModelClass::QuantizedOutput},
    {"llama3-bpe", ModelClass::QuantizedOutput},
    {"llama-spm-q8_0", ModelClass::Quantized},
    {"llama-spm-q4_0", ModelClass::Quantized},
    {"llama-spm-q4_k_m", ModelClass::Quantized},
    {"llama-spm-q5_k_m", ModelClass::Quantized},
    {"llama-spm-q6_k", ModelClass::Quantized},
};

std::string case_name(const ::testing::TestParamInfo<std::tuple<ModelCase, int>>& info) {
  std::string name = std::get<0>(info.param).dir;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name + "_t" + std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Models, LlamaReference,
                         ::testing::Combine(::testing::ValuesIn(kLlamaModels), ::testing::Values(1, 2)),
                         case_name);

}  // namespace
}  // namespace pocket
