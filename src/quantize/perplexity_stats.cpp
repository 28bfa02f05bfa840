// Perplexity and KL-divergence statistics (see perplexity_stats.h). Sums are in double.
#include "quantize/perplexity_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/atomic_file.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace pocket::quantize {
namespace {

constexpr char kMagic[4] = {'P', 'K', 'L', 'B'};
constexpr uint32_t kVersion = 1;

// log-sum-exp of the logits and the argmax.
double log_sum_exp(const float* logits, int64_t n, int32_t* argmax) {
  float max = -std::numeric_limits<float>::infinity();
  int32_t arg = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (logits[i] > max) {
      max = logits[i];
      arg = static_cast<int32_t>(i);
    }
  }
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  if (argmax) *argmax = arg;
  return max + std::log(sum);
}

}  // namespace

int64_t default_window(const std::string& model_path) {
  constexpr int64_t kUsualWindow = 512;
  const gguf::File f = gguf::File::open(model_path);
  const std::string arch(f.get_string("general.architecture", ""));
  return std::min<int64_t>(kUsualWindow, f.get_int(arch + ".context_length", kUsualWindow));
}

WindowPlan plan_windows(int64_t n_tokens, int64_t n_ctx) {
  if (n_ctx < 4) fail("perplexity: context ", n_ctx, " is too small (at least 4)");
  WindowPlan p;
  p.n_ctx = n_ctx;
  p.n_windows = n_tokens / n_ctx;
  p.first_scored = n_ctx / 2;
  return p;
}

double log_prob(const float* logits, int64_t n_vocab, int32_t token, int32_t* argmax) {
  const double lse = log_sum_exp(logits, n_vocab, argmax);
  return static_cast<double>(logits[token]) - lse;
}

double PerplexityStats::ppl() const {
  return count_ ? std::exp(sum_ / static_cast<double>(count_)) : 0.0;
}

double PerplexityStats::ppl_stderr() const {
  if (count_ < 2) return 0.0;
  const double n = static_cast<double>(count_);
  const double mean = sum_ / n;
  const double var = std::max(0.0, sum_sq_ / n - mean * mean);
  return ppl() * std::sqrt(var / (n - 1));
}

KlBasePosition KlBase::summarize(const float* logits, int64_t n_vocab, int32_t next_token,
                                 uint32_t top_k) {
  KlBasePosition p;
  const double lse = log_sum_exp(logits, n_vocab, nullptr);
  p.nll = static_cast<float>(lse - logits[next_token]);
  const int64_t k = std::min<int64_t>(top_k, n_vocab);
  std::vector<int32_t> order(static_cast<size_t>(n_vocab));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  double mass = 0;
  for (int64_t i = 0; i < k; ++i) {
    const int32_t id = order[static_cast<size_t>(i)];
    const double lp = logits[id] - lse;
    p.ids.push_back(id);
    p.log_probs.push_back(static_cast<float>(lp));
    mass += std::exp(lp);
  }
  const double rest = 1.0 - mass;
  p.log_rest = k < n_vocab && rest > 0 ? static_cast<float>(std::log(rest))
                                       : -std::numeric_limits<float>::infinity();
  return p;
}

void KlBase::save(const std::string& path) const {
  write_file_atomically(path, [&](std::FILE* f) {
    auto put = [&](const void* p, size_t n) { std::fwrite(p, 1, n, f); };
    auto put_u32 = [&](uint32_t v) { put(&v, 4); };
    auto put_u64 = [&](uint64_t v) { put(&v, 8); };
    put(kMagic, 4);
    put_u32(kVersion);
    put_u32(n_vocab);
    put_u32(n_ctx);
    put_u32(top_k);
    put_u64(tokens.size());
    put(tokens.data(), tokens.size() * sizeof(int32_t));
    put_u64(positions.size());
    for (const auto& p : positions) {
      if (p.ids.size() != top_k)
        fail(path, ": internal error: position with ", p.ids.size(), " entries");
      put(&p.nll, 4);
      put(&p.log_rest, 4);
      for (uint32_t i = 0; i < top_k; ++i) {
        put(&p.ids[i], 4);
        put(&p.log_probs[i], 4);
      }
    }
  });
}

