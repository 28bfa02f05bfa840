// Architectures with no reference outputs here (qwen3, gemma3, Mistral's sliding window, Phi-3
// LongRoPE factors): the test writes a tiny random-weight GGUF with gguf::Writer, runs pocket
// on it, and compares the logits with a direct computation written below from each
// architecture's published description (the Hugging Face modeling code's math): plain loops
// in double, nothing shared with src/model or src/kernels.
//
// The direct computation rounds what pocket's attention rounds (keys and values stored as f16,
// the query and the softmax weights rounded to f16, as the reference engine does), so the
// remaining differences are f32-vs-double accumulation: bound kRelTol x max |logit|.
//
// Legend: d = d_model, H = n_heads, Hkv = n_kv_heads, Dh = head_dim, F = d_ff, V = n_vocab.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "tensor/fp16.h"

namespace pocket {
namespace {

constexpr double kRelTol = 1e-3;  // max |pocket - direct| / max |direct logit|

// What the direct computation does: the published description of each architecture, as flags.
struct Description {
  std::string arch;
  int64_t n_vocab = 64, d_model = 64, n_layers = 2, n_heads = 4, n_kv_heads = 2, head_dim = 16,
          d_ff = 128;
  float eps = 1e-6f;
  float rope_base = 10000.0f;
  float local_rope_base = 0;  // gemma3: RoPE base of the sliding-window layers
  bool neox = true;
  bool qkv_bias = false;      // qwen2
  bool qk_norm = false;       // qwen3, gemma3: RMSNorm over each head of q and k
  bool post_norms = false;    // gemma: RMSNorm after attention and after the FFN
  bool gelu = false;          // gemma: GeGLU (tanh GELU); otherwise SwiGLU
  bool fused = false;         // phi3: attn_qkv and gate+up in ffn_up
  bool rope_factors = false;  // phi3 LongRoPE: rope_factors_short/long
  float embed_scale = 0;      // gemma: sqrt(d)
  float query_scale = 0;      // 0: 1/sqrt(Dh)
  float attn_softcap = 0, final_softcap = 0;
  int64_t window = 0;              // sliding window (keys at positions > p - window)
  std::vector<bool> layer_window;  // empty: every layer windowed when window > 0

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  bool windowed(int64_t l) const {
    return window > 0 && (layer_window.empty() || layer_window[static_cast<size_t>(l)]);
  }
};

// Random weights by name, with their GGUF shapes ([in, out] for matrices: out rows of in).
struct Weights {
  std::map<std::string, std::vector<float>> data;
  std::map<std::string, std::vector<int64_t>> shape;
  std::mt19937 rng{1234};

