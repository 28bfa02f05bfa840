// The BERT family of encoders (BERT, BGE, MiniLM, E5 and other sentence-embedding models in
// the bert GGUF layout): token + position + token-type embeddings, LayerNorm, bidirectional
// attention with biases, post-LayerNorm blocks, GELU FFN. The forward returns final hidden
// states (Batch::embeddings); the engine pools and normalizes them. There is no LM head, so
// logits are refused. Attention runs in f32 over the batch itself: an encoder sees its whole
// input in one pass and keeps nothing in the KV cache.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/architectures.h"
#include "model/blocks.h"
#include "model/weights.h"

namespace pocket {
namespace {

struct BertLayer {
  TensorView wq;             // [d_model, d_model]
  TensorView wk;             // [d_model, d_model]
  TensorView wv;             // [d_model, d_model]
  const float* bq;           // [d_model]
  const float* bk;           // [d_model]
  const float* bv;           // [d_model]
  TensorView wo;             // [d_model, d_model]
  const float* bo;           // [d_model]
  const float* attn_norm;    // [d_model] LayerNorm after attention + residual
  const float* attn_norm_b;  // [d_model]
  TensorView w_up;           // [d_model, d_ff]
  const float* b_up;         // [d_ff]
  TensorView w_down;         // [d_ff, d_model]
  const float* b_down;       // [d_model]
  const float* out_norm;     // [d_model] LayerNorm after FFN + residual
  const float* out_norm_b;   // [d_model]
};

Pooling pooling_from_gguf(const gguf::File& f, int64_t type) {
  switch (type) {
    case 0:
      return Pooling::None;
    case 1:
      return Pooling::Mean;
    case 2:
      return Pooling::Cls;
    case 3:
      return Pooling::Last;
    default:
      fail(f.path(), ": bert.pooling_type ", type,
           " is not supported (0 none, 1 mean, 2 cls, 3 last)");
  }
}

// Bidirectional attention within each segment, in f32: out = softmax(q k^T * scale) v per head.
// q, k, v, out: [n_tokens][d_model]; scores need n_tokens floats per thread.
void encoder_attention(const Batch& batch, int64_t n_heads, int64_t head_dim, const float* q,
                       const float* k, const float* v, float* out, ThreadPool& pool,
                       kernels::Workspace& ws) {
  const int64_t width = n_heads * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const auto n_tokens = static_cast<int64_t>(batch.tokens.size());
  float* scratch = ws.floats(static_cast<size_t>(n_tokens * pool.size()));
  for (const auto& seg : batch.segments) {
    const int64_t n_tasks = seg.count * n_heads;
    auto job = [&](int thread, int n_threads) {
      float* scores = scratch + static_cast<int64_t>(thread) * n_tokens;
      for (int64_t task = thread; task < n_tasks; task += n_threads) {
        const int64_t i = seg.first + task / n_heads;
        const int64_t h = task % n_heads;
        const float* qi = q + i * width + h * head_dim;
        for (int64_t j = 0; j < seg.count; ++j) {
          const float* kj = k + (seg.first + j) * width + h * head_dim;
          float dot = 0;
          for (int64_t d = 0; d < head_dim; ++d) dot += qi[d] * kj[d];
          scores[j] = dot * scale;
        }
        kernels::softmax(scores, seg.count);
        float* o = out + i * width + h * head_dim;
        std::fill(o, o + head_dim, 0.0f);
        for (int64_t j = 0; j < seg.count; ++j) {
          const float* vj = v + (seg.first + j) * width + h * head_dim;
          for (int64_t d = 0; d < head_dim; ++d) o[d] += scores[j] * vj[d];
        }
      }
    };
    if (n_tasks == 1 || pool.size() == 1) {
      job(0, 1);
    } else {
      pool.run(job);
    }
  }
}

class BertModel final : public Model {
 public:
  explicit BertModel(gguf::File file) : Model(std::move(file)) {
    config_ = read_decoder_config(file_, "bert");
    ModelConfig& c = config_;
    c.norm_eps = static_cast<float>(file_.get_float("bert.attention.layer_norm_epsilon"));
    c.causal = file_.get_bool("bert.attention.causal", false);
    if (c.causal)
      fail(file_.path(), ": bert.attention.causal is true; pocket's bert is an encoder");
    if (c.n_kv_heads != c.n_heads)
      fail(file_.path(), ": bert with grouped-query attention is not supported");
    c.pooling = pooling_from_gguf(file_, file_.get_int("bert.pooling_type", 0));
    c.tied_embeddings = false;
    bind();
  }

