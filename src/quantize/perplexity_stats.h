// The arithmetic of `pocket perplexity`: which tokens of a window are scored, the running
// perplexity with its standard error, and the KL-divergence comparison of a model's
// distributions against a saved base. No engine here: the command feeds logits in.
//
// Base file (--kl-base): the base model's top-k log-probabilities per scored position plus the
// log of the probability mass outside them; the KL divergence is computed over those k tokens
// and one "everything else" bucket. That is exact when k >= n_vocab and otherwise a slight
// underestimate (grouping tokens can only lower KL), negligible once the top k hold nearly all
// the mass. Layout (little-endian):
//   "PKLB" u32 version=1, u32 n_vocab, u32 n_ctx, u32 top_k, u64 n_tokens, i32 tokens[n_tokens],
//   u64 n_positions, then per position: f32 nll of the true next token, f32 log(rest mass),
//   top_k x { i32 id, f32 log-prob } in descending order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pocket::quantize {

// Scoring as the established tool does it: non-overlapping windows of n_ctx tokens, the first
// token of each window replaced by BOS when the vocabulary adds one, and only the second half
// of each window scored (positions n_ctx/2 .. n_ctx-2 predict tokens n_ctx/2+1 .. n_ctx-1), so
// every scored token has at least n_ctx/2 tokens of context.
struct WindowPlan {
  int64_t n_ctx = 0;
  int64_t n_windows = 0;
  int64_t first_scored = 0;  // position in the window of the first scored logit row
  int64_t scored_per_window() const { return n_ctx - 1 - first_scored; }
};
WindowPlan plan_windows(int64_t n_tokens, int64_t n_ctx);

// The window length without -c (perplexity, imatrix): the established tool's usual 512, or
// the model file's training context (`<architecture>.context_length`) when that is shorter.
int64_t default_window(const std::string& model_path);

// log p(token) under softmax(logits); also returns the argmax.
double log_prob(const float* logits, int64_t n_vocab, int32_t token, int32_t* argmax);

class PerplexityStats {
 public:
  void add(double nll) {
    sum_ += nll;
    sum_sq_ += nll * nll;
    ++count_;
  }
  int64_t count() const { return count_; }
  double ppl() const;
  double ppl_stderr() const;  // ppl x standard error of the mean NLL

 private:
  double sum_ = 0, sum_sq_ = 0;
  int64_t count_ = 0;
};

struct KlBasePosition {
  float nll = 0;
  float log_rest = 0;  // log of the mass outside `top` (-inf if none)
  std::vector<int32_t> ids;
  std::vector<float> log_probs;
};

struct KlBase {
  uint32_t n_vocab = 0;
  uint32_t n_ctx = 0;
  uint32_t top_k = 0;
  std::vector<int32_t> tokens;
  std::vector<KlBasePosition> positions;

  // The base entry of one distribution (full logits), keeping top_k tokens.
  static KlBasePosition summarize(const float* logits, int64_t n_vocab, int32_t next_token,
                                  uint32_t top_k);
  void save(const std::string& path) const;  // temp file + rename
  static KlBase load(const std::string& path);
};

class KlStats {
 public:
  // Compares one position's logits with the base entry.
  void add(const KlBasePosition& base, const float* logits, int64_t n_vocab, int32_t next_token);
  int64_t count() const { return count_; }
  double kld_mean() const { return count_ ? kld_sum_ / static_cast<double>(count_) : 0; }
  double kld_stderr() const;
  double top1_agreement() const {
    return count_ ? static_cast<double>(top1_) / static_cast<double>(count_) : 0;
  }
  const PerplexityStats& base_ppl() const { return base_; }
  const PerplexityStats& ppl() const { return model_; }

 private:
  double kld_sum_ = 0, kld_sum_sq_ = 0;
  int64_t count_ = 0, top1_ = 0;
  PerplexityStats base_, model_;
};

}  // namespace pocket::quantize