  const std::vector<float>& operator()(const std::string& name) const { return data.at(name); }
  bool has(const std::string& name) const { return data.count(name) != 0; }
  void add(const std::string& name, std::vector<int64_t> dims, double mean, double stddev) {
    int64_t n = 1;
    for (int64_t x : dims) n *= x;
    std::normal_distribution<double> normal(mean, stddev);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = static_cast<float>(normal(rng));
    data[name] = std::move(v);
    shape[name] = std::move(dims);
  }
  void matrix(const std::string& name, int64_t in, int64_t out, double gain = 1.0) {
    add(name, {in, out}, 0.0, gain / std::sqrt(static_cast<double>(in)));
  }
  void norm(const std::string& name, int64_t n) { add(name, {n}, 1.0, 0.1); }
};

Weights make_weights(const Description& a) {
  Weights w;
  const int64_t d = a.d_model;
  w.add("token_embd.weight", {d, a.n_vocab}, 0.0, 1.0);
  w.norm("output_norm.weight", d);
  w.add("output.weight", {d, a.n_vocab}, 0.0, 4.0 / std::sqrt(static_cast<double>(d)));
  if (a.rope_factors) {
    w.add("rope_factors_short.weight", {a.head_dim / 2}, 1.5, 0.4);
    w.add("rope_factors_long.weight", {a.head_dim / 2}, 4.0, 1.0);
  }
  for (int64_t l = 0; l < a.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    w.norm(p + "attn_norm.weight", d);
    w.matrix(p + "attn_q.weight", d, a.q_dim());
    w.matrix(p + "attn_k.weight", d, a.kv_dim());
    w.matrix(p + "attn_v.weight", d, a.kv_dim());
    if (a.qkv_bias) {
      w.add(p + "attn_q.bias", {a.q_dim()}, 0.0, 0.1);
      w.add(p + "attn_k.bias", {a.kv_dim()}, 0.0, 0.1);
      w.add(p + "attn_v.bias", {a.kv_dim()}, 0.0, 0.1);
    }
    if (a.qk_norm) {
      w.norm(p + "attn_q_norm.weight", a.head_dim);
      w.norm(p + "attn_k_norm.weight", a.head_dim);
    }
    w.matrix(p + "attn_output.weight", a.q_dim(), d, 0.7);
    w.norm(p + "ffn_norm.weight", d);
    w.matrix(p + "ffn_gate.weight", d, a.d_ff);
    w.matrix(p + "ffn_up.weight", d, a.d_ff);
    w.matrix(p + "ffn_down.weight", a.d_ff, d, 0.7);
    if (a.post_norms) {
      w.norm(p + "post_attention_norm.weight", d);
      w.norm(p + "post_ffw_norm.weight", d);
    }
  }
  return w;
}

// The GGUF image pocket loads: metadata under the architecture's prefix, F32 tensors.
std::vector<uint8_t> write_gguf(const Description& a, const Weights& w,
                                std::vector<std::vector<float>>& keep) {
  gguf::Writer g;
  auto key = [&](const char* suffix) { return a.arch + "." + suffix; };
  g.set("general.architecture", gguf::Value::from_string(a.arch));
  g.set(key("context_length"), gguf::Value::from_u32(256));
  g.set(key("embedding_length"), gguf::Value::from_u32(static_cast<uint32_t>(a.d_model)));
  g.set(key("block_count"), gguf::Value::from_u32(static_cast<uint32_t>(a.n_layers)));
  g.set(key("feed_forward_length"), gguf::Value::from_u32(static_cast<uint32_t>(a.d_ff)));
  g.set(key("attention.head_count"), gguf::Value::from_u32(static_cast<uint32_t>(a.n_heads)));
  g.set(key("attention.head_count_kv"), gguf::Value::from_u32(static_cast<uint32_t>(a.n_kv_heads)));
  g.set(key("attention.key_length"), gguf::Value::from_u32(static_cast<uint32_t>(a.head_dim)));
  g.set(key("attention.value_length"), gguf::Value::from_u32(static_cast<uint32_t>(a.head_dim)));
  g.set(key("attention.layer_norm_rms_epsilon"), gguf::Value::from_f32(a.eps));
  g.set(key("rope.freq_base"), gguf::Value::from_f32(a.rope_base));
  if (a.window > 0)
    g.set(key("attention.sliding_window"), gguf::Value::from_u32(static_cast<uint32_t>(a.window)));
  if (a.rope_factors)
    g.set(key("rope.scaling.original_context_length"), gguf::Value::from_u32(128));

  auto add = [&](const std::string& name, const std::vector<int64_t>& dims,
                 const std::vector<float>& v) {
    keep.push_back(v);
    g.add_tensor(name, DType::F32, dims, keep.back().data());
  };
  keep.reserve(w.data.size() + 16);
  for (const auto& [name, v] : w.data) {
    if (a.fused &&
        (name.find("attn_q.") != std::string::npos || name.find("attn_k.") != std::string::npos ||
         name.find("attn_v.") != std::string::npos || name.find("ffn_gate.") != std::string::npos ||
         name.find("ffn_up.") != std::string::npos)) {
      continue;
    }
    add(name, w.shape.at(name), v);
  }
  if (a.fused) {  // phi3: [Wq; Wk; Wv] and [W_gate; W_up], rows stacked in that order
    for (int64_t l = 0; l < a.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      std::vector<float> qkv = w(p + "attn_q.weight");
      for (const char* part : {"attn_k.weight", "attn_v.weight"}) {
        const auto& m = w(p + part);
        qkv.insert(qkv.end(), m.begin(), m.end());
      }
      add(p + "attn_qkv.weight", {a.d_model, a.q_dim() + 2 * a.kv_dim()}, qkv);
      std::vector<float> gate_up = w(p + "ffn_gate.weight");
      const auto& up = w(p + "ffn_up.weight");
      gate_up.insert(gate_up.end(), up.begin(), up.end());
      add(p + "ffn_up.weight", {a.d_model, 2 * a.d_ff}, gate_up);
    }
  }
  return g.to_bytes();
}

// ---- The direct computation ----------------------------------------------------------

using Vec = std::vector<double>;

double f16(double x) {
  return round_to_f16(static_cast<float>(x));
}

// y = W x, W row-major [out][in] as GGUF stores an [in, out] tensor.
Vec matvec(const std::vector<float>& w, int64_t in, const Vec& x) {
  const auto out = static_cast<int64_t>(w.size()) / in;
  Vec y(static_cast<size_t>(out), 0.0);
  for (int64_t r = 0; r < out; ++r) {
    for (int64_t k = 0; k < in; ++k) y[r] += static_cast<double>(w[r * in + k]) * x[k];
  }
  return y;
}

// RMSNorm of x[offset, offset + n) in place: x / sqrt(mean(x^2) + eps) * weight.
void rms_norm(Vec& x, int64_t offset, int64_t n, const std::vector<float>& weight, double eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += x[offset + i] * x[offset + i];
  const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) x[offset + i] *= scale * weight[i];
}

// Rotary embedding of one head at x[offset, offset + Dh): pairs (2i, 2i+1) (RoFormer) or
// (i, i + Dh/2) (GPT-NeoX rotate_half), angle pos * base^(-2i/Dh) / factor[i].
void rotate(Vec& x, int64_t offset, int64_t head_dim, int64_t pos, double base, bool neox,
            const std::vector<float>* factors) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    double angle = static_cast<double>(pos) *
                   std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    if (factors != nullptr) angle /= (*factors)[i];
    const int64_t a = offset + (neox ? i : 2 * i);
    const int64_t b = offset + (neox ? i + half : 2 * i + 1);
    const double x0 = x[a], x1 = x[b];
    x[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
    x[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
  }
}

double gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
double silu(double x) {
  return x / (1.0 + std::exp(-x));
}

// Logits ([n][V]) or final normed hidden states ([n][d]) of `tokens` at positions 0..n-1.
// `use_window` false ignores the sliding window (to show that it matters).
std::vector<Vec> direct_forward(const Description& a, const Weights& w,
                                const std::vector<int32_t>& tokens, bool use_window, bool hidden) {
  const auto n = static_cast<int64_t>(tokens.size());
  const int64_t d = a.d_model, dh = a.head_dim, group = a.n_heads / a.n_kv_heads;
  const auto& embd = w("token_embd.weight");
  std::vector<Vec> h(static_cast<size_t>(n), Vec(static_cast<size_t>(d)));
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < d; ++i)
      h[t][i] = embd[tokens[t] * d + i] * (a.embed_scale > 0 ? a.embed_scale : 1.0);
  }
  const std::vector<float>* factors = a.rope_factors ? &w("rope_factors_short.weight") : nullptr;
  const double scale = a.query_scale > 0 ? a.query_scale : 1.0 / std::sqrt(static_cast<double>(dh));
  for (int64_t l = 0; l < a.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const bool windowed = use_window && a.windowed(l);
    const double base = a.local_rope_base > 0 && a.windowed(l) ? a.local_rope_base : a.rope_base;
    std::vector<Vec> q(n), k(n), v(n);
    for (int64_t t = 0; t < n; ++t) {
      Vec xn = h[t];
      rms_norm(xn, 0, d, w(p + "attn_norm.weight"), a.eps);
      q[t] = matvec(w(p + "attn_q.weight"), d, xn);
      k[t] = matvec(w(p + "attn_k.weight"), d, xn);
      v[t] = matvec(w(p + "attn_v.weight"), d, xn);
      if (a.qkv_bias) {
        for (int64_t i = 0; i < a.q_dim(); ++i) q[t][i] += w(p + "attn_q.bias")[i];
        for (int64_t i = 0; i < a.kv_dim(); ++i) k[t][i] += w(p + "attn_k.bias")[i];
        for (int64_t i = 0; i < a.kv_dim(); ++i) v[t][i] += w(p + "attn_v.bias")[i];
      }
      for (int64_t hd = 0; hd < a.n_heads; ++hd) {
        if (a.qk_norm) rms_norm(q[t], hd * dh, dh, w(p + "attn_q_norm.weight"), a.eps);
        rotate(q[t], hd * dh, dh, t, base, a.neox, factors);
      }
      for (int64_t hd = 0; hd < a.n_kv_heads; ++hd) {
        if (a.qk_norm) rms_norm(k[t], hd * dh, dh, w(p + "attn_k_norm.weight"), a.eps);
        rotate(k[t], hd * dh, dh, t, base, a.neox, factors);
      }
      for (double& x : k[t]) x = f16(x);  // the f16 KV cache
      for (double& x : v[t]) x = f16(x);
    }
    for (int64_t t = 0; t < n; ++t) {
      Vec att(static_cast<size_t>(a.q_dim()), 0.0);
      for (int64_t hd = 0; hd < a.n_heads; ++hd) {
        const int64_t kvh = hd / group;
        const int64_t first = windowed ? std::max<int64_t>(0, t - a.window + 1) : 0;
        Vec score(static_cast<size_t>(t + 1), 0.0);
        double max = -INFINITY;
        for (int64_t j = first; j <= t; ++j) {
          double s = 0;
          for (int64_t i = 0; i < dh; ++i) s += f16(q[t][hd * dh + i]) * k[j][kvh * dh + i];
          s *= scale;
          if (a.attn_softcap > 0) s = a.attn_softcap * std::tanh(s / a.attn_softcap);
          score[j] = s;
          max = std::max(max, s);
        }
        double sum = 0;
        for (int64_t j = first; j <= t; ++j) sum += (score[j] = std::exp(score[j] - max));
        for (int64_t j = first; j <= t; ++j) {
          const double weight = f16(score[j] / sum);
          for (int64_t i = 0; i < dh; ++i) att[hd * dh + i] += weight * v[j][kvh * dh + i];
        }
      }
      Vec o = matvec(w(p + "attn_output.weight"), a.q_dim(), att);
      if (a.post_norms) rms_norm(o, 0, d, w(p + "post_attention_norm.weight"), a.eps);
      for (int64_t i = 0; i < d; ++i) h[t][i] += o[i];

      Vec xn = h[t];
      rms_norm(xn, 0, d, w(p + "ffn_norm.weight"), a.eps);
      Vec gate = matvec(w(p + "ffn_gate.weight"), d, xn);
      Vec up = matvec(w(p + "ffn_up.weight"), d, xn);
      for (int64_t i = 0; i < a.d_ff; ++i)
        gate[i] = (a.gelu ? gelu_tanh(gate[i]) : silu(gate[i])) * up[i];
      Vec f = matvec(w(p + "ffn_down.weight"), a.d_ff, gate);
      if (a.post_norms) rms_norm(f, 0, d, w(p + "post_ffw_norm.weight"), a.eps);
      for (int64_t i = 0; i < d; ++i) h[t][i] += f[i];
    }
  }
  std::vector<Vec> out;
  for (int64_t t = 0; t < n; ++t) {
    Vec xn = h[t];
    rms_norm(xn, 0, d, w("output_norm.weight"), a.eps);
    if (hidden) {
      out.push_back(xn);
      continue;
    }
    Vec logits = matvec(w("output.weight"), d, xn);
    if (a.final_softcap > 0) {
      for (double& x : logits) x = a.final_softcap * std::tanh(x / a.final_softcap);
    }
    out.push_back(logits);
  }
  return out;
}

