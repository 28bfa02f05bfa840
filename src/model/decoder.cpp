#include "model/decoder.h"

namespace pocket::blocks {

DecoderOutput bind_decoder_output(const WeightBinder& b, ModelConfig& c) {
  DecoderOutput ends;
  ends.token_embd = b.get("token_embd.weight", {c.d_model, c.n_vocab});
  ends.norm = b.vector("output_norm.weight", c.d_model);
  ends.output = b.optional("output.weight", {c.d_model, c.n_vocab});
  c.tied_embeddings = !ends.output;
  if (!ends.output) ends.output = ends.token_embd;
  return ends;
}

DecoderLayer bind_decoder_layer(const WeightBinder& b, const ModelConfig& c, int64_t layer) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  DecoderLayer w;
  w.attn_norm = b.vector(p + "attn_norm.weight", c.d_model);
  w.attn.wq = b.get(p + "attn_q.weight", {c.d_model, c.q_dim()});
  w.attn.wk = b.get(p + "attn_k.weight", {c.d_model, c.kv_dim()});
  w.attn.wv = b.get(p + "attn_v.weight", {c.d_model, c.kv_dim()});
  w.attn.wo = b.get(p + "attn_output.weight", {c.q_dim(), c.d_model});
  w.ffn_norm = b.vector(p + "ffn_norm.weight", c.d_model);
  w.w_gate = b.get(p + "ffn_gate.weight", {c.d_model, c.d_ff});
  w.w_up = b.get(p + "ffn_up.weight", {c.d_model, c.d_ff});
  w.w_down = b.get(p + "ffn_down.weight", {c.d_ff, c.d_model});
  return w;
}

void decoder_forward(const Batch& batch, const ModelConfig& c, const DecoderOutput& ends,
                     std::span<const DecoderLayer> layers, Activation act, const std::string& where,
                     ForwardScratch& s, ThreadPool& pool, float* out) {
  const auto n = static_cast<int64_t>(batch.tokens.size());
  prepare_batch(batch, c.n_vocab, where, s);
  float* x = s.x.data();
  float* xn = s.xn.data();
  float* proj = s.proj.data();

  embed(ends.token_embd, batch.tokens, c.embedding_scale, x);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const DecoderLayer& w = layers[static_cast<size_t>(l)];
    rms_norm_rows(x, w.attn_norm, n, c.d_model, c.norm_eps, xn, pool);
    self_attention(batch, l, c, w.attn, w.rope, xn, s, pool, proj);
    if (w.post_attn_norm != nullptr) {
      rms_norm_rows(proj, w.post_attn_norm, n, c.d_model, c.norm_eps, proj, pool);
    }
    add_rows(x, proj, n, c.d_model, pool);

    rms_norm_rows(x, w.ffn_norm, n, c.d_model, c.norm_eps, xn, pool);
    gated_ffn(w.w_gate, w.w_up, w.w_down, act, xn, n, s, proj, pool);
    if (w.post_ffn_norm != nullptr) {
      rms_norm_rows(proj, w.post_ffn_norm, n, c.d_model, c.norm_eps, proj, pool);
    }
    add_rows(x, proj, n, c.d_model, pool);
  }
  rms_norm_rows(x, ends.norm, n, c.d_model, c.norm_eps, xn, pool);
  commit_batch(batch);
  output_rows(batch, xn, c.d_model, ends.output, c.final_logit_softcap, s, out, pool);
}

}  // namespace pocket::blocks
