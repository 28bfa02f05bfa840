// The Qwen family: Qwen2 / Qwen2.5 (biases on the Q, K and V projections) and Qwen3 (no
// biases; an RMSNorm over each head of Q and K before RoPE, and a head size that need not be
// d_model / n_heads). Both use NEOX-style RoPE and a SwiGLU FFN. Three parts: config from
// GGUF, weight binding, forward. Not the MoE variants (qwen2moe / qwen3moe).
#include "core/error.h"
#include "model/architectures.h"
#include "model/blocks.h"
#include "model/weights.h"

namespace pocket {
namespace {

enum class QwenVariant { Qwen2, Qwen3 };

struct QwenLayer {
  const float* attn_norm;         // [d_model]
  blocks::AttentionWeights attn;  // qwen2: q/k/v biases; qwen3: per-head q/k norms
  const float* ffn_norm;   // [d_model]
  TensorView w_gate;       // [d_model, d_ff]
  TensorView w_up;         // [d_model, d_ff]
  TensorView w_down;       // [d_ff, d_model]
};

class QwenModel final : public Model {
 public:
  QwenModel(gguf::File file, QwenVariant variant) : Model(std::move(file)), variant_(variant) {
    const char* prefix = variant == QwenVariant::Qwen2 ? "qwen2" : "qwen3";
    config_ = read_decoder_config(file_, prefix);
    config_.rope_style = RopeStyle::Neox;
    config_.sliding_window = 0;  // Qwen2's use_sliding_window is off in every released model
    const int64_t value_length =
        file_.get_int(arch_key(prefix, "attention.value_length"), config_.head_dim);
    if (value_length != config_.head_dim) {
      fail(file_.path(), ": attention.value_length ", value_length, " differs from key_length ",
           config_.head_dim, " (not supported)");
    }
    bind();
  }

  void forward(const Batch& batch, ForwardScratch& s, ThreadPool& pool, float* out) const override {
    const ModelConfig& c = config_;
    const auto n = static_cast<int64_t>(batch.tokens.size());
    blocks::prepare_batch(batch, c.n_vocab, file_.path(), s);
    float* x = s.x.data();
    float* xn = s.xn.data();

    blocks::embed(token_embd_, batch.tokens, 0.0f, x);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const QwenLayer& w = layers_[l];
      blocks::rms_norm_rows(x, w.attn_norm, n, c.d_model, c.norm_eps, xn);
      blocks::self_attention(batch, l, c, w.attn, {&rope_}, xn, s, pool, s.proj.data());
      blocks::add_rows(x, s.proj.data(), n * c.d_model);

      blocks::rms_norm_rows(x, w.ffn_norm, n, c.d_model, c.norm_eps, xn);
      blocks::gated_ffn(w.w_gate, w.w_up, w.w_down, blocks::Activation::Silu, xn, n, s,
                        s.proj.data(), pool);
      blocks::add_rows(x, s.proj.data(), n * c.d_model);
    }
    blocks::rms_norm_rows(x, output_norm_, n, c.d_model, c.norm_eps, xn);
    blocks::commit_batch(batch);
    blocks::output_rows(batch, xn, c.d_model, output_, 0.0f, s, out, pool);
  }

 private:
  // The GGUF tensor names of the Qwen family (the only place they appear).
  void bind() {
    const ModelConfig& c = config_;
    const bool qwen2 = variant_ == QwenVariant::Qwen2;
    WeightBinder b(file_);
    token_embd_ = b.get("token_embd.weight", {c.d_model, c.n_vocab});
    output_norm_ = b.vector("output_norm.weight", c.d_model);
    output_ = b.optional("output.weight", {c.d_model, c.n_vocab});
    config_.tied_embeddings = !output_;
    if (!output_) output_ = token_embd_;
    rope_ = rope_params(c, nullptr);
    layers_.resize(static_cast<size_t>(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      QwenLayer& w = layers_[l];
      w.attn_norm = b.vector(p + "attn_norm.weight", c.d_model);
      w.attn.wq = b.get(p + "attn_q.weight", {c.d_model, c.q_dim()});
      w.attn.wk = b.get(p + "attn_k.weight", {c.d_model, c.kv_dim()});
      w.attn.wv = b.get(p + "attn_v.weight", {c.d_model, c.kv_dim()});
      w.attn.bq = b.vector(p + "attn_q.bias", c.q_dim(), qwen2);
      w.attn.bk = b.vector(p + "attn_k.bias", c.kv_dim(), qwen2);
      w.attn.bv = b.vector(p + "attn_v.bias", c.kv_dim(), qwen2);
      w.attn.q_norm = b.vector(p + "attn_q_norm.weight", c.head_dim, !qwen2);
      w.attn.k_norm = b.vector(p + "attn_k_norm.weight", c.head_dim, !qwen2);
      w.attn.wo = b.get(p + "attn_output.weight", {c.q_dim(), c.d_model});
      w.ffn_norm = b.vector(p + "ffn_norm.weight", c.d_model);
      w.w_gate = b.get(p + "ffn_gate.weight", {c.d_model, c.d_ff});
      w.w_up = b.get(p + "ffn_up.weight", {c.d_model, c.d_ff});
      w.w_down = b.get(p + "ffn_down.weight", {c.d_ff, c.d_model});
    }
  }

  QwenVariant variant_;
  TensorView token_embd_;       // [d_model, n_vocab]
  const float* output_norm_{};  // [d_model]
  TensorView output_;           // [d_model, n_vocab] (token_embd_ when tied)
  kernels::RopeParams rope_;
  std::vector<QwenLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> create_qwen2(gguf::File file) {
  return std::make_unique<QwenModel>(std::move(file), QwenVariant::Qwen2);
}

std::unique_ptr<Model> create_qwen3(gguf::File file) {
  return std::make_unique<QwenModel>(std::move(file), QwenVariant::Qwen3);
}

}  // namespace pocket