// ---- Running pocket ------------------------------------------------------------------

struct Synthetic {
  Description desc;
  Weights weights;
  std::vector<std::vector<float>> keep;  // tensor bytes the writer points at
  std::unique_ptr<Model> model;

  explicit Synthetic(Description a) : desc(std::move(a)), weights(make_weights(desc)) {
    std::vector<uint8_t> bytes = write_gguf(desc, weights, keep);
    model = Model::load(gguf::File::from_memory(std::move(bytes), desc.arch + "-synth.gguf"));
  }

  // Every row's logits (or hidden states): the first `prefill` tokens in one pass, then one
  // token per pass, as decoding does.
  std::vector<std::vector<float>> run(const std::vector<int32_t>& tokens, int64_t prefill,
                                      bool embeddings, int threads) const {
    const ModelConfig& c = model->config();
    const auto n = static_cast<int64_t>(tokens.size());
    KvCache cache(c.n_layers, n, c.n_kv_heads, c.head_dim);
    ForwardScratch scratch(c, n);
    ThreadPool pool(threads);
    const int64_t width = embeddings ? c.d_model : c.n_vocab;
    std::vector<std::vector<float>> rows;
    for (int64_t first = 0; first < n;) {
      const int64_t count = first == 0 ? std::min(prefill, n) : 1;
      std::vector<int64_t> out_rows(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) out_rows[i] = i;
      Batch::Segment seg{&cache, 0, count};
      Batch batch{std::span(tokens).subspan(static_cast<size_t>(first), static_cast<size_t>(count)),
                  std::span(&seg, 1), out_rows, embeddings};
      std::vector<float> out(static_cast<size_t>(count * width));
      model->forward(batch, scratch, pool, out.data());
      for (int64_t i = 0; i < count; ++i)
        rows.emplace_back(out.begin() + i * width, out.begin() + (i + 1) * width);
      first += count;
    }
    return rows;
  }
};

