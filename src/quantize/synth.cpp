// Random-weight models of real shapes (see synth.h). Weight statistics follow the shared
// fixture generator (models/MANIFEST.md) so activations stay finite at any depth:
//   linear weights N(0, 1/fan_in), attn_output and ffn_down scaled by 0.7; norm weights
//   1 + 0.1 N(0,1); biases N(0, 0.1^2); a tied embedding has std 0.05 and the final norm a
//   gain that makes the logits' std about 8; an untied embedding has std 0.5 and output.weight
//   std 8/sqrt(d_model).
// Row r of tensor i is drawn from its own generator seeded by (seed, i, r), so the bytes do not
// depend on the number of threads.
#include "quantize/synth.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quantize/convert.h"
#include "quantize/vocab_source.h"

namespace pocket::quantize {
namespace {

// Logit standard deviation the final norm gain aims at ("peaky" logits: stable greedy argmax).
constexpr double kLogitStd = 8.0;
constexpr double kTiedEmbeddingStd = 0.05;
constexpr double kUntiedEmbeddingStd = 0.5;
constexpr double kResidualOutScale = 0.7;  // attn_output, ffn_down
constexpr double kNormJitter = 0.1;
constexpr double kBiasStd = 0.1;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// xoshiro256+ seeded through splitmix64; Box-Muller for normals.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream, uint64_t row) {
    uint64_t s = seed ^ (stream * 0xD1B54A32D192ED03ull) ^ (row * 0x8CB92BA72F3D8DD7ull);
    for (auto& x : s_) x = splitmix64(s);
  }
  uint64_t next() {
    const uint64_t result = s_[0] + s_[3];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = (s_[3] << 45) | (s_[3] >> 19);
    return result;
  }
  // Fills n values of N(0, std^2).
  void normal(float* dst, int64_t n, double std) {
    constexpr double kTwoPi = 6.283185307179586;
    for (int64_t i = 0; i < n; i += 2) {
      const double u1 = (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
      const double u2 = static_cast<double>(next() >> 11) * 0x1.0p-53;
      const double r = std * std::sqrt(-2.0 * std::log(u1));
      dst[i] = static_cast<float>(r * std::cos(kTwoPi * u2));
      if (i + 1 < n) dst[i + 1] = static_cast<float>(r * std::sin(kTwoPi * u2));
    }
  }

 private:
  uint64_t s_[4];
};

// What a tensor's values are.
struct Spec {
  std::string name;
  std::vector<int64_t> shape;  // ne order: shape[0] is the row length
  enum Kind { Normal, Norm, Bias, RopeFreqs } kind = Normal;
  double std = 1.0;   // Normal/Bias
  double gain = 1.0;  // Norm
};

std::vector<Spec> tensor_specs(const SynthShape& s) {
  std::vector<Spec> v;
  const int64_t d = s.d_model, q_dim = s.n_heads * s.head_dim, kv_dim = s.n_kv_heads * s.head_dim;
  const double sqrt_d = std::sqrt(static_cast<double>(d));
  auto linear = [&](std::string name, int64_t in, int64_t out, double scale = 1.0) {
    v.push_back({std::move(name),
                 {in, out},
                 Spec::Normal,
                 scale / std::sqrt(static_cast<double>(in)),
                 1.0});
  };
  auto norm = [&](std::string name, double gain = 1.0) {
    v.push_back({std::move(name), {d}, Spec::Norm, kNormJitter, gain});
  };
  auto bias = [&](std::string name, int64_t n) {
    v.push_back({std::move(name), {n}, Spec::Bias, kBiasStd, 1.0});
  };
  v.push_back({"token_embd.weight",
               {d, s.n_vocab},
               Spec::Normal,
               s.tied_embeddings ? kTiedEmbeddingStd : kUntiedEmbeddingStd,
               1.0});
  norm("output_norm.weight", s.tied_embeddings ? kLogitStd / (kTiedEmbeddingStd * sqrt_d) : 1.0);
  if (!s.tied_embeddings) {
    v.push_back({"output.weight", {d, s.n_vocab}, Spec::Normal, kLogitStd / sqrt_d, 1.0});
  }
  if (s.llama3_rope) v.push_back({"rope_freqs.weight", {s.head_dim / 2}, Spec::RopeFreqs, 0, 0});
  for (int64_t l = 0; l < s.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight");
    linear(p + "attn_q.weight", d, q_dim);
    linear(p + "attn_k.weight", d, kv_dim);
    linear(p + "attn_v.weight", d, kv_dim);
    if (s.qkv_bias) {
      bias(p + "attn_q.bias", q_dim);
      bias(p + "attn_k.bias", kv_dim);
      bias(p + "attn_v.bias", kv_dim);
    }
    linear(p + "attn_output.weight", q_dim, d, kResidualOutScale);
    norm(p + "ffn_norm.weight");
    linear(p + "ffn_gate.weight", d, s.d_ff);
    linear(p + "ffn_up.weight", d, s.d_ff);
    linear(p + "ffn_down.weight", s.d_ff, d, kResidualOutScale);
  }
  return v;
}

// Llama 3's RoPE frequency divisors: long wavelengths are stretched by the factor, short ones
// kept, and the band between interpolated (factor 32, low 1, high 4, original context 8192).
std::vector<float> llama3_rope_freqs(const SynthShape& s) {
  constexpr double kFactor = 32, kLow = 1, kHigh = 4, kOriginalCtx = 8192;
  constexpr double kPi = 3.141592653589793;
  const double low_wavelen = kOriginalCtx / kLow, high_wavelen = kOriginalCtx / kHigh;
  std::vector<float> out(static_cast<size_t>(s.head_dim / 2));
  for (size_t i = 0; i < out.size(); ++i) {
    const double freq =
        std::pow(s.rope_freq_base, -2.0 * static_cast<double>(i) / static_cast<double>(s.head_dim));
    const double wavelen = 2 * kPi / freq;
    if (wavelen < high_wavelen) {
      out[i] = 1.0f;
    } else if (wavelen > low_wavelen) {
      out[i] = static_cast<float>(kFactor);
    } else {
      const double smooth = (kOriginalCtx / wavelen - kLow) / (kHigh - kLow);
      out[i] = static_cast<float>(1.0 / ((1 - smooth) / kFactor + smooth));
    }
  }
  return out;
}

SynthShape llama_shape(std::string name, int64_t d, int64_t layers, int64_t heads, int64_t kv_heads,
                       int64_t head_dim, int64_t ff, int64_t vocab, bool tied) {
  SynthShape s;
  s.name = std::move(name);
  s.arch = "llama";
  s.d_model = d;
  s.n_layers = layers;
  s.n_heads = heads;
  s.n_kv_heads = kv_heads;
  s.head_dim = head_dim;
  s.d_ff = ff;
  s.n_vocab = vocab;
  s.tied_embeddings = tied;
  return s;
}

}  // namespace

