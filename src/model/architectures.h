// Internal to model/: per-family constructors and the config reading they share.
#pragma once

#include <memory>
#include <string_view>

#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/model.h"

namespace pocket {

std::unique_ptr<Model> create_llama(gguf::File file);   // llama.cpp (also Mistral)
std::unique_ptr<Model> create_qwen2(gguf::File file);   // qwen2.cpp
std::unique_ptr<Model> create_qwen3(gguf::File file);   // qwen2.cpp
std::unique_ptr<Model> create_gemma2(gguf::File file);  // gemma.cpp
std::unique_ptr<Model> create_gemma3(gguf::File file);  // gemma.cpp
std::unique_ptr<Model> create_phi3(gguf::File file);    // phi3.cpp
std::unique_ptr<Model> create_bert(gguf::File file);    // bert.cpp

// Reads the hyperparameters common to decoder-only families under `prefix` ("llama", ...):
// sizes, heads, norm epsilon, RoPE, context length, vocabulary size. Throws on missing keys.
ModelConfig read_decoder_config(const gguf::File& file, std::string_view prefix);

// RoPE parameters of a config, with optional per-dimension frequency factors.
kernels::RopeParams rope_params(const ModelConfig& c, const float* freq_factors);

// Attention parameters of layer `layer` (scale, soft-cap, sliding window).
kernels::AttentionParams attention_params(const ModelConfig& c, int64_t layer);

}  // namespace pocket