struct Diff {
  double max_diff = 0, max_ref = 0;
};

Diff compare(const std::vector<std::vector<float>>& got, const std::vector<Vec>& want) {
  Diff r;
  EXPECT_EQ(got.size(), want.size());
  for (size_t t = 0; t < std::min(got.size(), want.size()); ++t) {
    for (size_t i = 0; i < want[t].size(); ++i) {
      r.max_ref = std::max(r.max_ref, std::abs(want[t][i]));
      r.max_diff = std::max(r.max_diff, std::abs(got[t][i] - want[t][i]));
    }
  }
  return r;
}

Diff compare(const std::vector<Vec>& a, const std::vector<Vec>& b) {
  std::vector<std::vector<float>> af;
  for (const Vec& row : a) af.emplace_back(row.begin(), row.end());
  return compare(af, b);
}

std::vector<int32_t> prompt(int64_t n, int64_t n_vocab) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i)
    t.push_back(static_cast<int32_t>((7 * i * i + 3 * i + 1) % n_vocab));
  return t;
}

// Checks pocket against the direct computation for a 12-token prompt, all in one pass and
// as prefill + single-token decode steps, at 1 and 2 threads.
void check_against_direct(const Synthetic& s, const char* what) {
  const std::vector<int32_t> tokens = prompt(12, s.desc.n_vocab);
  const std::vector<Vec> want = direct_forward(s.desc, s.weights, tokens, true, false);
  for (int threads : {1, 2}) {
    for (int64_t prefill : {int64_t{12}, int64_t{5}}) {
      const Diff diff = compare(s.run(tokens, prefill, false, threads), want);
      std::printf("[%s prefill %lld t=%d] logits max|diff| %.3g (%.2g of max|ref| %.3g)\n", what,
                  static_cast<long long>(prefill), threads, diff.max_diff,
                  diff.max_diff / diff.max_ref, diff.max_ref);
      EXPECT_LE(diff.max_diff, kRelTol * diff.max_ref)
          << what << " prefill " << prefill << " threads " << threads;
    }
  }
}