const std::vector<SynthShape>& synth_shapes() {
  static const std::vector<SynthShape> kShapes = [] {
    std::vector<SynthShape> v;
    // SmolLM2-135M (HF config: rope_theta 100000, 8192 context).
    SynthShape s = llama_shape("smollm2-135m", 576, 30, 9, 3, 64, 1536, 49152, true);
    s.rope_freq_base = 100000;
    s.n_ctx_train = 8192;
    s.default_vocab = "vocab/synth-vocab-smollm2.gguf";
    v.push_back(s);
    // Qwen2.5-0.5B: qwen2 architecture with q/k/v biases.
    s = llama_shape("qwen2.5-0.5b", 896, 24, 14, 2, 64, 4864, 151936, true);
    s.arch = "qwen2";
    s.qkv_bias = true;
    s.rope_freq_base = 1000000;
    s.norm_eps = 1e-6f;
    s.n_ctx_train = 32768;
    s.default_vocab = "models/qwen2-f16-q4_0embd.gguf";
    v.push_back(s);
    // Qwen3-0.6B's shape as a llama-architecture model (no q/k norms), as in ANCHORS.md.
    s = llama_shape("qwen3-0.6b", 1024, 28, 16, 8, 128, 3072, 151936, true);
    s.rope_freq_base = 1000000;
    s.norm_eps = 1e-6f;
    s.n_ctx_train = 40960;
    s.default_vocab = "models/qwen2-f16-q4_0embd.gguf";
    v.push_back(s);
    for (auto [name, d, layers, heads, head_dim, ff, tied] :
         {std::tuple{"llama-3.2-1b", 2048, 16, 32, 64, 8192, true},
          std::tuple{"llama-3.2-3b", 3072, 28, 24, 128, 8192, true},
          std::tuple{"llama-3.1-8b", 4096, 32, 32, 128, 14336, false}}) {
      s = llama_shape(name, d, layers, heads, 8, head_dim, ff, 128256, tied);
      s.rope_freq_base = 500000;
      s.llama3_rope = true;
      s.n_ctx_train = 131072;
      s.default_vocab = "models/llama3-bpe-f16-q4_0embd.gguf";
      v.push_back(s);
    }
    return v;
  }();
  return kShapes;
}

