// The pre-norm gated decoder that llama, qwen2/3, phi3 and gemma2/3 share: embed, then per
// layer x += attention(norm(x)) and x += gated_ffn(norm(x)) (gemma also normalizes each
// half's output), then the final norm and the output matrix. The families differ in their
// config, their tensor names and RoPE (bound by each family file), not in this frame.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "model/blocks.h"
#include "model/weights.h"

namespace pocket::blocks {

struct DecoderLayer {
  const float* attn_norm = nullptr;       // [d_model]
  AttentionWeights attn;                  // q, k, v, o (+ biases, q/k norms)
  const float* post_attn_norm = nullptr;  // [d_model] gemma: RMSNorm of the attention output
  const float* ffn_norm = nullptr;        // [d_model]
  TensorView w_gate;                      // [d_model, d_ff]
  TensorView w_up;                        // [d_model, d_ff]
  TensorView w_down;                      // [d_ff, d_model]
  const float* post_ffn_norm = nullptr;   // [d_model] gemma: RMSNorm of the FFN output
  RopeSet rope;  // points at RopeParams the model owns
};

// The ends of the network: the token embedding table, the final norm and the output matrix.
struct DecoderOutput {
  TensorView token_embd;          // [d_model, n_vocab]
  const float* norm = nullptr;    // [d_model]
  TensorView output;              // [d_model, n_vocab] (token_embd when tied)
};

// Binds token_embd, output_norm and output (or ties it to token_embd, setting
// c.tied_embeddings).
DecoderOutput bind_decoder_output(const WeightBinder& b, ModelConfig& c);

// Binds the tensors every separate-projection layer has, blk.<l>.: attn_norm, attn_q/k/v,
// attn_output, ffn_norm, ffn_gate/up/down. Family extras (biases, q/k norms, post norms)
// and RoPE are the caller's.
DecoderLayer bind_decoder_layer(const WeightBinder& b, const ModelConfig& c, int64_t layer);

// The whole forward pass (see the top of this file); `where` names the model in errors.
void decoder_forward(const Batch& batch, const ModelConfig& c, const DecoderOutput& ends,
                     std::span<const DecoderLayer> layers, Activation act,
                     const std::string& where, ForwardScratch& s, ThreadPool& pool, float* out);

}  // namespace pocket::blocks

namespace pocket {

// A model of that frame: the family's constructor reads its config and binds ends_ and
// layers_ (and the RoPE parameters they point at); the forward pass is the frame's.
class DecoderModel : public Model {
 public:
  void forward(const Batch& batch, ForwardScratch& s, ThreadPool& pool, float* out) const override {
    blocks::decoder_forward(batch, config_, ends_, layers_, activation_, file_.path(), s, pool,
                            out);
  }

 protected:
  DecoderModel(gguf::File file, blocks::Activation activation)
      : Model(std::move(file)), activation_(activation) {}

  blocks::DecoderOutput ends_;
  std::vector<blocks::DecoderLayer> layers_;

 private:
  blocks::Activation activation_;
};

}  // namespace pocket
