// The Phi-3 family (Phi-3 / Phi-3.5 mini and medium, Phi-4 mini's phi3 layout): llama-like
// blocks with a fused QKV projection and a fused gate+up projection, NEOX RoPE with LongRoPE
// ("su") per-dimension factors where the file has them, and sliding-window attention when
// phi3.attention.sliding_window is set. Not phi2 (parallel blocks, LayerNorm) or PhiMoE.
#include "core/error.h"
#include "model/architectures.h"
#include "model/blocks.h"
#include "model/weights.h"

namespace pocket {
namespace {

struct Phi3Layer {
  const float* attn_norm;         // [d_model]
  blocks::AttentionWeights attn;  // wq, wk, wv: consecutive row ranges of attn_qkv
  const float* ffn_norm;   // [d_model]
  TensorView w_gate;       // [d_model, d_ff]    rows [0, d_ff) of ffn_up (gate first)
  TensorView w_up;         // [d_model, d_ff]    rows [d_ff, 2 d_ff)
  TensorView w_down;       // [d_ff, d_model]
};

class Phi3Model final : public Model {
 public:
  explicit Phi3Model(gguf::File file) : Model(std::move(file)) {
    config_ = read_decoder_config(file_, "phi3");
    ModelConfig& c = config_;
    c.rope_style = RopeStyle::Neox;
    c.sliding_window = file_.get_int("phi3.attention.sliding_window", 0);  // all layers
    n_ctx_original_ = file_.get_int("phi3.rope.scaling.original_context_length", c.n_ctx_train);
    // LongRoPE scales cos/sin by sqrt(1 + ln(s) / ln(original context)); converters store it.
    c.rope_attn_factor = static_cast<float>(file_.get_float("phi3.rope.scaling.attn_factor", 1.0));
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
      const Phi3Layer& w = layers_[l];
      blocks::rms_norm_rows(x, w.attn_norm, n, c.d_model, c.norm_eps, xn);
      // LongRoPE: the long factor set for sequences longer than the original context.
      blocks::self_attention(batch, l, c, w.attn, {&rope_short_, &rope_long_, n_ctx_original_}, xn,
                             s, pool, s.proj.data());
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
  // The GGUF tensor names of the Phi-3 family (the only place they appear).
  void bind() {
    const ModelConfig& c = config_;
    WeightBinder b(file_);
    token_embd_ = b.get("token_embd.weight", {c.d_model, c.n_vocab});
    output_norm_ = b.vector("output_norm.weight", c.d_model);
    output_ = b.optional("output.weight", {c.d_model, c.n_vocab});
    config_.tied_embeddings = !output_;
    if (!output_) output_ = token_embd_;
    const float* factors_long = b.vector("rope_factors_long.weight", c.n_rot / 2, false);
    const float* factors_short = b.vector("rope_factors_short.weight", c.n_rot / 2, false);
    if ((factors_long == nullptr) != (factors_short == nullptr)) {
      fail(file_.path(), ": has only one of rope_factors_long/rope_factors_short");
    }
    rope_long_ = rope_params(c, factors_long);
    rope_short_ = rope_params(c, factors_short);
    layers_.resize(static_cast<size_t>(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      Phi3Layer& w = layers_[l];
      w.attn_norm = b.vector(p + "attn_norm.weight", c.d_model);
      const TensorView qkv = b.get(p + "attn_qkv.weight", {c.d_model, c.q_dim() + 2 * c.kv_dim()});
      w.attn.wq = blocks::row_slice(qkv, 0, c.q_dim());
      w.attn.wk = blocks::row_slice(qkv, c.q_dim(), c.kv_dim());
      w.attn.wv = blocks::row_slice(qkv, c.q_dim() + c.kv_dim(), c.kv_dim());
      w.attn.wo = b.get(p + "attn_output.weight", {c.q_dim(), c.d_model});
      w.ffn_norm = b.vector(p + "ffn_norm.weight", c.d_model);
      const TensorView gate_up = b.get(p + "ffn_up.weight", {c.d_model, 2 * c.d_ff});
      w.w_gate = blocks::row_slice(gate_up, 0, c.d_ff);
      w.w_up = blocks::row_slice(gate_up, c.d_ff, c.d_ff);
      w.w_down = b.get(p + "ffn_down.weight", {c.d_ff, c.d_model});
    }
  }

  int64_t n_ctx_original_ = 0;
  TensorView token_embd_;           // [d_model, n_vocab]
  const float* output_norm_{};      // [d_model]
  TensorView output_;               // [d_model, n_vocab] (token_embd_ when tied)
  kernels::RopeParams rope_short_;  // contexts up to n_ctx_original_
  kernels::RopeParams rope_long_;   // longer contexts (same as short without LongRoPE)
  std::vector<Phi3Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> create_phi3(gguf::File file) {
  return std::make_unique<Phi3Model>(std::move(file));
}

}  // namespace pocket
