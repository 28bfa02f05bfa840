// The Phi-3 family (Phi-3 / Phi-3.5 mini and medium, Phi-4 mini's phi3 layout): llama-like
// blocks with a fused QKV projection and a fused gate+up projection, NEOX RoPE with LongRoPE
// ("su") per-dimension factors where the file has them, and sliding-window attention when
// phi3.attention.sliding_window is set. Not phi2 (parallel blocks, LayerNorm) or PhiMoE.
#include "core/error.h"
#include "model/architectures.h"
#include "model/decoder.h"
#include "model/weights.h"

namespace pocket {
namespace {

class Phi3Model final : public DecoderModel {
 public:
  explicit Phi3Model(gguf::File file) : DecoderModel(std::move(file), blocks::Activation::Silu) {
    config_ = read_decoder_config(file_, "phi3");
    ModelConfig& c = config_;
    c.rope_style = RopeStyle::Neox;
    c.sliding_window = file_.get_int("phi3.attention.sliding_window", 0);  // all layers
    n_ctx_original_ = file_.get_int("phi3.rope.scaling.original_context_length", c.n_ctx_train);
    // LongRoPE scales cos/sin by sqrt(1 + ln(s) / ln(original context)); converters store it.
    c.rope_attn_factor = static_cast<float>(file_.get_float("phi3.rope.scaling.attn_factor", 1.0));
    bind();
  }

 private:
  // The GGUF tensor names of the Phi-3 family (the ends are the shared ones): the fused
  // projections are bound as row ranges, and the LongRoPE factor sets.
  void bind() {
    WeightBinder b(file_);
    ends_ = blocks::bind_decoder_output(b, config_);
    const ModelConfig& c = config_;
    const float* factors_long = b.vector("rope_factors_long.weight", c.n_rot / 2, false);
    const float* factors_short = b.vector("rope_factors_short.weight", c.n_rot / 2, false);
    if ((factors_long == nullptr) != (factors_short == nullptr)) {
      fail(file_.path(), ": has only one of rope_factors_long/rope_factors_short");
    }
    rope_long_ = rope_params(c, factors_long);
    rope_short_ = rope_params(c, factors_short);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      blocks::DecoderLayer& w = layers_.emplace_back();
      w.attn_norm = b.vector(p + "attn_norm.weight", c.d_model);
      const TensorView qkv = b.get(p + "attn_qkv.weight", {c.d_model, c.q_dim() + 2 * c.kv_dim()});
      w.attn.wq = blocks::row_slice(qkv, 0, c.q_dim());
      w.attn.wk = blocks::row_slice(qkv, c.q_dim(), c.kv_dim());
      w.attn.wv = blocks::row_slice(qkv, c.q_dim() + c.kv_dim(), c.kv_dim());
      w.attn.wo = b.get(p + "attn_output.weight", {c.q_dim(), c.d_model});
      w.ffn_norm = b.vector(p + "ffn_norm.weight", c.d_model);
      const TensorView gate_up = b.get(p + "ffn_up.weight", {c.d_model, 2 * c.d_ff});  // gate first
      w.w_gate = blocks::row_slice(gate_up, 0, c.d_ff);
      w.w_up = blocks::row_slice(gate_up, c.d_ff, c.d_ff);
      w.w_down = b.get(p + "ffn_down.weight", {c.d_ff, c.d_model});
      // LongRoPE: the long factor set for sequences longer than the original context.
      w.rope = {&rope_short_, &rope_long_, n_ctx_original_};
    }
  }

  int64_t n_ctx_original_ = 0;
  kernels::RopeParams rope_short_;  // contexts up to n_ctx_original_
  kernels::RopeParams rope_long_;   // longer contexts (same as short without LongRoPE)
};

}  // namespace

std::unique_ptr<Model> create_phi3(gguf::File file) {
  return std::make_unique<Phi3Model>(std::move(file));
}

}  // namespace pocket
