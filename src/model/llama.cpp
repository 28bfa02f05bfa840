// The llama family: Llama 2/3.x, Mistral, TinyLlama, SmolLM and the many fine-tunes that share
// its GGUF layout. RMSNorm, RoPE (with Llama 3 frequency factors), grouped-query attention
// over an f16 KV cache (windowed on every layer when llama.attention.sliding_window is set, as
// in Mistral), SwiGLU FFN, tied or separate output. Three parts: config from GGUF,
// weight binding, forward.
#include <cmath>

#include "core/error.h"
#include "model/architectures.h"
#include "model/blocks.h"
#include "model/weights.h"

namespace pocket {
namespace {

struct LlamaLayer {
  const float* attn_norm;         // [d_model]
  blocks::AttentionWeights attn;  // q, k, v, o projections
  const float* ffn_norm;   // [d_model]
  TensorView w_gate;       // [d_model, d_ff]
  TensorView w_up;         // [d_model, d_ff]
  TensorView w_down;       // [d_ff, d_model]
};

class LlamaModel final : public Model {
 public:
  explicit LlamaModel(gguf::File file) : Model(std::move(file)) {
    config_ = read_decoder_config(file_, "llama");
    // Mistral 7B v0.1 windows every layer; most llama-layout files have no window (0).
    config_.sliding_window = file_.get_int("llama.attention.sliding_window", 0);
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
      const LlamaLayer& w = layers_[l];
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
  // The GGUF tensor names of the llama family (the only place they appear).
  void bind() {
    const ModelConfig& c = config_;
    WeightBinder b(file_);
    token_embd_ = b.get("token_embd.weight", {c.d_model, c.n_vocab});
    output_norm_ = b.vector("output_norm.weight", c.d_model);
    output_ = b.optional("output.weight", {c.d_model, c.n_vocab});
    config_.tied_embeddings = !output_;
    if (!output_) output_ = token_embd_;
    rope_ = rope_params(c, b.vector("rope_freqs.weight", c.n_rot / 2, false));
    layers_.resize(static_cast<size_t>(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      LlamaLayer& w = layers_[l];
      w.attn_norm = b.vector(p + "attn_norm.weight", c.d_model);
      w.attn.wq = b.get(p + "attn_q.weight", {c.d_model, c.q_dim()});
      w.attn.wk = b.get(p + "attn_k.weight", {c.d_model, c.kv_dim()});
      w.attn.wv = b.get(p + "attn_v.weight", {c.d_model, c.kv_dim()});
      w.attn.wo = b.get(p + "attn_output.weight", {c.q_dim(), c.d_model});
      w.ffn_norm = b.vector(p + "ffn_norm.weight", c.d_model);
      w.w_gate = b.get(p + "ffn_gate.weight", {c.d_model, c.d_ff});
      w.w_up = b.get(p + "ffn_up.weight", {c.d_model, c.d_ff});
      w.w_down = b.get(p + "ffn_down.weight", {c.d_ff, c.d_model});
    }
  }

  TensorView token_embd_;       // [d_model, n_vocab]
  const float* output_norm_{};  // [d_model]
  TensorView output_;           // [d_model, n_vocab] (token_embd_ when tied)
  kernels::RopeParams rope_;
  std::vector<LlamaLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> create_llama(gguf::File file) {
  return std::make_unique<LlamaModel>(std::move(file));
}

}  // namespace pocket
