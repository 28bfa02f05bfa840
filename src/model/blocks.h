// Shared transformer blocks: the pieces every architecture's forward pass is built from.
// Each works on all tokens of a batch at once (rows of [n_tokens][width] buffers), so weight
// matrices are streamed once per batch, not once per token.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/kernels.h"
#include "model/model.h"

namespace pocket::blocks {

// Gelu: tanh approximation in f32. GeluF16: the same function evaluated at f16 precision
// (input and result rounded to f16), which is how the reference engine computes GELU (a
// lookup table over all f16 inputs); Gemma and BERT use it to match its outputs.
enum class Activation { Silu, Gelu, GeluF16 };

// Checks token ids and cache capacity, then fills positions[t] for every batch row.
void prepare_batch(const Batch& batch, int64_t n_vocab, const std::string& where,
                   ForwardScratch& s);

// x[t] = row tokens[t] of the embedding table, times `scale` when scale != 0.
void embed(const TensorView& table, std::span<const int32_t> tokens, float scale, float* x);

// body(first, last) over the rows [0, n_rows): split across the pool's threads for
// prefill-sized batches, run inline for decode-sized ones (a pool round trip costs more than
// row-wise work on a few rows).
template <class F>
void for_rows(ThreadPool& pool, int64_t n_rows, F&& body) {
  constexpr int64_t kMinParallelRows = 16;
  if (n_rows < kMinParallelRows || pool.size() == 1) {
    body(int64_t{0}, n_rows);
  } else {
    pool.parallel_for(n_rows, 1, body);
  }
}

void rms_norm_rows(const float* x, const float* weight, int64_t n_rows, int64_t width, float eps,
                   float* out, ThreadPool& pool);
void layer_norm_rows(const float* x, const float* weight, const float* bias, int64_t n_rows,
                     int64_t width, float eps, float* out);
void add_rows(float* y, const float* x, int64_t n);  // y += x
void add_rows(float* y, const float* x, int64_t n_rows, int64_t width, ThreadPool& pool);
void add_bias(float* y, const float* bias, int64_t n_rows, int64_t width);  // y[t] += bias
void rope_rows(float* x, int64_t n_rows, int64_t n_heads, int64_t head_dim,
               const int32_t* positions, const kernels::RopeParams& params);

// x[i] = GELU(x[i]) at f16 precision (see Activation::GeluF16). A plain loop for now.
void gelu_f16(float* x, int64_t n);

// y = x W^T (+ bias), for n_rows rows of x; s.observer (if any) sees x first.
void linear(const TensorView& w, const float* bias, const float* x, int64_t n_rows, float* y,
            ForwardScratch& s, ThreadPool& pool);

// Stores the batch's k and v rows into each segment's cache at its positions, then runs
// attention of each segment's queries against that cache. q, out: [n_tokens][q_dim].
void cached_attention(const Batch& batch, int64_t layer, const kernels::AttentionParams& params,
                      const float* q, const float* k, const float* v, const int32_t* positions,
                      float* out, ThreadPool& pool, kernels::Workspace& ws);

// out = W_down (act(W_gate x) * (W_up x)), for n_rows rows of xn, s.ffn_tokens rows at a time
// (ForwardScratch::kFfnChunkTokens). s.observer (if any) sees xn for gate and up and the
// activated hidden state for down.
void gated_ffn(const TensorView& w_gate, const TensorView& w_up, const TensorView& w_down,
               Activation act, const float* xn, int64_t n_rows, ForwardScratch& s, float* out,
               ThreadPool& pool);

// out = W_down GELU(W_up x + b_up) + b_down (BERT), GELU at f16 precision. Like gated_ffn,
// it runs s.ffn_tokens rows at a time.
void ffn(const TensorView& w_up, const float* b_up, const TensorView& w_down, const float* b_down,
         const float* x, int64_t n_rows, ForwardScratch& s, float* out, ThreadPool& pool);

// Rows [first, first + count) of a weight matrix, as a view into the same bytes: a fused
// projection (phi3's attn_qkv, gate+up ffn_up) runs as separate matmuls, with no copy and no
// extra scratch. Each output element is the same dot product either way.
TensorView row_slice(const TensorView& w, int64_t first, int64_t count);

// RMSNorm of every head of every row, with one weight vector of head_dim shared by all heads
// (qwen3 / gemma3 Q and K norms). x: [n_rows][n_heads * head_dim], in place.
void head_rms_norm(float* x, const float* weight, int64_t n_rows, int64_t n_heads, int64_t head_dim,
                   float eps, ThreadPool& pool);

// Weights of the attention half of a decoder layer; optional parts are empty or null.
struct AttentionWeights {
  TensorView wq;                  // [d_model, q_dim]
  TensorView wk;                  // [d_model, kv_dim]
  TensorView wv;                  // [d_model, kv_dim]
  TensorView wo;                  // [q_dim, d_model]
  const float* bq = nullptr;      // [q_dim] (qwen2)
  const float* bk = nullptr;      // [kv_dim]
  const float* bv = nullptr;      // [kv_dim]
  const float* q_norm = nullptr;  // [head_dim] per-head RMSNorm before RoPE (qwen3, gemma3)
  const float* k_norm = nullptr;  // [head_dim]
};

// RoPE for a batch: `base`, or `long_context` for sequences whose context exceeds
// `original_ctx` (LongRoPE's two factor sets).
struct RopeSet {
  const kernels::RopeParams* base = nullptr;
  const kernels::RopeParams* long_context = nullptr;
  int64_t original_ctx = 0;
};

// The attention half of a pre-norm decoder layer on the normed rows xn: q/k/v projections
// (+ biases), optional per-head q/k RMSNorm, RoPE, attention over each sequence's cache
// (parameters of `layer`), and the output projection into out ([n_tokens][d_model]).
void self_attention(const Batch& batch, int64_t layer, const ModelConfig& c,
                    const AttentionWeights& w, const RopeSet& rope, const float* xn,
                    ForwardScratch& s, ThreadPool& pool, float* out);

// Advances each segment's cache past the tokens just processed.
void commit_batch(const Batch& batch);

// Final step: normed hidden state rows -> logits (or the hidden states themselves).
// `normed` holds [n_tokens][d_model]; selected rows are gathered before the output matmul
// (which s.observer sees, as it sees every other weight matmul).
void output_rows(const Batch& batch, const float* normed, int64_t d_model, const TensorView& output,
                 float final_softcap, ForwardScratch& s, float* out, ThreadPool& pool);

}  // namespace pocket::blocks
