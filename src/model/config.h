// Model hyperparameters, read from GGUF metadata by each architecture file. Variants of a
// family are fields here (biases, norms, soft-capping, sliding windows), not code copies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pocket {

enum class RopeStyle { Normal, Neox };  // pairs (2i, 2i+1) or (i, i + n_rot/2)

enum class Pooling { None, Mean, Cls, Last };

struct ModelConfig {
  std::string arch;  // general.architecture
  std::string name;  // general.name, if any
  int64_t n_vocab = 0;
  int64_t d_model = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;  // of queries and keys
  int64_t d_ff = 0;
  int64_t n_ctx_train = 0;
  float norm_eps = 1e-5f;

  // RoPE
  int64_t n_rot = 0;
  RopeStyle rope_style = RopeStyle::Normal;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  float rope_attn_factor = 1.0f;

  bool tied_embeddings = false;
  bool causal = true;
  Pooling pooling = Pooling::None;

  // Extensions used by some families (zero/false = off).
  float embedding_scale = 0.0f;     // multiply embeddings by this (gemma: sqrt(d_model))
  float attn_logit_softcap = 0.0f;  // gemma2
  float final_logit_softcap = 0.0f;
  float query_scale = 0.0f;         // 0: 1/sqrt(head_dim)
  int64_t sliding_window = 0;
  std::vector<bool> layer_uses_window;  // [n_layers], which layers use the sliding window

  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  int64_t q_dim() const { return n_heads * head_dim; }
};

}  // namespace pocket
