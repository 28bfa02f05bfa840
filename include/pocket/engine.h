// pocket's engine API: load a model once, create sequences (each with its own KV cache),
// and decode batches that carry new tokens from several sequences at once. Front ends (CLI,
// server, Python) talk to this and to the tokenizer only. Errors are pocket::Error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace pocket {

struct EngineOptions {
  std::string model_path;
  int n_threads = 0;      // 0: all cores
  int64_t n_ctx = 0;      // context per sequence; 0: min(training context, 4096)
  int64_t n_batch = 512;  // tokens per forward pass
  DType cache_type = DType::F16;  // KV cache: F16, or Q8_0 (half the memory)
  // F16 cache: fused one-pass attention (online softmax) instead of the two-pass kernel that
  // rounds like the reference engine; logits differ slightly. Q8_0 is always fused.
  bool flash_attn = false;
  bool check_memory = true;
  uint64_t memory_limit_bytes = 0;  // refuse loads needing more; 0: the available memory
};

// What a load needs, computed before anything is allocated.
struct MemoryEstimate {
  uint64_t weights_bytes = 0;   // the mapped file
  uint64_t kv_cache_bytes = 0;  // one sequence at n_ctx
  uint64_t scratch_bytes = 0;
  uint64_t total() const { return weights_bytes + kv_cache_bytes + scratch_bytes; }
};

using SeqId = int32_t;

class Engine {
 public:
  static std::unique_ptr<Engine> load(const EngineOptions& options);
  ~Engine();

  const Model& model() const { return *model_; }
  const ModelConfig& config() const { return model_->config(); }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const MemoryEstimate& memory() const { return memory_; }
  int64_t n_ctx() const { return n_ctx_; }
  DType cache_type() const { return cache_type_; }
  bool flash_attn() const { return scratch_.flash_attn; }
  int n_threads() const { return pool_.size(); }

  // Every later forward pass shows each weight matmul's input to `observer` (not owned; null
  // to stop). For collecting statistics such as `pocket imatrix`; it slows decoding.
  void set_matmul_observer(MatmulObserver* observer) { scratch_.observer = observer; }

  SeqId create_sequence();
  void remove_sequence(SeqId seq);
  int64_t sequence_length(SeqId seq) const;
  void truncate_sequence(SeqId seq, int64_t n_keep);  // keep a prefix, drop the rest

  struct Request {
    SeqId seq;
    std::span<const int32_t> tokens;
    bool all_logits = false;  // logits for every token, not just the last
  };
  // Feeds every request's tokens (split into passes of at most n_batch tokens, all
  // sequences together) and returns the logits: per request, its last token's row (or all
  // of its rows), in request order, n_vocab floats each. Valid until the next decode.
  std::span<const float> decode(std::span<const Request> requests);

  // Pooled embedding of each text... of a token list: mean/cls/last pooling over final
  // hidden states, L2-normalized. Uses a temporary sequence.
  std::vector<float> embed(std::span<const int32_t> tokens, Pooling pooling);

  // Generates up to max_tokens after `prompt` in `seq`: calls on_token(id) for each sampled
  // token; stops at end-of-generation tokens unless ignore_eos, or when on_token returns false.
  struct GenerateStats {
    int64_t prompt_tokens = 0;
    int64_t generated_tokens = 0;
    double prompt_seconds = 0;
    double generate_seconds = 0;
  };
  GenerateStats generate(SeqId seq, std::span<const int32_t> prompt, Sampler& sampler,
                         int64_t max_tokens, bool ignore_eos,
                         const std::function<bool(int32_t)>& on_token);

 private:
  Engine(const EngineOptions& options, std::unique_ptr<Model> model);
  KvCache& cache(SeqId seq);
  const KvCache& cache(SeqId seq) const;

  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  int64_t n_ctx_;
  int64_t n_batch_;
  MemoryEstimate memory_;
  DType cache_type_ = DType::F16;
  ThreadPool pool_;
  ForwardScratch scratch_;
  std::vector<std::unique_ptr<KvCache>> sequences_;  // index = SeqId; null when removed
  std::vector<float> logits_;
  // Reused by decode() so that steady-state decoding allocates nothing.
  std::vector<float> pass_out_;
  std::vector<int32_t> pass_tokens_;
  std::vector<Batch::Segment> pass_segments_;
  std::vector<int64_t> pass_rows_, pass_dest_, request_rows_;
};

// Memory needed to load `path` with these options (also used by load() to refuse early).
MemoryEstimate estimate_memory(const gguf::File& file, const ModelConfig& config, int64_t n_ctx,
                               int64_t n_batch, DType cache_type = DType::F16);

}  // namespace pocket
