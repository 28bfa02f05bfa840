#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pocket {

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  return best;
}

Sampler::Sampler(const SamplerParams& params) : params_(params) {
  seed_ = params.seed == 0xFFFFFFFF ? std::random_device{}() : params.seed;
  rng_.seed(seed_);
}

void Sampler::reset() {
  recent_.clear();
  rng_.seed(seed_);
}

void Sampler::accept(int32_t token) {
  if (params_.repeat_last_n == 0) return;
  recent_.push_back(token);
  if (params_.repeat_last_n > 0 && recent_.size() > static_cast<size_t>(params_.repeat_last_n)) {
    recent_.pop_front();
  }
}

void Sampler::apply_penalties() {
  const bool any = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                   params_.frequency_penalty != 0.0f;
  if (!any || recent_.empty()) return;
  // Count occurrences in the (short) window; candidates_ is still in id order here.
  counts_.clear();
  for (int32_t t : recent_) {
    if (t >= 0 && static_cast<size_t>(t) < candidates_.size()) ++counts_[t];
  }
  for (const auto& [id, count] : counts_) {
    Candidate& c = candidates_[static_cast<size_t>(id)];
    // Repetition penalty as in CTRL: divide positive logits, multiply negative ones.
    c.logit = c.logit > 0 ? c.logit / params_.repeat_penalty : c.logit * params_.repeat_penalty;
    c.logit -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) fail("sampler: empty logits");
  candidates_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates_[i] = {static_cast<int32_t>(i), logits[i]};
  apply_penalties();

  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  if (params_.temperature <= 0.0f) {
    return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->id;
  }

  size_t n = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) n = static_cast<size_t>(params_.top_k);
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(n),
                    candidates_.end(), by_logit);
  candidates_.resize(n);

  // Probabilities at temperature 1 for the top-p / min-p filters (as the common chains do).
  std::vector<double>& probs = probs_;
  probs.resize(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += probs[i] = std::exp(static_cast<double>(candidates_[i].logit - candidates_[0].logit));
  if (params_.top_p < 1.0f) {
    double cumulative = 0;
    size_t keep = n;
    for (size_t i = 0; i < n; ++i) {
      cumulative += probs[i] / sum;
      if (cumulative >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
  }
  if (params_.min_p > 0.0f) {
    size_t keep = 1;
    while (keep < n && probs[keep] >= params_.min_p * probs[0]) ++keep;
    n = keep;
  }
  candidates_.resize(n);

  std::vector<double>& weights = weights_;
  weights.resize(n);
  for (size_t i = 0; i < n; ++i) {
    weights[i] = std::exp(static_cast<double>(candidates_[i].logit - candidates_[0].logit) / params_.temperature);
  }
  std::discrete_distribution<size_t> dist(weights.begin(), weights.end());
  return candidates_[dist(rng_)].id;
}

}  // namespace pocket
