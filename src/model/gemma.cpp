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
#include "model/blocks.h"
#include "model/weights.h"

namespace pocket {
namespace {

enum class GemmaVariant { Gemma2, Gemma3 };

// Gemma 3's local (windowed) layers use this RoPE base whatever rope.freq_base says (the
// published configs' rope_local_base_freq; GGUF has no key for it).
constexpr float kGemma3LocalRopeBase = 10000.0f;
// Gemma 3: every sixth layer is global, the rest use the sliding window.
constexpr int64_t kGemma3WindowPattern = 6;

struct GemmaLayer {
  const float* attn_norm;         // [d_model]
  blocks::AttentionWeights attn;  // gemma3: per-head q/k norms
  const float* post_attn_norm;  // [d_model]
  const float* ffn_norm;        // [d_model]
  TensorView w_gate;            // [d_model, d_ff]
  TensorView w_up;              // [d_model, d_ff]
  TensorView w_down;            // [d_ff, d_model]
  const float* post_ffn_norm;   // [d_model]
};

// The query scale is 1/sqrt(query_pre_attn_scalar), a config value GGUF does not carry: it is
// head_dim for every released size except the 27B models (Gemma 2: 46 layers, Gemma 3: 62
// layers), where it is d_model / n_heads.
float gemma_query_scale(const ModelConfig& c, GemmaVariant variant) {
  const bool is_27b = (variant == GemmaVariant::Gemma2 && c.n_layers == 46) ||
                      (variant == GemmaVariant::Gemma3 && c.n_layers == 62);
  const int64_t scalar = is_27b ? c.d_model / c.n_heads : c.head_dim;
  return 1.0f / std::sqrt(static_cast<float>(scalar));
}

class GemmaModel final : public Model {
 public:
  GemmaModel(gguf::File file, GemmaVariant variant) : Model(std::move(file)), variant_(variant) {
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

  void forward(const Batch& batch, ForwardScratch& s, ThreadPool& pool, float* out) const override {
    const ModelConfig& c = config_;
    const auto n = static_cast<int64_t>(batch.tokens.size());
    blocks::prepare_batch(batch, c.n_vocab, file_.path(), s);
    float* x = s.x.data();
    float* xn = s.xn.data();
    float* proj = s.proj.data();

    blocks::embed(token_embd_, batch.tokens, c.embedding_scale, x);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const GemmaLayer& w = layers_[l];
      // gemma3's sliding-window layers use their own RoPE base.
      const kernels::RopeParams& rope = attention_params(c, l).window > 0 ? rope_local_ : rope_global_;
      blocks::rms_norm_rows(x, w.attn_norm, n, c.d_model, c.norm_eps, xn);
      blocks::self_attention(batch, l, c, w.attn, {&rope}, xn, s, pool, proj);
      blocks::rms_norm_rows(proj, w.post_attn_norm, n, c.d_model, c.norm_eps, proj);
      blocks::add_rows(x, proj, n * c.d_model);

      blocks::rms_norm_rows(x, w.ffn_norm, n, c.d_model, c.norm_eps, xn);
      blocks::gated_ffn(w.w_gate, w.w_up, w.w_down, blocks::Activation::GeluF16, xn, n, s, proj,
                        pool);
      blocks::rms_norm_rows(proj, w.post_ffn_norm, n, c.d_model, c.norm_eps, proj);
      blocks::add_rows(x, proj, n * c.d_model);
    }
    blocks::rms_norm_rows(x, output_norm_, n, c.d_model, c.norm_eps, xn);
    blocks::commit_batch(batch);
    blocks::output_rows(batch, xn, c.d_model, output_, c.final_logit_softcap, s, out, pool);
  }

 private:
  // The GGUF tensor names of the Gemma family (the only place they appear).
  void bind() {
    const ModelConfig& c = config_;
    const bool gemma3 = variant_ == GemmaVariant::Gemma3;
    WeightBinder b(file_);
    token_embd_ = b.get("token_embd.weight", {c.d_model, c.n_vocab});
    output_norm_ = b.vector("output_norm.weight", c.d_model);
    output_ = b.optional("output.weight", {c.d_model, c.n_vocab});
    config_.tied_embeddings = !output_;
    if (!output_) output_ = token_embd_;
    rope_global_ = rope_params(c, nullptr);
    rope_local_ = rope_global_;
    if (gemma3) {
      rope_local_.freq_base = kGemma3LocalRopeBase;
      rope_local_.freq_scale = 1.0f;
    }
    layers_.resize(static_cast<size_t>(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      GemmaLayer& w = layers_[l];
      w.attn_norm = b.vector(p + "attn_norm.weight", c.d_model);
      w.attn.wq = b.get(p + "attn_q.weight", {c.d_model, c.q_dim()});
      w.attn.wk = b.get(p + "attn_k.weight", {c.d_model, c.kv_dim()});
      w.attn.wv = b.get(p + "attn_v.weight", {c.d_model, c.kv_dim()});
      w.attn.q_norm = b.vector(p + "attn_q_norm.weight", c.head_dim, gemma3);
      w.attn.k_norm = b.vector(p + "attn_k_norm.weight", c.head_dim, gemma3);
      w.attn.wo = b.get(p + "attn_output.weight", {c.q_dim(), c.d_model});
      w.post_attn_norm = b.vector(p + "post_attention_norm.weight", c.d_model);
      w.ffn_norm = b.vector(p + "ffn_norm.weight", c.d_model);
      w.w_gate = b.get(p + "ffn_gate.weight", {c.d_model, c.d_ff});
      w.w_up = b.get(p + "ffn_up.weight", {c.d_model, c.d_ff});
      w.w_down = b.get(p + "ffn_down.weight", {c.d_ff, c.d_model});
      w.post_ffn_norm = b.vector(p + "post_ffw_norm.weight", c.d_model);
    }
  }

  GemmaVariant variant_;
  TensorView token_embd_;            // [d_model, n_vocab]
  const float* output_norm_{};       // [d_model]
  TensorView output_;                // [d_model, n_vocab] (token_embd_ when tied)
  kernels::RopeParams rope_global_;  // full-attention layers
  kernels::RopeParams rope_local_;   // sliding-window layers (gemma3: own base)
  std::vector<GemmaLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> create_gemma2(gguf::File file) {
  return std::make_unique<GemmaModel>(std::move(file), GemmaVariant::Gemma2);
}

std::unique_ptr<Model> create_gemma3(gguf::File file) {
  return std::make_unique<GemmaModel>(std::move(file), GemmaVariant::Gemma3);
}

}  // namespace pocket
