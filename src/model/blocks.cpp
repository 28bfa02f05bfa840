#include "model/blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "model/architectures.h"
#include "tensor/fp16.h"

namespace pocket::blocks {

void prepare_batch(const Batch& batch, int64_t n_vocab, const std::string& where,
                   ForwardScratch& s) {
  const auto n_tokens = static_cast<int64_t>(batch.tokens.size());
  if (n_tokens > s.max_tokens) {
    fail(where, ": batch of ", n_tokens, " tokens exceeds the batch size ", s.max_tokens);
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (batch.tokens[t] < 0 || batch.tokens[t] >= n_vocab) {
      fail(where, ": token id ", batch.tokens[t], " out of range [0, ", n_vocab, ")");
    }
  }
  int64_t covered = 0;
  for (const auto& seg : batch.segments) {
    if (seg.first < 0 || seg.count < 0 || seg.first + seg.count > n_tokens) {
      fail(where, ": batch segment [", seg.first, ", +", seg.count, ") out of range");
    }
    if (seg.cache->size() + seg.count > seg.cache->n_ctx()) {
      fail(where, ": context is full (", seg.cache->size(), " + ", seg.count, " tokens > n_ctx ",
           seg.cache->n_ctx(), ")");
    }
    for (int64_t i = 0; i < seg.count; ++i) {
      s.positions[static_cast<size_t>(seg.first + i)] = static_cast<int32_t>(seg.cache->size() + i);
    }
    covered += seg.count;
  }
  if (covered != n_tokens)
    fail(where, ": batch segments cover ", covered, " of ", n_tokens, " tokens");
  for (int64_t r : batch.output_rows) {
    if (r < 0 || r >= n_tokens) fail(where, ": output row ", r, " out of range");
  }
}

void embed(const TensorView& table, std::span<const int32_t> tokens, float scale, float* x) {
  const int64_t width = table.ne[0];
  for (size_t t = 0; t < tokens.size(); ++t) {
    float* row = x + static_cast<int64_t>(t) * width;
    kernels::get_row(table, tokens[t], row);
    if (scale != 0.0f) {
      for (int64_t i = 0; i < width; ++i) row[i] *= scale;
    }
  }
}

void rms_norm_rows(const float* x, const float* weight, int64_t n_rows, int64_t width, float eps,
                   float* out, ThreadPool& pool) {
  for_rows(pool, n_rows, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      kernels::rms_norm(x + t * width, weight, width, eps, out + t * width);
    }
  });
}

void layer_norm_rows(const float* x, const float* weight, const float* bias, int64_t n_rows,
                     int64_t width, float eps, float* out) {
  for (int64_t t = 0; t < n_rows; ++t) {
    kernels::layer_norm(x + t * width, weight, bias, width, eps, out + t * width);
  }
}

void add_rows(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void add_rows(float* y, const float* x, int64_t n_rows, int64_t width, ThreadPool& pool) {
  for_rows(pool, n_rows, [&](int64_t first, int64_t last) {
    add_rows(y + first * width, x + first * width, (last - first) * width);
  });
}

void add_bias(float* y, const float* bias, int64_t n_rows, int64_t width) {
  if (bias == nullptr) return;
  for (int64_t t = 0; t < n_rows; ++t) add_rows(y + t * width, bias, width);
}

void rope_rows(float* x, int64_t n_rows, int64_t n_heads, int64_t head_dim,
               const int32_t* positions, const kernels::RopeParams& params) {
  for (int64_t t = 0; t < n_rows; ++t) {
    kernels::rope(x + t * n_heads * head_dim, static_cast<int>(n_heads), static_cast<int>(head_dim),
                  positions[t], params);
  }
}

void gelu_f16(float* x, int64_t n) {
  // Beyond +-10 GELU(x) is 0 or x to f16 precision; the reference engine short-cuts there.
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (v <= -10.0f) {
      x[i] = 0.0f;
    } else if (v < 10.0f) {
      const float h = round_to_f16(v);
      x[i] = round_to_f16(0.5f * h *
                          (1.0f + std::tanh(kSqrt2OverPi * h * (1.0f + 0.044715f * h * h))));
    }
  }
}

namespace {

void observe(ForwardScratch& s, const TensorView& w, const float* x, int64_t n_rows) {
  if (s.observer != nullptr) s.observer->on_matmul(w, x, n_rows);
}

}  // namespace

