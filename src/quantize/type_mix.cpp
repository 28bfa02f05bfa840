// The per-tensor type mix of each file type. The rules mirror the established quantize tool's
// defaults (llama.cpp, early 2025) for the types pocket supports, learned from its documented
// behaviour; the comments give the reason for each rule. Layer indices come from the tensor
// name ("blk.N."), which equals llama.cpp's running counters for files in layer order.
#include "quantize/type_mix.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace pocket::quantize {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// "More bits" layers: the first and last eighth of the stack and every third layer between.
// Errors in the first and last layers hurt the most, so they get the bigger type.
bool use_more_bits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

bool fits(DType type, int64_t row_len) {
  return row_len % dtype_geometry(type).block_size == 0;
}

// The mix before any block-size fallback.
DType mix_type(const ModelInfo& m, std::string_view name, int64_t row_len, FileType ft,
               const MixOptions& opt) {
  using F = FileType;
  DType t = file_type_info(ft).base;
  const int64_t n_layers = std::max<int64_t>(m.n_layers, 1);
  const int64_t layer = std::max(layer_of(name), 0);

  // The output projection (or the tied embedding, which doubles as it) is the most sensitive
  // matrix: it gets Q6_K unless the whole file is Q8_0 already.
  if (name == "output.weight" || (!m.has_output && name == "token_embd.weight")) {
    if (row_len % 256 != 0) return DType::Q8_0;
    return t == DType::Q8_0 ? t : DType::Q6_K;
  }
  if (name == "token_embd.weight") return t;  // an untied embedding is only a row lookup

  if (contains(name, "attn_v.weight")) {
    // V feeds the output directly and is small under GQA: extra bits are cheap here.
    if (ft == F::Q2_K) return m.n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
    if (ft == F::Q3_K_M) return layer < 2 ? DType::Q5_K : DType::Q4_K;
    if (ft == F::Q3_K_L) return DType::Q5_K;
    if ((ft == F::Q4_K_M || ft == F::Q5_K_M) && use_more_bits(layer, n_layers)) return DType::Q6_K;
    if (ft == F::Q4_K_S && layer < 4) return DType::Q5_K;
    return t;
  }
  if (contains(name, "ffn_down")) {
    if (ft == F::Q2_K) return DType::Q3_K;
    if (ft == F::Q3_K_M) {
      return layer < n_layers / 16 ? DType::Q5_K : DType::Q4_K;
    }
    if (ft == F::Q3_K_L) return DType::Q5_K;
    if (ft == F::Q4_K_M) return use_more_bits(layer, n_layers) ? DType::Q6_K : t;
    if (ft == F::Q5_K_M && use_more_bits(layer, n_layers)) return DType::Q6_K;
    if (ft == F::Q4_K_S && layer < n_layers / 8) return DType::Q5_K;
    // With an imatrix the first ffn_down layers of Q4_0/Q5_0 use the offset variant, which
    // copes with the outliers those layers have.
    if ((ft == F::Q4_0 || ft == F::Q5_0) && opt.has_imatrix && layer < n_layers / 8) {
      return ft == F::Q4_0 ? DType::Q4_1 : DType::Q5_1;
    }
    return t;
  }
  if (contains(name, "attn_output.weight")) {
    if (ft == F::Q2_K) return DType::Q3_K;
    if (ft == F::Q3_K_M) return DType::Q4_K;
    if (ft == F::Q3_K_L) return DType::Q5_K;
    return t;
  }
  if (contains(name, "attn_qkv.weight")) {  // fused QKV (phi3): V's extra bits for the whole
    if (ft == F::Q3_K_M || ft == F::Q3_K_L) return DType::Q4_K;
    if (ft == F::Q4_K_M) return DType::Q5_K;
    if (ft == F::Q5_K_M) return DType::Q6_K;
    return t;
  }
  return t;
}

// Where a type's block does not divide the row: the nearest type with 32-element blocks
// (K-quants need 256), else F16. The established tool refuses for the 32-block types; pocket
// falls back to F16 instead, so models like stories260K (d_ff 172) can still be quantized.
DType fallback_for(DType t) {
  switch (t) {
    case DType::Q2_K:
    case DType::Q3_K:
      return DType::Q4_0;  // the established tool uses IQ4_NL (same size)
    case DType::Q4_K:
      return DType::Q5_0;
    case DType::Q5_K:
      return DType::Q5_1;
    case DType::Q6_K:
      return DType::Q8_0;
    default:
      return DType::F16;
  }
}

}  // namespace