std::string synth_shape_names() {
  std::string s;
  for (const auto& shape : synth_shapes()) s += (s.empty() ? "" : ", ") + shape.name;
  return s;
}

const SynthShape& synth_shape(const std::string& name) {
  for (const auto& s : synth_shapes()) {
    if (s.name == name) return s;
  }
  fail("unknown shape '", name, "'; known shapes: ", synth_shape_names());
}

QuantizeSummary synth_model(const SynthOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const SynthShape& s = synth_shape(options.shape);
  const std::string shared =
      options.shared_dir.empty() ? std::string("../shared") : options.shared_dir;

  VocabMetadata vocab;
  if (!options.tokenizer_json.empty()) {
    const std::string pre = s.name.rfind("smollm", 0) == 0 ? "smollm"
                            : s.name.rfind("qwen", 0) == 0 ? "qwen2"
                                                           : "llama-bpe";
    vocab = vocab_from_tokenizer_json(options.tokenizer_json, pre, s.n_vocab);
  } else {
    const std::string path =
        options.vocab_gguf.empty() ? shared + "/" + s.default_vocab : options.vocab_gguf;
    vocab = vocab_from_gguf(path, s.n_vocab);
  }

  gguf::Writer w;
  const std::string& a = s.arch;
  w.set("general.architecture", gguf::Value::from_string(a));
  w.set("general.name", gguf::Value::from_string(s.name + "-synth"));
  w.set("general.description",
        gguf::Value::from_string(cat("RANDOM WEIGHTS (pocket synth --shape ", s.name, " --seed ",
                                     options.seed, "); for benchmarks and tests only")));
  w.set("general.file_type", gguf::Value::from_u32(static_cast<uint32_t>(options.ftype)));
  w.set(a + ".context_length", gguf::Value::from_u32(static_cast<uint32_t>(s.n_ctx_train)));
  w.set(a + ".embedding_length", gguf::Value::from_u32(static_cast<uint32_t>(s.d_model)));
  w.set(a + ".block_count", gguf::Value::from_u32(static_cast<uint32_t>(s.n_layers)));
  w.set(a + ".feed_forward_length", gguf::Value::from_u32(static_cast<uint32_t>(s.d_ff)));
  w.set(a + ".attention.head_count", gguf::Value::from_u32(static_cast<uint32_t>(s.n_heads)));
  w.set(a + ".attention.head_count_kv", gguf::Value::from_u32(static_cast<uint32_t>(s.n_kv_heads)));
  w.set(a + ".attention.layer_norm_rms_epsilon", gguf::Value::from_f32(s.norm_eps));
  w.set(a + ".rope.freq_base", gguf::Value::from_f32(s.rope_freq_base));
  w.set(a + ".rope.dimension_count", gguf::Value::from_u32(static_cast<uint32_t>(s.head_dim)));
  if (s.head_dim * s.n_heads != s.d_model) {
    w.set(a + ".attention.key_length", gguf::Value::from_u32(static_cast<uint32_t>(s.head_dim)));
    w.set(a + ".attention.value_length", gguf::Value::from_u32(static_cast<uint32_t>(s.head_dim)));
  }
  w.set(a + ".vocab_size", gguf::Value::from_u32(static_cast<uint32_t>(s.n_vocab)));
  for (const auto& [key, value] : vocab.kv) w.set(key, value);

  const std::vector<Spec> specs = tensor_specs(s);
  ModelInfo model{s.arch, s.n_layers, s.n_heads / s.n_kv_heads, !s.tied_embeddings};
  const bool quantized_file = file_type_info(options.ftype).base != DType::F32 &&
                              file_type_info(options.ftype).base != DType::F16 &&
                              file_type_info(options.ftype).base != DType::BF16;
  if (quantized_file) w.set("general.quantization_version", gguf::Value::from_u32(2));

  const int n_threads = options.n_threads > 0
                            ? options.n_threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(n_threads);
  QuantizeSummary summary;
  const int count = static_cast<int>(specs.size());
  for (int i = 0; i < count; ++i) {
    const Spec& spec = specs[static_cast<size_t>(i)];
    const bool matrix = spec.shape.size() >= 2;
    TypeChoice choice{DType::F32, DType::F32, false};
    if (matrix && is_quantizable(spec.name, 2)) {
      choice = choose_type(model, spec.name, spec.shape[0], options.ftype, MixOptions{});
    }
    int64_t n_rows = 1;
    for (size_t k = 1; k < spec.shape.size(); ++k) n_rows *= spec.shape[k];
    TensorProgress progress;
    progress.index = i + 1;
    progress.count = count;
    progress.name = spec.name;
    progress.shape = "[" + std::to_string(spec.shape[0]) +
                     (matrix ? ", " + std::to_string(spec.shape[1]) : "") + "]";
    progress.from = DType::F32;
    progress.to = choice.type;
    progress.wanted = choice.wanted;
    progress.converted = true;
    progress.fallback = choice.fallback;
    progress.in_bytes = static_cast<size_t>(spec.shape[0] * n_rows) * sizeof(float);
    progress.out_bytes = row_bytes(choice.type, spec.shape[0]) * static_cast<size_t>(n_rows);
    summary.in_bytes += progress.in_bytes;
    summary.out_bytes += progress.out_bytes;
    ++summary.n_converted;
    summary.n_fallback += choice.fallback ? 1 : 0;
    const uint64_t seed = options.seed;
    w.add_tensor(
        spec.name, choice.type, spec.shape,
        [&spec, &s, &pool, &options, progress, choice, n_rows, seed, i](std::vector<uint8_t>& out) {
          const int64_t row_len = spec.shape[0];
          RowSource source = [&spec, &s, seed, i, row_len](int64_t first, int64_t n, float* dst) {
            if (spec.kind == Spec::RopeFreqs) {
              std::vector<float> f = llama3_rope_freqs(s);
              std::copy(f.begin(), f.end(), dst);
              return;
            }
            for (int64_t r = 0; r < n; ++r) {
              Rng rng(seed, static_cast<uint64_t>(i), static_cast<uint64_t>(first + r));
              float* row = dst + r * row_len;
              rng.normal(row, row_len, spec.std);
              if (spec.kind == Spec::Norm) {
                for (int64_t k = 0; k < row_len; ++k)
                  row[k] = static_cast<float>(spec.gain * (1.0 + row[k]));
              }
            }
          };
          convert_rows(choice.type, n_rows, row_len, source, nullptr, pool, out);
          if (options.on_tensor) options.on_tensor(progress);
        });
  }
  summary.n_tensors = count;
  w.write(options.output);
  summary.file_bytes = static_cast<size_t>(std::filesystem::file_size(options.output));
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace pocket::quantize