  void forward(const Batch& batch, ForwardScratch& s, ThreadPool& pool, float* out) const override {
    const ModelConfig& c = config_;
    if (!batch.embeddings)
      fail(file_.path(), ": bert is an embedding model and has no logits; use embed");
    const auto n = static_cast<int64_t>(batch.tokens.size());
    blocks::prepare_batch(batch, c.n_vocab, file_.path(), s);
    for (const auto& seg : batch.segments) {
      if (seg.cache->size() != 0)
        fail(file_.path(), ": an encoder takes its whole input in one pass");
    }
    const int32_t* pos = s.positions.data();
    float* x = s.x.data();
    float* proj = s.proj.data();
    const int64_t d = c.d_model;

    // Every token has type 0: pocket embeds single texts, not sentence pairs.
    blocks::embed(token_embd_, batch.tokens, 0.0f, x);
    for (int64_t t = 0; t < n; ++t) {
      if (pos[t] >= position_embd_.ne[1]) {
        fail(file_.path(), ": position ", pos[t], " exceeds the model's ", position_embd_.ne[1],
             " positions");
      }
      float* row = x + t * d;
      if (token_types_) {
        kernels::get_row(token_types_, 0, proj);
        blocks::add_rows(row, proj, d);
      }
      kernels::get_row(position_embd_, pos[t], proj);
      blocks::add_rows(row, proj, d);
    }
    blocks::layer_norm_rows(x, embd_norm_, embd_norm_b_, n, d, c.norm_eps, x);

    for (int64_t l = 0; l < c.n_layers; ++l) {
      const BertLayer& w = layers_[l];
      blocks::linear(w.wq, w.bq, x, n, s.q.data(), s, pool);
      blocks::linear(w.wk, w.bk, x, n, s.k.data(), s, pool);
      blocks::linear(w.wv, w.bv, x, n, s.v.data(), s, pool);
      encoder_attention(batch, c.n_heads, c.head_dim, s.q.data(), s.k.data(), s.v.data(),
                        s.att.data(), pool, s.ws);
      blocks::linear(w.wo, w.bo, s.att.data(), n, proj, s, pool);
      blocks::add_rows(x, proj, n * d);
      blocks::layer_norm_rows(x, w.attn_norm, w.attn_norm_b, n, d, c.norm_eps, x);

      blocks::ffn(w.w_up, w.b_up, w.w_down, w.b_down, x, n, s, proj, pool);
      blocks::add_rows(x, proj, n * d);
      blocks::layer_norm_rows(x, w.out_norm, w.out_norm_b, n, d, c.norm_eps, x);
    }
    blocks::commit_batch(batch);
    for (size_t r = 0; r < batch.output_rows.size(); ++r) {
      std::copy_n(x + batch.output_rows[r] * d, d, out + static_cast<int64_t>(r) * d);
    }
  }

 private:
  // The GGUF tensor names of the BERT family (the only place they appear).
  void bind() {
    const ModelConfig& c = config_;
    const int64_t d = c.d_model;
    WeightBinder b(file_);
    token_embd_ = b.get("token_embd.weight", {d, c.n_vocab});
    position_embd_ = b.get("position_embd.weight", {d, rows_of("position_embd.weight")});
    token_types_ = b.optional("token_types.weight", {d, rows_of("token_types.weight")});
    embd_norm_ = b.vector("token_embd_norm.weight", d);
    embd_norm_b_ = b.vector("token_embd_norm.bias", d);
    layers_.resize(static_cast<size_t>(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      BertLayer& w = layers_[l];
      w.wq = b.get(p + "attn_q.weight", {d, d});
      w.bq = b.vector(p + "attn_q.bias", d);
      w.wk = b.get(p + "attn_k.weight", {d, d});
      w.bk = b.vector(p + "attn_k.bias", d);
      w.wv = b.get(p + "attn_v.weight", {d, d});
      w.bv = b.vector(p + "attn_v.bias", d);
      w.wo = b.get(p + "attn_output.weight", {d, d});
      w.bo = b.vector(p + "attn_output.bias", d);
      w.attn_norm = b.vector(p + "attn_output_norm.weight", d);
      w.attn_norm_b = b.vector(p + "attn_output_norm.bias", d);
      w.w_up = b.get(p + "ffn_up.weight", {d, c.d_ff});
      w.b_up = b.vector(p + "ffn_up.bias", c.d_ff);
      w.w_down = b.get(p + "ffn_down.weight", {c.d_ff, d});
      w.b_down = b.vector(p + "ffn_down.bias", d);
      w.out_norm = b.vector(p + "layer_output_norm.weight", d);
      w.out_norm_b = b.vector(p + "layer_output_norm.bias", d);
    }
  }

  int64_t rows_of(const char* name) const {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    return t != nullptr ? t->ne[1] : 1;
  }

  TensorView token_embd_;       // [d_model, n_vocab]
  TensorView position_embd_;    // [d_model, n_positions]
  TensorView token_types_;      // [d_model, n_token_types], optional
  const float* embd_norm_{};    // [d_model]
  const float* embd_norm_b_{};  // [d_model]
  std::vector<BertLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> create_bert(gguf::File file) {
  return std::make_unique<BertModel>(std::move(file));
}

}  // namespace pocket