// The window must matter for the prompt: without it the direct computation differs by far
// more than the tolerance.
void check_window_matters(const Synthetic& s, const char* what) {
  const std::vector<int32_t> tokens = prompt(12, s.desc.n_vocab);
  const Diff d = compare(direct_forward(s.desc, s.weights, tokens, false, false),
                         direct_forward(s.desc, s.weights, tokens, true, false));
  std::printf("[%s] window vs no window: max|diff| %.3g (%.2g of max|ref|)\n", what, d.max_diff,
              d.max_diff / d.max_ref);
  EXPECT_GT(d.max_diff, 20 * kRelTol * d.max_ref) << "the sliding window does not change " << what;
}

Description qwen3() {
  Description a;
  a.arch = "qwen3";
  a.head_dim = 32;  // Qwen3's key_length differs from d / H (here 64 / 4 = 16)
  a.qk_norm = true;
  a.rope_base = 1e6f;
  return a;
}

Description gemma3() {
  Description a;
  a.arch = "gemma3";
  a.n_layers = 6;  // five sliding-window layers, then one global layer
  a.head_dim = 32;
  a.qk_norm = true;
  a.post_norms = true;
  a.gelu = true;
  a.embed_scale = std::sqrt(64.0f);
  a.rope_base = 1e6f;
  a.local_rope_base = 10000.0f;
  a.window = 4;
  a.layer_window = {true, true, true, true, true, false};
  return a;
}