void linear(const TensorView& w, const float* bias, const float* x, int64_t n_rows, float* y,
            ForwardScratch& s, ThreadPool& pool) {
  observe(s, w, x, n_rows);
  kernels::matmul(w, x, n_rows, y, pool, s.ws);
  add_bias(y, bias, n_rows, w.ne[1]);
}

void cached_attention(const Batch& batch, int64_t layer, const kernels::AttentionParams& params,
                      const float* q, const float* k, const float* v, const int32_t* positions,
                      float* out, ThreadPool& pool, kernels::Workspace& ws) {
  const int64_t kv_dim = static_cast<int64_t>(params.n_kv_heads) * params.head_dim;
  const int64_t q_dim = static_cast<int64_t>(params.n_heads) * params.head_dim;
  for (const auto& seg : batch.segments) {
    KvCache& cache = *seg.cache;
    for (int64_t i = 0; i < seg.count; ++i) {
      const int64_t t = seg.first + i;
      for (int64_t h = 0; h < params.n_kv_heads; ++h) {
        const int64_t x = t * kv_dim + h * params.head_dim;
        cache.store(layer, h, positions[t], k + x, v + x);
      }
    }
    const int64_t n_kv = cache.size() + seg.count;
    kernels::AttentionParams p = params;
    p.kv_type = cache.type();
    p.kv_capacity = cache.capacity();
    kernels::attention(p, q + seg.first * q_dim, seg.count, positions + seg.first,
                       cache.keys(layer), cache.values(layer), n_kv, out + seg.first * q_dim, pool,
                       ws);
  }
}

namespace {

// Runs body(count, x_rows, out_rows) over the n_rows rows of x in chunks of
// s.ffn_tokens rows (the FFN's hidden-row scratch is sized for one chunk).
template <class F>
void for_ffn_chunks(const float* x, int64_t width_in, int64_t n_rows, float* out, int64_t width_out,
                    const ForwardScratch& s, F&& body) {
  for (int64_t t0 = 0; t0 < n_rows; t0 += s.ffn_tokens) {
    const int64_t count = std::min(s.ffn_tokens, n_rows - t0);
    body(count, x + t0 * width_in, out + t0 * width_out);
  }
}

}  // namespace

void gated_ffn(const TensorView& w_gate, const TensorView& w_up, const TensorView& w_down,
               Activation act, const float* xn, int64_t n_rows, ForwardScratch& s, float* out,
               ThreadPool& pool) {
  const int64_t d_ff = w_gate.ne[1];
  float* gate = s.gate.data();
  float* up = s.up.data();
  for_ffn_chunks(xn, w_gate.ne[0], n_rows, out, w_down.ne[1], s,
                 [&](int64_t n, const float* x, float* y) {
                   observe(s, w_gate, x, n);
                   observe(s, w_up, x, n);
                   const kernels::MatmulTarget gate_up[] = {{&w_gate, gate}, {&w_up, up}};
                   kernels::matmul_many(gate_up, x, n, pool, s.ws);
                   for_rows(pool, n, [&](int64_t first, int64_t last) {
                     float* g = gate + first * d_ff;
                     const float* u = up + first * d_ff;
                     const int64_t count = (last - first) * d_ff;
                     if (act == Activation::Silu) {
                       kernels::swiglu(g, u, count, g);
                     } else if (act == Activation::Gelu) {
                       kernels::geglu(g, u, count, g);
                     } else {
                       gelu_f16(g, count);
                       for (int64_t i = 0; i < count; ++i) g[i] *= u[i];
                     }
                   });
                   observe(s, w_down, gate, n);
                   kernels::matmul(w_down, gate, n, y, pool, s.ws);
                 });
}

void ffn(const TensorView& w_up, const float* b_up, const TensorView& w_down, const float* b_down,
         const float* x, int64_t n_rows, ForwardScratch& s, float* out, ThreadPool& pool) {
  const int64_t d_ff = w_up.ne[1];
  float* hidden = s.gate.data();
  for_ffn_chunks(x, w_up.ne[0], n_rows, out, w_down.ne[1], s,
                 [&](int64_t n, const float* xc, float* y) {
                   linear(w_up, b_up, xc, n, hidden, s, pool);
                   gelu_f16(hidden, n * d_ff);
                   linear(w_down, b_down, hidden, n, y, s, pool);
                 });
}

