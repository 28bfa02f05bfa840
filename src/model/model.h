// A loaded model: its GGUF file (weights stay mmap'd), its config, and a forward pass that
// runs a batch of tokens from one or more sequences, each with its own KV cache.
// Architectures register in registry.cpp; each family is one file (llama.cpp, ...).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "tensor/tensor.h"
#include "model/config.h"
#include "model/kv_cache.h"

namespace pocket {

// Tokens of one forward pass. Tokens of a sequence are contiguous (a segment); token i of a
// segment goes to position cache->size() + i, and the cache advances by the segment's count.
struct Batch {
  struct Segment {
    KvCache* cache;
    int64_t first;
    int64_t count;
  };
  std::span<const int32_t> tokens;
  std::span<const Segment> segments;
  std::span<const int64_t> output_rows;  // batch rows whose logits (or embeddings) are wanted
  bool embeddings = false;  // output final hidden states (normed, d_model wide) instead of logits
};

// Sees the input of every weight matmul of a forward pass (`pocket imatrix` collects the mean
// squared activation per input column). w.name is the weight's GGUF name; for a row slice of a
// fused weight (phi3's attn_qkv) it is the fused tensor's name, reported once per slice.
struct MatmulObserver {
  virtual ~MatmulObserver() = default;
  // x: [n_rows][w.ne[0]], the rows multiplied by w in this pass.
  virtual void on_matmul(const TensorView& w, const float* x, int64_t n_rows) = 0;
};

// Activation buffers for up to max_tokens tokens per forward pass, allocated once.
struct ForwardScratch {
  ForwardScratch(const ModelConfig& c, int64_t max_tokens);
  static uint64_t bytes_needed(const ModelConfig& c, int64_t max_tokens);

  // The FFN's hidden rows ([tokens][d_ff], the widest activations of a layer) are computed
  // this many tokens at a time, so a 512-token batch of a 1B model needs 4 MiB for them,
  // not 48. The GEMM still reuses each weight block across the chunk's 64 tokens; pp512 of
  // the 1B shape measured the same at chunks of 64, 128 and 512 (within the noise).
  static constexpr int64_t kFfnChunkTokens = 64;

  int64_t max_tokens;
  int64_t ffn_tokens;  // min(max_tokens, kFfnChunkTokens): rows of gate and up
  AlignedBuffer<float> x, xn, q, k, v, att, proj, gate, up, rows;
  AlignedBuffer<int32_t> positions;
  kernels::Workspace ws;
  MatmulObserver* observer = nullptr;  // not owned; null: nothing observes (the usual case)
  bool flash_attn = false;             // fused attention kernel (kernels::AttentionParams::flash)
};

class Model {
 public:
  // Opens the file and dispatches on general.architecture; throws Error naming what is wrong.
  static std::unique_ptr<Model> load(const std::string& path);
  static std::unique_ptr<Model> load(gguf::File file);

  virtual ~Model() = default;

  const ModelConfig& config() const { return config_; }
  const gguf::File& file() const { return file_; }
  uint64_t parameter_count() const;

  // Runs the batch; writes output_rows.size() rows of n_vocab logits (or d_model embeddings)
  // to `out`. Advances every segment's cache.
  virtual void forward(const Batch& batch, ForwardScratch& scratch, ThreadPool& pool,
                       float* out) const = 0;

 protected:
  explicit Model(gguf::File file) : file_(std::move(file)) {}
  gguf::File file_;
  ModelConfig config_;
};

struct ArchitectureEntry {
  const char* name;
  std::unique_ptr<Model> (*create)(gguf::File file);
};

// Architectures pocket can run (`pocket info --archs`).
std::span<const ArchitectureEntry> architectures();

}  // namespace pocket
