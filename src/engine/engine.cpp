// Engine: model + tokenizer + thread pool + per-sequence KV caches, and the batched decode
// loop front ends use. Memory is checked before anything large is allocated.
#include "pocket/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "core/memory.h"
#include "core/timing.h"

namespace pocket {
namespace {

constexpr int64_t kDefaultMaxContext = 4096;

std::string mib(uint64_t bytes) { return cat(bytes / (1024 * 1024), " MiB"); }

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace

MemoryEstimate estimate_memory(const gguf::File& file, const ModelConfig& c, int64_t n_ctx,
                               int64_t n_batch, DType cache_type) {
  MemoryEstimate m;
  m.weights_bytes = file.file_size();
  m.kv_cache_bytes = KvCache::bytes_needed(c.n_layers, n_ctx, c.kv_dim(), cache_type);
  // Activations, quantized activations, attention scores and one row of logits per token.
  m.scratch_bytes = ForwardScratch::bytes_needed(c, n_batch) +
                    static_cast<uint64_t>(n_batch) * static_cast<uint64_t>(c.n_vocab) * sizeof(float) +
                    static_cast<uint64_t>(n_ctx) * 64 * sizeof(float);
  return m;
}

std::unique_ptr<Engine> Engine::load(const EngineOptions& options) {
  std::unique_ptr<Model> model = Model::load(options.model_path);
  return std::unique_ptr<Engine>(new Engine(options, std::move(model)));
}

static int64_t resolve_ctx(const EngineOptions& o, const ModelConfig& c) {
  int64_t n = o.n_ctx > 0 ? o.n_ctx : std::min(c.n_ctx_train, kDefaultMaxContext);
  if (n <= 0 || n > (int64_t{1} << 22)) fail("invalid context size ", n);
  return n;
}

static int64_t resolve_batch(const EngineOptions& o, int64_t n_ctx) {
  if (o.n_batch <= 0) fail("invalid batch size ", o.n_batch);
  return std::min(o.n_batch, n_ctx);
}

static MemoryEstimate checked_estimate(const EngineOptions& o, const Model& model) {
  const int64_t n_ctx = resolve_ctx(o, model.config());
  KvCache::check_type(o.cache_type, model.config().head_dim);
  MemoryEstimate m =
      estimate_memory(model.file(), model.config(), n_ctx, resolve_batch(o, n_ctx), o.cache_type);
  const uint64_t available = o.memory_limit_bytes > 0 ? o.memory_limit_bytes : available_memory_bytes();
  if (o.check_memory && available > 0 && m.total() > available) {
    fail(model.file().path(), ": needs ", mib(m.total()), " (weights ", mib(m.weights_bytes),
         " + KV cache ", mib(m.kv_cache_bytes), " for ", n_ctx, " tokens + scratch ",
         mib(m.scratch_bytes), ") but only ", mib(available),
         " is available; use a smaller context (-c) or model");
  }
  return m;
}

Engine::Engine(const EngineOptions& options, std::unique_ptr<Model> model)
    : model_(std::move(model)),
      n_ctx_(resolve_ctx(options, model_->config())),
      n_batch_(resolve_batch(options, n_ctx_)),
      memory_(checked_estimate(options, *model_)),
      cache_type_(options.cache_type),
      pool_(options.n_threads > 0 ? options.n_threads : default_threads()),
      scratch_(model_->config(), n_batch_) {
  scratch_.flash_attn = options.flash_attn;
  tokenizer_ = Tokenizer::from_gguf(model_->file());
  model_->file().prefault();  // the memory check passed: the weights are wanted in full
}

Engine::~Engine() = default;

SeqId Engine::create_sequence() {
  const ModelConfig& c = config();
  const uint64_t need = KvCache::bytes_needed(c.n_layers, n_ctx_, c.kv_dim(), cache_type_);
  const uint64_t available = available_memory_bytes();
  if (available > 0 && need > available) {
    fail("cannot create a sequence: its KV cache needs ", mib(need), ", only ", mib(available), " available");
  }
  auto kv = std::make_unique<KvCache>(c.n_layers, n_ctx_, c.n_kv_heads, c.head_dim, cache_type_);
  for (size_t i = 0; i < sequences_.size(); ++i) {
    if (!sequences_[i]) {
      sequences_[i] = std::move(kv);
      return static_cast<SeqId>(i);
    }
  }
  sequences_.push_back(std::move(kv));
  return static_cast<SeqId>(sequences_.size() - 1);
}

KvCache& Engine::cache(SeqId seq) {
  if (seq < 0 || static_cast<size_t>(seq) >= sequences_.size() || !sequences_[static_cast<size_t>(seq)]) {
    fail("unknown sequence id ", seq);
  }
  return *sequences_[static_cast<size_t>(seq)];
}

const KvCache& Engine::cache(SeqId seq) const { return const_cast<Engine*>(this)->cache(seq); }

void Engine::remove_sequence(SeqId seq) {
  cache(seq);
  sequences_[static_cast<size_t>(seq)].reset();
}

int64_t Engine::sequence_length(SeqId seq) const { return cache(seq).size(); }

void Engine::truncate_sequence(SeqId seq, int64_t n_keep) { cache(seq).truncate(n_keep); }

std::span<const float> Engine::decode(std::span<const Request> requests) {
  const int64_t n_vocab = config().n_vocab;
  int64_t total_rows = 0;
  for (const auto& r : requests) {
    KvCache& kv = cache(r.seq);
    if (r.tokens.empty()) fail("decode: request for sequence ", r.seq, " has no tokens");
    if (kv.size() + static_cast<int64_t>(r.tokens.size()) > kv.n_ctx()) {
      fail("decode: sequence ", r.seq, " would exceed the context (", kv.size(), " + ",
           r.tokens.size(), " > ", kv.n_ctx(), ")");
    }
    total_rows += r.all_logits ? static_cast<int64_t>(r.tokens.size()) : 1;
  }
  logits_.resize(static_cast<size_t>(total_rows * n_vocab));

  // Pack tokens into passes of at most n_batch: (request, offset) cursors walk the requests.
  // The packing buffers are members so that the token loop does not allocate.
  std::vector<int32_t>& tokens = pass_tokens_;
  std::vector<Batch::Segment>& segments = pass_segments_;
  std::vector<int64_t>& out_rows = pass_rows_;
  std::vector<int64_t>& out_dest = pass_dest_;  // logits_ row each output goes to
  std::vector<int64_t>& next_row = request_rows_;
  next_row.resize(requests.size());
  int64_t dest = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    next_row[i] = dest;
    dest += requests[i].all_logits ? static_cast<int64_t>(requests[i].tokens.size()) : 1;
  }
  size_t req = 0;
  size_t offset = 0;
  while (req < requests.size()) {
    tokens.clear();
    segments.clear();
    out_rows.clear();
    out_dest.clear();
    while (req < requests.size() && static_cast<int64_t>(tokens.size()) < n_batch_) {
      const Request& r = requests[req];
      const size_t room = static_cast<size_t>(n_batch_) - tokens.size();
      const size_t take = std::min(room, r.tokens.size() - offset);
      const auto first = static_cast<int64_t>(tokens.size());
      tokens.insert(tokens.end(), r.tokens.begin() + static_cast<std::ptrdiff_t>(offset),
                    r.tokens.begin() + static_cast<std::ptrdiff_t>(offset + take));
      segments.push_back({&cache(r.seq), first, static_cast<int64_t>(take)});
      for (size_t k = 0; k < take; ++k) {
        const bool last = offset + k + 1 == r.tokens.size();
        if (r.all_logits || last) {
          out_rows.push_back(first + static_cast<int64_t>(k));
          out_dest.push_back(next_row[req]++);
        }
      }
      offset += take;
      if (offset == r.tokens.size()) {
        ++req;
        offset = 0;
      }
    }
    Batch batch{tokens, segments, out_rows, false};
    pass_out_.resize(out_rows.size() * static_cast<size_t>(n_vocab));
    model_->forward(batch, scratch_, pool_, pass_out_.data());
    for (size_t k = 0; k < out_rows.size(); ++k) {
      std::memcpy(logits_.data() + out_dest[k] * n_vocab, pass_out_.data() + static_cast<int64_t>(k) * n_vocab,
                  static_cast<size_t>(n_vocab) * sizeof(float));
    }
  }
  return logits_;
}

std::vector<float> Engine::embed(std::span<const int32_t> tokens, Pooling pooling) {
  const int64_t d = config().d_model;
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) fail("embed: no tokens");
  if (n > n_batch_) fail("embed: input of ", n, " tokens exceeds the batch size ", n_batch_);
  KvCache kv(config().n_layers, std::max<int64_t>(n, 1), config().n_kv_heads, config().head_dim);
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = i;
  Batch::Segment seg{&kv, 0, n};
  Batch batch{tokens, std::span(&seg, 1), rows, true};
  std::vector<float> hidden(static_cast<size_t>(n * d));
  model_->forward(batch, scratch_, pool_, hidden.data());
  std::vector<float> out(static_cast<size_t>(d), 0.0f);
  switch (pooling) {
    case Pooling::Cls: std::copy_n(hidden.begin(), d, out.begin()); break;
    case Pooling::Last:
    case Pooling::None: std::copy_n(hidden.begin() + (n - 1) * d, d, out.begin()); break;
    case Pooling::Mean:
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t i = 0; i < d; ++i) out[static_cast<size_t>(i)] += hidden[static_cast<size_t>(t * d + i)] / static_cast<float>(n);
      }
      break;
  }
  double norm = 0;
  for (float v : out) norm += static_cast<double>(v) * v;
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& v : out) v = static_cast<float>(v / norm);
  }
  return out;
}

Engine::GenerateStats Engine::generate(SeqId seq, std::span<const int32_t> prompt, Sampler& sampler,
                                       int64_t max_tokens, bool ignore_eos,
                                       const std::function<bool(int32_t)>& on_token) {
  GenerateStats stats;
  if (prompt.empty()) fail("generate: empty prompt");
  for (int32_t t : prompt) sampler.accept(t);
  double t0 = now_seconds();
  Request first{seq, prompt, false};
  std::span<const float> logits = decode(std::span(&first, 1));
  stats.prompt_tokens = static_cast<int64_t>(prompt.size());
  stats.prompt_seconds = now_seconds() - t0;
  t0 = now_seconds();
  for (int64_t i = 0; i < max_tokens; ++i) {
    const int32_t token = sampler.sample(logits);
    sampler.accept(token);
    ++stats.generated_tokens;
    const bool stop = !ignore_eos && tokenizer_->is_eog(token);
    if (!on_token(token) || stop) break;
    if (i + 1 == max_tokens || sequence_length(seq) + 1 > n_ctx_) break;
    Request next{seq, std::span(&token, 1), false};
    logits = decode(std::span(&next, 1));
  }
  stats.generate_seconds = now_seconds() - t0;
  return stats;
}

}  // namespace pocket
