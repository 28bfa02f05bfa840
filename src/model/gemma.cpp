// The Gemma family: Gemma 2 and Gemma 3 (text). Embeddings scaled by sqrt(d_model); RMSNorm
// before and after both attention and FFN; GeGLU FFN (tanh GELU at f16 precision, as the
// reference engine computes it: blocks::gelu_f16); NEOX RoPE; sliding-window
// attention on some layers. Gemma 2 soft-caps attention logits and final logits and windows
// every other layer; Gemma 3 drops the soft-caps, adds an RMSNorm over each Q and K head, and
// windows five layers of six, whose RoPE has its own base. Not Gemma 3's vision tower.
//
// Gemma's norms compute x * (1 + w); GGUF converters store 1 + w, so every norm here is a
// plain RMSNorm with the stored weight (checked against the reference outputs).
#include <cmath>

#include "core/error.h"
#include "model/architectures.h"
#include "model/decoder.h"
#include "model/weights.h"

namespace pocket {
namespace {

enum class GemmaVariant { Gemma2, Gemma3 };

// Gemma 3's local (windowed) layers use this RoPE base whatever rope.freq_base says (the
// published configs' rope_local_base_freq; GGUF has no key for it).
constexpr float kGemma3LocalRopeBase = 10000.0f;
// Gemma 3: every sixth layer is global, the rest use the sliding window.
constexpr int64_t kGemma3WindowPattern = 6;

// The query scale is 1/sqrt(query_pre_attn_scalar), a config value GGUF does not carry: it is
// head_dim for every released size except the 27B models (Gemma 2: 46 layers, Gemma 3: 62
// layers), where it is d_model / n_heads.
float gemma_query_scale(const ModelConfig& c, GemmaVariant variant) {
  const bool is_27b = (variant == GemmaVariant::Gemma2 && c.n_layers == 46) ||
                      (variant == GemmaVariant::Gemma3 && c.n_layers == 62);
  const int64_t scalar = is_27b ? c.d_model / c.n_heads : c.head_dim;
  return 1.0f / std::sqrt(static_cast<float>(scalar));
}

class GemmaModel final : public DecoderModel {
 public:
  GemmaModel(gguf::File file, GemmaVariant variant)
      : DecoderModel(std::move(file), blocks::Activation::GeluF16), variant_(variant) {
    const char* prefix = variant == GemmaVariant::Gemma2 ? "gemma2" : "gemma3";
    auto key = [&](std::string_view suffix) { return arch_key(prefix, suffix); };
    config_ = read_decoder_config(file_, prefix);
    ModelConfig& c = config_;
    c.rope_style = RopeStyle::Neox;
    c.embedding_scale = std::sqrt(static_cast<float>(c.d_model));
    c.query_scale = gemma_query_scale(c, variant);
    c.sliding_window = file_.get_int(key("attention.sliding_window"));
    if (c.sliding_window <= 0)
      fail(file_.path(), ": ", key("attention.sliding_window"), " must be positive");
    c.layer_uses_window.resize(static_cast<size_t>(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      c.layer_uses_window[static_cast<size_t>(l)] =
          variant == GemmaVariant::Gemma2 ? l % 2 == 0 : (l + 1) % kGemma3WindowPattern != 0;
    }
    // Gemma 2 always soft-caps (the published values are the defaults); Gemma 3 does not.
    const double attn_cap = variant == GemmaVariant::Gemma2 ? 50.0 : 0.0;
    const double final_cap = variant == GemmaVariant::Gemma2 ? 30.0 : 0.0;
    c.attn_logit_softcap =
        static_cast<float>(file_.get_float(key("attn_logit_softcapping"), attn_cap));
    c.final_logit_softcap =
        static_cast<float>(file_.get_float(key("final_logit_softcapping"), final_cap));
    const int64_t value_length = file_.get_int(key("attention.value_length"), c.head_dim);
    if (value_length != c.head_dim) {
      fail(file_.path(), ": attention.value_length ", value_length, " differs from key_length ",
           c.head_dim, " (not supported)");
    }
    bind();
  }

 private:
  // The GGUF tensor names of the Gemma family beyond the shared ones (blocks::bind_decoder_*):
  // the post-attention and post-FFN norms, Gemma 3's per-head q/k norms.
  void bind() {
    const bool gemma3 = variant_ == GemmaVariant::Gemma3;
    WeightBinder b(file_);
    ends_ = blocks::bind_decoder_output(b, config_);
    const ModelConfig& c = config_;
    rope_global_ = rope_params(c, nullptr);
    rope_local_ = rope_global_;
    if (gemma3) {
      rope_local_.freq_base = kGemma3LocalRopeBase;
      rope_local_.freq_scale = 1.0f;
    }
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      blocks::DecoderLayer& w = layers_.emplace_back(blocks::bind_decoder_layer(b, c, l));
      w.attn.q_norm = b.vector(p + "attn_q_norm.weight", c.head_dim, gemma3);
      w.attn.k_norm = b.vector(p + "attn_k_norm.weight", c.head_dim, gemma3);
      w.post_attn_norm = b.vector(p + "post_attention_norm.weight", c.d_model);
      w.post_ffn_norm = b.vector(p + "post_ffw_norm.weight", c.d_model);
      // gemma3's sliding-window layers use their own RoPE base.
      w.rope = {attention_params(c, l).window > 0 ? &rope_local_ : &rope_global_};
    }
  }

  GemmaVariant variant_;
  kernels::RopeParams rope_global_;  // full-attention layers
  kernels::RopeParams rope_local_;   // sliding-window layers (gemma3: own base)
};

}  // namespace

std::unique_ptr<Model> create_gemma2(gguf::File file) {
  return std::make_unique<GemmaModel>(std::move(file), GemmaVariant::Gemma2);
}

std::unique_ptr<Model> create_gemma3(gguf::File file) {
  return std::make_unique<GemmaModel>(std::move(file), GemmaVariant::Gemma3);
}

}  // namespace pocket
