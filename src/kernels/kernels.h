// The compute kernels of the forward pass, behind one dispatch point: matmul on quantized
// weights, attention over an f16 KV cache, norms, RoPE and activations. Each entry picks the
// best implementation for this CPU at start-up (kernels/<isa>/); kernels/ref/ holds the scalar
// twins that define the results. Not a tensor library: no graphs, no allocation per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/aligned_buffer.h"
#include "core/thread_pool.h"
#include "tensor/tensor.h"

namespace pocket::kernels {

// Reusable scratch memory for kernels (quantized activations, attention scores). Grows on
// first use to the largest size needed and is then reused; sessions size it up front.
class Workspace {
 public:
  uint8_t* bytes(size_t n) {
    if (buffer_.size() < n) buffer_.resize(n);
    return buffer_.data();
  }
  float* floats(size_t n) { return reinterpret_cast<float*>(bytes(n * sizeof(float))); }
  size_t size() const { return buffer_.size(); }  // bytes held

 private:
  AlignedBuffer<uint8_t> buffer_;
};

// Name of the instruction set whose kernels are active ("avx512-vnni", "avx2", "scalar").
std::string active_isa();
// Forces the scalar reference kernels (tests compare paths; POCKET_KERNELS=scalar does it too).
void force_scalar(bool on);

// y[t][r] = sum_k W[r][k] * x[t][k] for t < n_tokens, r < W.ne[1].
// x: [n_tokens][W.ne[0]] f32 (contiguous); y: [n_tokens][W.ne[1]] f32.
void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            Workspace& ws);

// One weight matrix of matmul_many and where its product goes: y: [n_tokens][w->ne[1]].
struct MatmulTarget {
  const TensorView* w;
  float* y;
};
constexpr size_t kMaxMatmulTargets = 4;

// matmul of up to kMaxMatmulTargets matrices with the same row length on the same x (q/k/v,
// gate/up): the same results as separate calls, with one pool region for all of them when
// the batch is decode-sized.
void matmul_many(std::span<const MatmulTarget> targets, const float* x, int64_t n_tokens,
                 ThreadPool& pool, Workspace& ws);

// out[d] = row `index` of an embedding table, dequantized to f32.
void get_row(const TensorView& table, int64_t index, float* out);

struct RopeParams {
  int n_rot = 0;               // rotated dimensions per head (<= head_dim)
  bool neox = false;           // pair (i, i + n_rot/2) instead of (2i, 2i+1)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  const float* freq_factors = nullptr;  // [n_rot/2] divisors (Llama 3 rope_freqs), optional
  float attn_factor = 1.0f;             // multiplies cos/sin (YaRN / LongRoPE magnitude scaling)
};

// Rotates `x` ([n_heads][head_dim]) in place for position `pos`.
void rope(float* x, int n_heads, int head_dim, int64_t pos, const RopeParams& params);

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);
void layer_norm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
                float* out);
void softmax(float* x, int64_t n);
// out[i] = silu(gate[i]) * up[i]
void swiglu(const float* gate, const float* up, int64_t n, float* out);
// out[i] = gelu(gate[i]) * up[i] (tanh approximation)
void geglu(const float* gate, const float* up, int64_t n, float* out);
void gelu(float* x, int64_t n);

struct AttentionParams {
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  float scale = 1.0f;   // multiplies q.k
  float softcap = 0.0f;  // if > 0: score = softcap * tanh(score / softcap)
  int window = 0;        // if > 0: a query at position p sees keys at positions > p - window
  bool causal = true;
  DType kv_type = DType::F16;  // F16, or Q8_0 blocks (head_dim a multiple of 32)
  // F16 cache: the fused one-pass kernel (online softmax, f32 weights) instead of the two-pass
  // one that keeps the reference engine's rounding. Q8_0 is always fused.
  bool flash = false;
  // Layout of k and v: 0, position-major ([n_kv][n_kv_heads][head_dim]; f16 keys are then
  // copied into blocks on every call, which suits tests, not decoding); else head-major, what
  // KvCache keeps: values (and q8_0 keys) [n_kv_heads][kv_capacity][head_dim], each KV head's
  // rows contiguous; f16 keys [n_kv_heads][kv_capacity * head_dim] with each head's keys in
  // blocks of eight positions (kernels::key_index; kv_capacity >= n_kv, a multiple of 8).
  int64_t kv_capacity = 0;
};

// Attention of n_queries rows against n_kv cached keys/values of one sequence.
// q: [n_queries][n_heads*head_dim] f32; q_pos[i]: position of query i (the key at cache
// row j has position j); k, v: values of params.kv_type laid out as params.kv_capacity says;
// out like q.
void attention(const AttentionParams& params, const float* q, int64_t n_queries,
               const int32_t* q_pos, const void* k, const void* v, int64_t n_kv, float* out,
               ThreadPool& pool, Workspace& ws);

// Converts f32 to f16 bits (KV cache writes).
void to_f16(const float* x, uint16_t* out, int64_t n);
// One KV cache row: n f32 values stored as `type` (F16, or Q8_0 blocks with n % 32 == 0).
void store_kv_row(const float* x, DType type, void* out, int64_t n);
// One f16 key of head_dim values stored at position j of a KV head's keys in blocks
// (AttentionParams::kv_capacity).
void store_key_in_blocks(const float* x, uint16_t* head_keys, int64_t j, int head_dim);

}  // namespace pocket::kernels
