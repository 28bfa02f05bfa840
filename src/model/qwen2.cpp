// The Qwen family: Qwen2 / Qwen2.5 (biases on the Q, K and V projections) and Qwen3 (no
// biases; an RMSNorm over each head of Q and K before RoPE, and a head size that need not be
// d_model / n_heads). Both use NEOX-style RoPE and a SwiGLU FFN. Three parts: config from
// GGUF, weight binding, forward. Not the MoE variants (qwen2moe / qwen3moe).
#include "core/error.h"
#include "model/architectures.h"
#include "model/decoder.h"
#include "model/weights.h"

namespace pocket {
namespace {

enum class QwenVariant { Qwen2, Qwen3 };

class QwenModel final : public DecoderModel {
 public:
  QwenModel(gguf::File file, QwenVariant variant)
      : DecoderModel(std::move(file), blocks::Activation::Silu), variant_(variant) {
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

 private:
  // The GGUF tensor names of the Qwen family beyond the shared ones (blocks::bind_decoder_*):
  // Qwen2's q/k/v biases, Qwen3's per-head q/k norms.
  void bind() {
    const bool qwen2 = variant_ == QwenVariant::Qwen2;
    WeightBinder b(file_);
    ends_ = blocks::bind_decoder_output(b, config_);
    const ModelConfig& c = config_;
    rope_ = rope_params(c, nullptr);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      blocks::DecoderLayer& w = layers_.emplace_back(blocks::bind_decoder_layer(b, c, l));
      w.attn.bq = b.vector(p + "attn_q.bias", c.q_dim(), qwen2);
      w.attn.bk = b.vector(p + "attn_k.bias", c.kv_dim(), qwen2);
      w.attn.bv = b.vector(p + "attn_v.bias", c.kv_dim(), qwen2);
      w.attn.q_norm = b.vector(p + "attn_q_norm.weight", c.head_dim, !qwen2);
      w.attn.k_norm = b.vector(p + "attn_k_norm.weight", c.head_dim, !qwen2);
      w.rope = {&rope_};
    }
  }

  QwenVariant variant_;
  kernels::RopeParams rope_;
};

}  // namespace

std::unique_ptr<Model> create_qwen2(gguf::File file) {
  return std::make_unique<QwenModel>(std::move(file), QwenVariant::Qwen2);
}

std::unique_ptr<Model> create_qwen3(gguf::File file) {
  return std::make_unique<QwenModel>(std::move(file), QwenVariant::Qwen3);
}

}  // namespace pocket