const std::vector<FileTypeInfo>& file_types() {
  static const std::vector<FileTypeInfo> kTypes = {
      {FileType::F32, "F32", DType::F32, "32-bit float, no quantization"},
      {FileType::F16, "F16", DType::F16, "16-bit float"},
      {FileType::BF16, "BF16", DType::BF16, "bfloat16"},
      {FileType::Q8_0, "Q8_0", DType::Q8_0, "8.5 bits per weight"},
      {FileType::Q6_K, "Q6_K", DType::Q6_K, "6.56 bpw"},
      {FileType::Q5_K_M, "Q5_K_M", DType::Q5_K, "Q5_K, with Q6_K for some attn_v/ffn_down"},
      {FileType::Q5_K_S, "Q5_K_S", DType::Q5_K, "Q5_K throughout (output Q6_K)"},
      {FileType::Q5_1, "Q5_1", DType::Q5_1, "6 bpw, legacy"},
      {FileType::Q5_0, "Q5_0", DType::Q5_0, "5.5 bpw, legacy"},
      {FileType::Q4_K_M, "Q4_K_M", DType::Q4_K, "Q4_K, with Q6_K for some attn_v/ffn_down"},
      {FileType::Q4_K_S, "Q4_K_S", DType::Q4_K, "Q4_K, Q5_K for the first attn_v/ffn_down"},
      {FileType::Q4_1, "Q4_1", DType::Q4_1, "5 bpw, legacy"},
      {FileType::Q4_0, "Q4_0", DType::Q4_0, "4.5 bpw, legacy"},
      {FileType::Q3_K_L, "Q3_K_L", DType::Q3_K, "Q3_K, Q5_K for attn_v/attn_output/ffn_down"},
      {FileType::Q3_K_M, "Q3_K_M", DType::Q3_K, "Q3_K, Q4_K/Q5_K for attn_v/attn_output/ffn_down"},
      {FileType::Q3_K_S, "Q3_K_S", DType::Q3_K, "Q3_K throughout (output Q6_K)"},
      {FileType::Q2_K, "Q2_K", DType::Q2_K, "Q2_K, Q3_K/Q4_K for attn_v/attn_output/ffn_down"},
  };
  return kTypes;
}

const FileTypeInfo& file_type_info(FileType type) {
  for (const auto& info : file_types()) {
    if (info.type == type) return info;
  }
  fail("unknown file type id ", static_cast<uint32_t>(type));
}

std::optional<FileType> file_type_from_name(std::string_view name) {
  for (const auto& info : file_types()) {
    if (iequals(info.name, name)) return info.type;
  }
  return std::nullopt;
}

std::optional<FileType> file_type_from_id(uint32_t id) {
  for (const auto& info : file_types()) {
    if (static_cast<uint32_t>(info.type) == id) return info.type;
  }
  return std::nullopt;
}

std::string file_type_names() {
  std::string s;
  for (const auto& info : file_types()) {
    if (!s.empty()) s += ", ";
    s += info.name;
  }
  return s;
}

bool is_quantizable(std::string_view name, int n_dims) {
  if (n_dims < 2) return false;
  if (name.size() < 7 || name.substr(name.size() - 7) != ".weight") return false;
  // Lookup tables that are added, not multiplied, and small: keep them exact.
  return !contains(name, "position_embd") && !contains(name, "token_types") &&
         !contains(name, "rope_freqs");
}

int layer_of(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int layer = 0;
  size_t i = 4;
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) {
    layer = layer * 10 + (name[i] - '0');
    ++i;
  }
  return layer;
}

TypeChoice choose_type(const ModelInfo& model, std::string_view name, int64_t row_len,
                       FileType ftype, const MixOptions& options) {
  const DType base = file_type_info(ftype).base;
  // Float file types keep every weight in that float type; so does --pure.
  const bool float_file = base == DType::F32 || base == DType::F16 || base == DType::BF16;
  DType wanted = float_file || options.pure ? base : mix_type(model, name, row_len, ftype, options);
  TypeChoice choice{wanted, wanted, false};
  if (fits(wanted, row_len)) return choice;
  choice.fallback = true;
  choice.type = fallback_for(wanted);
  if (!fits(choice.type, row_len)) choice.type = DType::F16;
  return choice;
}

}  // namespace pocket::quantize
