// Model loading, architecture registry, shared config reading and scratch sizing.
#include "model/model.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/architectures.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace pocket {
namespace {

constexpr ArchitectureEntry kArchitectures[] = {
    {"llama", create_llama},   {"qwen2", create_qwen2}, {"qwen3", create_qwen3},
    {"gemma2", create_gemma2}, {"gemma3", create_gemma3}, {"phi3", create_phi3},
    {"bert", create_bert},
};

}  // namespace

std::span<const ArchitectureEntry> architectures() { return kArchitectures; }

std::unique_ptr<Model> Model::load(const std::string& path) { return load(gguf::File::open(path)); }

std::unique_ptr<Model> Model::load(gguf::File file) {
  std::string arch(file.get_string("general.architecture"));
  for (const auto& entry : kArchitectures) {
    if (arch == entry.name) return entry.create(std::move(file));
  }
  std::string supported;
  for (const auto& entry : kArchitectures) supported += (supported.empty() ? "" : ", ") + std::string(entry.name);
  fail(file.path(), ": unsupported architecture '", arch, "' (supported: ", supported, ")");
}

uint64_t Model::parameter_count() const {
  uint64_t n = 0;
  for (const auto& t : file_.tensors()) n += static_cast<uint64_t>(t.n_elements());
  return n;
}

ModelConfig read_decoder_config(const gguf::File& f, std::string_view prefix) {
  ModelConfig c;
  c.arch = std::string(f.get_string("general.architecture"));
  c.name = std::string(f.get_string("general.name", ""));
  auto key = [&](std::string_view suffix) { return arch_key(prefix, suffix); };
  auto positive = [&](std::string_view suffix, int64_t value) {
    if (value <= 0 || value > (int64_t{1} << 24)) {
      fail(f.path(), ": metadata key '", key(suffix), "' has invalid value ", value);
    }
    return value;
  };
  c.d_model = positive("embedding_length", f.get_int(key("embedding_length")));
  c.n_layers = positive("block_count", f.get_int(key("block_count")));
  c.d_ff = positive("feed_forward_length", f.get_int(key("feed_forward_length")));
  c.n_heads = positive("attention.head_count", f.get_int(key("attention.head_count")));
  c.n_kv_heads = positive("attention.head_count_kv", f.get_int(key("attention.head_count_kv"), c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0) {
    fail(f.path(), ": head_count ", c.n_heads, " is not a multiple of head_count_kv ", c.n_kv_heads);
  }
  c.head_dim = positive("attention.key_length", f.get_int(key("attention.key_length"), c.d_model / c.n_heads));
  c.n_ctx_train = positive("context_length", f.get_int(key("context_length"), 2048));
  c.norm_eps = static_cast<float>(f.get_float(key("attention.layer_norm_rms_epsilon"), 1e-5));
  c.n_rot = positive("rope.dimension_count", f.get_int(key("rope.dimension_count"), c.head_dim));
  if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
    fail(f.path(), ": rope.dimension_count ", c.n_rot, " must be even and <= head dim ", c.head_dim);
  }
  c.rope_freq_base = static_cast<float>(f.get_float(key("rope.freq_base"), 10000.0));
  std::string_view scaling = f.get_string(key("rope.scaling.type"), "none");
  double factor = f.get_float(key("rope.scaling.factor"), 0.0);
  if (factor == 0.0) factor = f.get_float(key("rope.scale_linear"), 0.0);
  if ((scaling == "linear" || scaling == "none") && factor > 0.0) c.rope_freq_scale = static_cast<float>(1.0 / factor);
  // The vocabulary size: explicit key, else the tokenizer's token list, else the embedding.
  c.n_vocab = f.get_int(key("vocab_size"), 0);
  if (c.n_vocab == 0) {
    if (const gguf::Array* tokens = f.find_array("tokenizer.ggml.tokens")) c.n_vocab = static_cast<int64_t>(tokens->size());
  }
  if (c.n_vocab == 0) {
    if (const gguf::TensorInfo* t = f.find_tensor("token_embd.weight")) c.n_vocab = t->ne[1];
  }
  positive("vocab_size", c.n_vocab);
  return c;
}

