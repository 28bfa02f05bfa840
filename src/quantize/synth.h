// Random-weight GGUF models of real model shapes (SmolLM2-135M, Qwen2.5-0.5B, Qwen3-0.6B,
// Llama-3.2-1B/3B, Llama-3.1-8B, ...) in any file type, for benchmarks and tests that need the
// real sizes without a download. Deterministic from a seed (independent of thread count);
// tensors are generated row by row and quantized as they are written, so even the 8B shape
// never exists as f32 in memory. The vocabulary is a real one copied from a GGUF file (or
// built from a Hugging Face tokenizer.json), so the files tokenize like the real models.
// The text such a model writes is meaningless; it is a speed and plumbing fixture.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "quantize/quantize_file.h"
#include "quantize/type_mix.h"

namespace pocket::quantize {

struct SynthShape {
  std::string name;  // "llama-3.2-1b"
  std::string arch;  // general.architecture of the file
  int64_t d_model = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t d_ff = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  bool tied_embeddings = true;
  bool qkv_bias = false;
  float rope_freq_base = 10000.0f;
  float norm_eps = 1e-5f;
  bool llama3_rope = false;   // rope_freqs tensor: factor 32, low 1, high 4, original ctx 8192
  std::string default_vocab;  // path relative to ../shared (GGUF with tokenizer.* metadata)
};

const std::vector<SynthShape>& synth_shapes();
// Throws pocket::Error listing the known shapes.
const SynthShape& synth_shape(const std::string& name);
std::string synth_shape_names();

struct SynthOptions {
  std::string shape;
  FileType ftype = FileType::F16;
  std::string output;
  uint64_t seed = 1;
  std::string vocab_gguf;      // copy tokenizer.* from here (default: the shape's)
  std::string tokenizer_json;  // or build it from a Hugging Face tokenizer.json
  std::string shared_dir;      // where default vocabularies are looked up ("../shared")
  int n_threads = 0;
  std::function<void(const TensorProgress&)> on_tensor;
};

// Writes the model; returns the same summary as quantize_file.
QuantizeSummary synth_model(const SynthOptions& options);

}  // namespace pocket::quantize
