#include "model/weights.h"

#include "core/error.h"
#include "tensor/traits.h"

namespace pocket {

TensorView WeightBinder::get(const std::string& name, std::initializer_list<int64_t> shape) const {
  TensorView view = optional(name, shape);
  if (!view) fail(file_.path(), ": required tensor '", name, "' is missing");
  return view;
}

TensorView WeightBinder::optional(const std::string& name,
                                  std::initializer_list<int64_t> shape) const {
  const gguf::TensorInfo* info = file_.find_tensor(name);
  if (info == nullptr) return {};
  bool same = info->n_dims >= static_cast<int>(shape.size());
  int d = 0;
  for (int64_t n : shape) same = same && info->ne[d++] == n;
  for (; d < info->n_dims; ++d) same = same && info->ne[d] == 1;
  if (!same) {
    std::string expected = "[";
    d = 0;
    for (int64_t n : shape) expected += (d++ ? ", " : "") + std::to_string(n);
    fail(file_.path(), ": tensor '", name, "' has shape ", info->shape_string(), ", expected ",
         expected, "]");
  }
  if (!is_computable(info->type)) {
    fail(file_.path(), ": tensor '", name, "' has type ", dtype_name(info->type),
         ", which pocket does not support");
  }
  TensorView view;
  view.type = info->type;
  for (int k = 0; k < 4; ++k) view.ne[k] = info->ne[k];
  view.data = info->data;
  view.name = name;
  return view;
}

const float* WeightBinder::vector(const std::string& name, int64_t n, bool required) const {
  TensorView view = required ? get(name, {n}) : optional(name, {n});
  if (!view) return nullptr;
  if (view.type != DType::F32) {
    fail(file_.path(), ": tensor '", name, "' has type ", dtype_name(view.type), ", expected F32");
  }
  return static_cast<const float*>(view.data);
}

std::string arch_key(std::string_view arch, std::string_view suffix) {
  return std::string(arch) + "." + std::string(suffix);
}

}  // namespace pocket