KlBase KlBase::load(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fail(path, ": cannot open KL base file: ", std::strerror(errno));
  KlBase b;
  auto get = [&](void* p, size_t n, const char* what) {
    if (std::fread(p, 1, n, f) != n) {
      std::fclose(f);
      fail(path, ": truncated KL base file (reading ", what, ")");
    }
  };
  char magic[4];
  get(magic, 4, "magic");
  if (std::memcmp(magic, kMagic, 4) != 0) {
    std::fclose(f);
    fail(path, ": not a KL base file (written by pocket perplexity --kl-base)");
  }
  uint32_t version = 0;
  get(&version, 4, "version");
  if (version != kVersion) {
    std::fclose(f);
    fail(path, ": KL base file version ", version, ", expected ", kVersion);
  }
  get(&b.n_vocab, 4, "n_vocab");
  get(&b.n_ctx, 4, "n_ctx");
  get(&b.top_k, 4, "top_k");
  uint64_t n_tokens = 0;
  get(&n_tokens, 8, "token count");
  if (n_tokens > (1ull << 32) || b.top_k == 0 || b.top_k > b.n_vocab) {
    std::fclose(f);
    fail(path, ": corrupt KL base header");
  }
  b.tokens.resize(n_tokens);
  get(b.tokens.data(), n_tokens * 4, "tokens");
  uint64_t n_pos = 0;
  get(&n_pos, 8, "position count");
  if (n_pos > n_tokens) {
    std::fclose(f);
    fail(path, ": corrupt KL base file (", n_pos, " positions for ", n_tokens, " tokens)");
  }
  b.positions.resize(n_pos);
  std::vector<float> buf(2 * static_cast<size_t>(b.top_k));
  for (auto& p : b.positions) {
    get(&p.nll, 4, "nll");
    get(&p.log_rest, 4, "rest mass");
    get(buf.data(), buf.size() * 4, "top-k entries");
    p.ids.resize(b.top_k);
    p.log_probs.resize(b.top_k);
    for (uint32_t i = 0; i < b.top_k; ++i) {
      std::memcpy(&p.ids[i], &buf[2 * i], 4);
      p.log_probs[i] = buf[2 * i + 1];
      if (p.ids[i] < 0 || static_cast<uint32_t>(p.ids[i]) >= b.n_vocab) {
        std::fclose(f);
        fail(path, ": corrupt KL base file (token id ", p.ids[i], ")");
      }
    }
  }
  std::fclose(f);
  return b;
}

void KlStats::add(const KlBasePosition& base, const float* logits, int64_t n_vocab,
                  int32_t next_token) {
  int32_t argmax = 0;
  const double lse = log_sum_exp(logits, n_vocab, &argmax);
  double kld = 0, q_mass = 0;
  for (size_t i = 0; i < base.ids.size(); ++i) {
    const double lp = base.log_probs[i];
    const double lq = logits[base.ids[i]] - lse;
    kld += std::exp(lp) * (lp - lq);
    q_mass += std::exp(lq);
  }
  if (std::isfinite(base.log_rest)) {
    const double q_rest = std::max(1.0 - q_mass, 1e-30);
    kld += std::exp(base.log_rest) * (base.log_rest - std::log(q_rest));
  }
  kld = std::max(kld, 0.0);  // rounding can leave a tiny negative value
  kld_sum_ += kld;
  kld_sum_sq_ += kld * kld;
  ++count_;
  top1_ += (!base.ids.empty() && argmax == base.ids[0]) ? 1 : 0;
  base_.add(base.nll);
  model_.add(lse - logits[next_token]);
}

double KlStats::kld_stderr() const {
  if (count_ < 2) return 0.0;
  const double n = static_cast<double>(count_);
  const double mean = kld_sum_ / n;
  return std::sqrt(std::max(0.0, kld_sum_sq_ / n - mean * mean) / (n - 1));
}

}  // namespace pocket::quantize
