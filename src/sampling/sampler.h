// The sampler chain: repetition/presence/frequency penalties, top-k, top-p, min-p,
// temperature, then a seeded draw — or argmax when temperature <= 0 (lowest id on ties).
// Same seed and same logits give the same tokens. Grammars are not here yet.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <span>
#include <vector>

namespace pocket {

struct SamplerParams {
  float temperature = 0.8f;   // <= 0: greedy
  int top_k = 40;             // <= 0: off
  float top_p = 0.95f;        // >= 1: off
  float min_p = 0.05f;        // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int repeat_last_n = 64;       // how many recent tokens the penalties look at
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0xFFFFFFFF;   // 0xFFFFFFFF: a random seed
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);

  // Picks the next token from raw logits (not modified).
  int32_t sample(std::span<const float> logits);
  // Records a token (prompt or generated) for the penalties.
  void accept(int32_t token);
  void reset();

  uint64_t seed() const { return seed_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  void apply_penalties();

  SamplerParams params_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<Candidate> candidates_;  // reused between calls
  std::vector<double> probs_, weights_;
  std::map<int32_t, int> counts_;
};

// Index of the largest value; the lowest index wins ties.
int32_t argmax(std::span<const float> logits);

}  // namespace pocket
