// The llama family: Llama 2/3.x, Mistral, TinyLlama, SmolLM and the many fine-tunes that share
// its GGUF layout. RMSNorm, RoPE (with Llama 3 frequency factors), grouped-query attention
// over an f16 KV cache (windowed on every layer when llama.attention.sliding_window is set, as
// in Mistral), SwiGLU FFN, tied or separate output. Three parts: config from GGUF,
// weight binding, forward.
#include <cmath>

#include "core/error.h"
#include "model/architectures.h"
#include "model/decoder.h"
#include "model/weights.h"

namespace pocket {
namespace {

class LlamaModel final : public DecoderModel {
 public:
  explicit LlamaModel(gguf::File file) : DecoderModel(std::move(file), blocks::Activation::Silu) {
    config_ = read_decoder_config(file_, "llama");
    // Mistral 7B v0.1 windows every layer; most llama-layout files have no window (0).
    config_.sliding_window = file_.get_int("llama.attention.sliding_window", 0);
    bind();
  }

 private:
  // The GGUF tensor names of the llama family beyond the shared ones (blocks::bind_decoder_*).
  void bind() {
    WeightBinder b(file_);
    ends_ = blocks::bind_decoder_output(b, config_);
    const ModelConfig& c = config_;
    rope_ = rope_params(c, b.vector("rope_freqs.weight", c.n_rot / 2, false));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      layers_.push_back(blocks::bind_decoder_layer(b, c, l));
      layers_.back().rope = {&rope_};
    }
  }

  kernels::RopeParams rope_;
};

}  // namespace

std::unique_ptr<Model> create_llama(gguf::File file) {
  return std::make_unique<LlamaModel>(std::move(file));
}

}  // namespace pocket