kernels::RopeParams rope_params(const ModelConfig& c, const float* freq_factors) {
  kernels::RopeParams p;
  p.n_rot = static_cast<int>(c.n_rot);
  p.neox = c.rope_style == RopeStyle::Neox;
  p.freq_base = c.rope_freq_base;
  p.freq_scale = c.rope_freq_scale;
  p.freq_factors = freq_factors;
  p.attn_factor = c.rope_attn_factor;
  return p;
}

kernels::AttentionParams attention_params(const ModelConfig& c, int64_t layer) {
  kernels::AttentionParams p;
  p.n_heads = static_cast<int>(c.n_heads);
  p.n_kv_heads = static_cast<int>(c.n_kv_heads);
  p.head_dim = static_cast<int>(c.head_dim);
  p.scale = c.query_scale > 0 ? c.query_scale : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  p.softcap = c.attn_logit_softcap;
  p.causal = c.causal;
  bool windowed = c.sliding_window > 0 &&
                  (c.layer_uses_window.empty() || c.layer_uses_window[static_cast<size_t>(layer)]);
  p.window = windowed ? static_cast<int>(c.sliding_window) : 0;
  return p;
}

DType KvCache::parse_type(std::string_view name) {
  if (name == "f16" || name == "F16") return DType::F16;
  if (name == "q8_0" || name == "Q8_0") return DType::Q8_0;
  fail("unsupported KV cache type '", name, "' (supported: f16, q8_0)");
}

void KvCache::check_type(DType type, int64_t head_dim) {
  if (type != DType::F16 && type != DType::Q8_0) {
    fail("unsupported KV cache type ", dtype_name(type), " (supported: f16, q8_0)");
  }
  if (type == DType::Q8_0 && head_dim % 32 != 0) {
    fail("KV cache type q8_0 needs a head size that is a multiple of 32; this model's is ",
         head_dim, " (use f16)");
  }
}

ForwardScratch::ForwardScratch(const ModelConfig& c, int64_t max_tokens_)
    : max_tokens(max_tokens_), ffn_tokens(std::min(max_tokens_, kFfnChunkTokens)) {
  const auto t = static_cast<size_t>(max_tokens);
  const auto ffn_rows = static_cast<size_t>(ffn_tokens * c.d_ff);
  const auto widest = static_cast<size_t>(std::max({c.d_model, c.q_dim(), c.kv_dim()}));
  x.resize(t * widest);
  xn.resize(t * widest);
  q.resize(t * static_cast<size_t>(c.q_dim()));
  k.resize(t * static_cast<size_t>(c.kv_dim()));
  v.resize(t * static_cast<size_t>(c.kv_dim()));
  att.resize(t * static_cast<size_t>(c.q_dim()));
  proj.resize(t * widest);
  gate.resize(ffn_rows);
  up.resize(ffn_rows);
  rows.resize(t * widest);
  positions.resize(t);
}

uint64_t ForwardScratch::bytes_needed(const ModelConfig& c, int64_t max_tokens) {
  const auto t = static_cast<uint64_t>(max_tokens);
  const auto widest = static_cast<uint64_t>(std::max({c.d_model, c.q_dim(), c.kv_dim()}));
  const auto ffn_t = static_cast<uint64_t>(std::min(max_tokens, kFfnChunkTokens));
  uint64_t floats = t * (4 * widest + 2 * static_cast<uint64_t>(c.q_dim()) +
                         2 * static_cast<uint64_t>(c.kv_dim())) +
                    ffn_t * 2 * static_cast<uint64_t>(c.d_ff);
  return floats * sizeof(float);
}

}  // namespace pocket
