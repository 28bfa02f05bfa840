// quantize_file: plan every tensor's type first (so all input errors surface before the
// output is created), then stream tensor by tensor through gguf::Writer's producers.
#include "quantize/quantize_file.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quantize/convert.h"
#include "quantize/imatrix.h"
#include "tensor/traits.h"

namespace pocket::quantize {
namespace {

bool is_float_type(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

struct Plan {
  const gguf::TensorInfo* info;
  TypeChoice choice;
  bool convert;
  std::vector<float> importance;
};

}  // namespace

ModelInfo model_info(const gguf::File& file) {
  ModelInfo m;
  m.arch = std::string(file.get_string("general.architecture", ""));
  for (const auto& t : file.tensors()) {
    const std::string& n = t.name;
    if (n.find("attn_v.weight") != std::string::npos ||
        n.find("attn_qkv.weight") != std::string::npos) {
      ++m.n_layers;
    }
  }
  if (m.n_layers == 0) m.n_layers = file.get_int(m.arch + ".block_count", 0);
  const int64_t heads = file.get_int(m.arch + ".attention.head_count", 1);
  const int64_t kv_heads = file.get_int(m.arch + ".attention.head_count_kv", heads);
  m.n_gqa = kv_heads > 0 ? heads / kv_heads : 1;
  m.has_output = file.find_tensor("output.weight") != nullptr;
  return m;
}

QuantizeSummary quantize_file(const QuantizeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  gguf::File in = gguf::File::open(options.input);
  const ModelInfo model = model_info(in);

  Imatrix imatrix;
  if (!options.imatrix_path.empty()) imatrix = Imatrix::load(options.imatrix_path);
  MixOptions mix{options.pure, !options.imatrix_path.empty()};

  std::vector<Plan> plans;
  plans.reserve(in.tensors().size());
  QuantizeSummary summary;
  for (const auto& t : in.tensors()) {
    Plan p{&t, TypeChoice{t.type, t.type, false}, false, {}};
    if (is_quantizable(t.name, t.n_dims)) {
      p.choice = choose_type(model, t.name, t.ne[0], options.ftype, mix);
      p.convert = p.choice.type != t.type;
    }
    if (p.convert) {
      if (!is_float_type(t.type) && !options.allow_requantize) {
        fail(options.input, ": tensor '", t.name, "' is already ", dtype_name(t.type),
             "; quantizing it again to ", dtype_name(p.choice.type),
             " compounds the rounding errors (pass --allow-requantize to do it anyway)");
      }
      if (!is_computable(t.type)) {
        fail(options.input, ": tensor '", t.name, "' is stored as ", dtype_name(t.type),
             ", which pocket cannot read");
      }
      if (!is_computable(p.choice.type)) {
        fail("cannot write tensor '", t.name, "' as ", dtype_name(p.choice.type));
      }
      p.importance = imatrix.importance(t.name);
      if (!p.importance.empty() && static_cast<int64_t>(p.importance.size()) != t.ne[0]) {
        fail(options.imatrix_path, ": tensor '", t.name, "' has ", p.importance.size(),
             " importance values, expected ", t.ne[0]);
      }
      summary.n_with_importance += p.importance.empty() ? 0 : 1;
      ++summary.n_converted;
      summary.n_fallback += p.choice.fallback ? 1 : 0;
    }
    plans.push_back(std::move(p));
  }

  gguf::Writer writer;
  writer.set_alignment(in.alignment());
  for (const auto& [key, value] : in.metadata()) writer.set(key, value);
  writer.set("general.file_type", gguf::Value::from_u32(static_cast<uint32_t>(options.ftype)));
  bool any_quantized = false;
  for (const auto& p : plans) any_quantized |= !is_float_type(p.choice.type);
  if (any_quantized) writer.set("general.quantization_version", gguf::Value::from_u32(2));

  int n_threads = options.n_threads > 0
                      ? options.n_threads
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(n_threads);
  const int count = static_cast<int>(plans.size());
  for (int i = 0; i < count; ++i) {
    const Plan& p = plans[i];
    const gguf::TensorInfo& t = *p.info;
    std::vector<int64_t> shape(t.ne, t.ne + t.n_dims);
    TensorProgress progress;
    progress.index = i + 1;
    progress.count = count;
    progress.name = t.name;
    progress.shape = t.shape_string();
    progress.from = t.type;
    progress.to = p.choice.type;
    progress.wanted = p.choice.wanted;
    progress.converted = p.convert;
    progress.fallback = p.choice.fallback;
    progress.in_bytes = t.n_bytes;
    progress.out_bytes =
        p.convert ? row_bytes(p.choice.type, t.ne[0]) * static_cast<size_t>(t.n_rows()) : t.n_bytes;
    summary.in_bytes += progress.in_bytes;
    summary.out_bytes += progress.out_bytes;
    if (!p.convert) {
      // Copied through a producer too, so progress is reported in file order.
      writer.add_tensor(t.name, t.type, shape, [&t, progress, &options](std::vector<uint8_t>& out) {
        out.assign(t.data, t.data + t.n_bytes);
        if (options.on_tensor) options.on_tensor(progress);
      });
      continue;
    }
    writer.add_tensor(
        t.name, p.choice.type, shape, [&p, &pool, progress, &options](std::vector<uint8_t>& out) {
          const gguf::TensorInfo& ti = *p.info;
          convert_rows(p.choice.type, ti.n_rows(), ti.ne[0],
                       rows_from_tensor(ti.type, ti.data, ti.ne[0]),
                       p.importance.empty() ? nullptr : p.importance.data(), pool, out);
          if (options.on_tensor) options.on_tensor(progress);
        });
  }
  summary.n_tensors = count;
  writer.write(options.output);
  summary.file_bytes = 0;
  {
    std::FILE* f = std::fopen(options.output.c_str(), "rb");
    if (f != nullptr) {
      std::fseek(f, 0, SEEK_END);
      summary.file_bytes = static_cast<size_t>(std::ftell(f));
      std::fclose(f);
    }
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace pocket::quantize