Description mistral() {
  Description a;
  a.arch = "llama";
  a.neox = false;  // llama-layout files use the interleaved RoPE
  a.eps = 1e-5f;
  a.window = 4;
  return a;
}

Description phi3_longrope() {
  Description a;
  a.arch = "phi3";
  a.fused = true;
  a.rope_factors = true;
  a.eps = 1e-5f;
  return a;
}

TEST(ArchSynthetic, Qwen3MatchesDirectComputation) {
  Synthetic s(qwen3());
  EXPECT_EQ(s.model->config().head_dim, 32);
  check_against_direct(s, "qwen3");
}

TEST(ArchSynthetic, Gemma3MatchesDirectComputationWithSlidingWindow) {
  Synthetic s(gemma3());
  check_against_direct(s, "gemma3");
  check_window_matters(s, "gemma3");
}

TEST(ArchSynthetic, MistralSlidingWindowMatchesDirectComputation) {
  Synthetic s(mistral());
  EXPECT_EQ(s.model->config().sliding_window, 4);
  check_against_direct(s, "mistral");
  check_window_matters(s, "mistral");
}

TEST(ArchSynthetic, Phi3FusedWeightsAndLongRopeFactorsMatchDirectComputation) {
  Synthetic s(phi3_longrope());
  check_against_direct(s, "phi3-longrope");
}

TEST(ArchSynthetic, DecoderEmbeddingsAreFinalNormedHiddenStates) {
  Synthetic s(qwen3());
  const std::vector<int32_t> tokens = prompt(7, s.desc.n_vocab);
  const std::vector<Vec> want = direct_forward(s.desc, s.weights, tokens, true, true);
  const Diff diff = compare(s.run(tokens, 7, true, 2), want);
  std::printf("[qwen3 hidden] max|diff| %.3g (%.2g of max|ref|)\n", diff.max_diff,
              diff.max_diff / diff.max_ref);
  EXPECT_LE(diff.max_diff, kRelTol * diff.max_ref);
}

}  // namespace
}  // namespace pocket