TensorView row_slice(const TensorView& w, int64_t first, int64_t count) {
  if (first < 0 || count <= 0 || first + count > w.ne[1]) {
    fail("tensor '", w.name, "': rows [", first, ", ", first + count, ") out of range (", w.ne[1],
         " rows)");
  }
  TensorView view = w;
  view.ne[1] = count;
  view.data = w.row(first);
  return view;
}

void head_rms_norm(float* x, const float* weight, int64_t n_rows, int64_t n_heads, int64_t head_dim,
                   float eps, ThreadPool& pool) {
  // Rows of [n_heads * head_dim] are n_heads rows of [head_dim]; normalize them in place.
  for_rows(pool, n_rows * n_heads, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      kernels::rms_norm(x + r * head_dim, weight, head_dim, eps, x + r * head_dim);
    }
  });
}

namespace {

void rope_batch(const Batch& batch, float* x, int64_t n_heads, int64_t head_dim,
                const int32_t* positions, const RopeSet& rope, ThreadPool& pool) {
  const int64_t width = n_heads * head_dim;
  for (const auto& seg : batch.segments) {
    const bool long_ctx = rope.long_context != nullptr && seg.cache->n_ctx() > rope.original_ctx;
    for_rows(pool, seg.count, [&](int64_t first, int64_t last) {
      const int64_t t = seg.first + first;
      rope_rows(x + t * width, last - first, n_heads, head_dim, positions + t,
                long_ctx ? *rope.long_context : *rope.base);
    });
  }
}

}  // namespace

void self_attention(const Batch& batch, int64_t layer, const ModelConfig& c,
                    const AttentionWeights& w, const RopeSet& rope, const float* xn,
                    ForwardScratch& s, ThreadPool& pool, float* out) {
  const auto n = static_cast<int64_t>(batch.tokens.size());
  const int32_t* pos = s.positions.data();
  observe(s, w.wq, xn, n);
  observe(s, w.wk, xn, n);
  observe(s, w.wv, xn, n);
  const kernels::MatmulTarget qkv[] = {
      {&w.wq, s.q.data()}, {&w.wk, s.k.data()}, {&w.wv, s.v.data()}};
  kernels::matmul_many(qkv, xn, n, pool, s.ws);
  add_bias(s.q.data(), w.bq, n, w.wq.ne[1]);
  add_bias(s.k.data(), w.bk, n, w.wk.ne[1]);
  add_bias(s.v.data(), w.bv, n, w.wv.ne[1]);
  if (w.q_norm != nullptr) {
    head_rms_norm(s.q.data(), w.q_norm, n, c.n_heads, c.head_dim, c.norm_eps, pool);
  }
  if (w.k_norm != nullptr) {
    head_rms_norm(s.k.data(), w.k_norm, n, c.n_kv_heads, c.head_dim, c.norm_eps, pool);
  }
  rope_batch(batch, s.q.data(), c.n_heads, c.head_dim, pos, rope, pool);
  rope_batch(batch, s.k.data(), c.n_kv_heads, c.head_dim, pos, rope, pool);
  kernels::AttentionParams params = attention_params(c, layer);
  params.flash = s.flash_attn;
  cached_attention(batch, layer, params, s.q.data(), s.k.data(), s.v.data(), pos, s.att.data(),
                   pool, s.ws);
  linear(w.wo, nullptr, s.att.data(), n, out, s, pool);
}

void commit_batch(const Batch& batch) {
  for (const auto& seg : batch.segments) seg.cache->advance(seg.count);
}

void output_rows(const Batch& batch, const float* normed, int64_t d_model, const TensorView& output,
                 float final_softcap, ForwardScratch& s, float* out, ThreadPool& pool) {
  const auto n_out = static_cast<int64_t>(batch.output_rows.size());
  if (batch.embeddings) {
    for (int64_t r = 0; r < n_out; ++r) {
      std::memcpy(out + r * d_model, normed + batch.output_rows[r] * d_model,
                  d_model * sizeof(float));
    }
    return;
  }
  float* rows = s.rows.data();
  for (int64_t r = 0; r < n_out; ++r) {
    std::memcpy(rows + r * d_model, normed + batch.output_rows[r] * d_model,
                d_model * sizeof(float));
  }
  observe(s, output, rows, n_out);
  kernels::matmul(output, rows, n_out, out, pool, s.ws);
  if (final_softcap > 0) {
    const int64_t n = n_out * output.ne[1];
    for (int64_t i = 0; i < n; ++i) out[i] = final_softcap * std::tanh(out[i] / final_softcap);
  }
}

}  // namespace pocket::blocks
