// Vocabulary metadata for synthetic models (see vocab_source.h).
#include "quantize/vocab_source.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pocket::quantize {
namespace {

constexpr int32_t kTypeNormal = 1;
constexpr int32_t kTypeControl = 3;
constexpr int32_t kTypeUserDefined = 4;
constexpr int32_t kTypeUnused = 5;

std::string pad_token(int64_t id) {
  return "[PAD" + std::to_string(id) + "]";
}

}  // namespace

VocabMetadata vocab_from_gguf(const std::string& path, int64_t n_vocab) {
  auto file = std::make_shared<const gguf::File>(gguf::File::open(path));
  const gguf::Array* tokens = file->find_array("tokenizer.ggml.tokens");
  if (tokens == nullptr) fail(path, ": has no tokenizer.ggml.tokens (not a vocabulary file)");
  const int64_t n_have = static_cast<int64_t>(tokens->size());
  if (n_have > n_vocab) {
    fail(path, ": vocabulary has ", n_have, " tokens, more than the model's ", n_vocab);
  }
  VocabMetadata v;
  v.backing = file;
  v.n_tokens = n_vocab;
  for (const auto& [key, value] : file->metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    if (n_have == n_vocab || value.type != gguf::ValueType::ARRAY ||
        value.array->size() != static_cast<size_t>(n_have)) {
      v.kv.emplace_back(key, value);
      continue;
    }
    // A per-token array: pad it.
    const gguf::Array& a = *value.array;
    if (a.elem_type == gguf::ValueType::STRING) {
      std::vector<std::string> items;
      items.reserve(static_cast<size_t>(n_vocab));
      for (size_t i = 0; i < a.size(); ++i) items.emplace_back(a.get_string(i));
      for (int64_t i = n_have; i < n_vocab; ++i) items.push_back(pad_token(i));
      v.kv.emplace_back(key, gguf::Value::from_array(gguf::Array::of_strings(items)));
    } else if (a.elem_type == gguf::ValueType::FLOAT32) {
      std::vector<float> items(static_cast<size_t>(n_vocab), 0.0f);
      for (size_t i = 0; i < a.size(); ++i) items[i] = static_cast<float>(a.get_float(i));
      v.kv.emplace_back(key, gguf::Value::from_array(gguf::Array::of_f32(items)));
    } else {
      const bool is_type = key == "tokenizer.ggml.token_type";
      std::vector<int32_t> items(static_cast<size_t>(n_vocab), is_type ? kTypeUnused : 0);
      for (size_t i = 0; i < a.size(); ++i) items[i] = static_cast<int32_t>(a.get_int(i));
      v.kv.emplace_back(key, gguf::Value::from_array(gguf::Array::of_i32(items)));
    }
  }
  return v;
}

VocabMetadata vocab_from_tokenizer_json(const std::string& path, const std::string& pre,
                                        int64_t n_vocab) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open tokenizer.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    fail(path, ": not valid JSON: ", e.what());
  }
  const auto& model = j.value("model", nlohmann::json::object());
  if (model.value("type", "") != "BPE") {
    fail(path, ": model type '", model.value("type", ""), "' is not supported (only BPE)");
  }
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  auto put = [&](int64_t id, const std::string& text, int32_t type) {
    if (id < 0 || id >= n_vocab) fail(path, ": token id ", id, " outside the model's ", n_vocab);
    if (static_cast<int64_t>(tokens.size()) <= id) {
      tokens.resize(static_cast<size_t>(id + 1));
      types.resize(static_cast<size_t>(id + 1), kTypeUnused);
    }
    tokens[static_cast<size_t>(id)] = text;
    types[static_cast<size_t>(id)] = type;
  };
  for (const auto& [text, id] : model.at("vocab").items())
    put(id.get<int64_t>(), text, kTypeNormal);
  for (const auto& t : j.value("added_tokens", nlohmann::json::array())) {
    put(t.at("id").get<int64_t>(), t.at("content").get<std::string>(),
        t.value("special", false) ? kTypeControl : kTypeUserDefined);
  }
  for (int64_t i = 0; i < n_vocab; ++i) {
    if (i >= static_cast<int64_t>(tokens.size())) {
      tokens.push_back(pad_token(i));
      types.push_back(kTypeUnused);
    } else if (tokens[static_cast<size_t>(i)].empty()) {
      tokens[static_cast<size_t>(i)] = pad_token(i);
    }
  }
  std::vector<std::string> merges;
  for (const auto& m : model.at("merges")) {
    merges.push_back(m.is_array() ? m.at(0).get<std::string>() + " " + m.at(1).get<std::string>()
                                  : m.get<std::string>());
  }
  auto find_id = [&](const std::string& text) -> int64_t {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == text) return static_cast<int64_t>(i);
    }
    return -1;
  };

  VocabMetadata v;
  v.n_tokens = n_vocab;
  v.kv.emplace_back("tokenizer.ggml.model", gguf::Value::from_string("gpt2"));
  v.kv.emplace_back("tokenizer.ggml.pre", gguf::Value::from_string(pre));
  v.kv.emplace_back("tokenizer.ggml.tokens",
                    gguf::Value::from_array(gguf::Array::of_strings(tokens)));
  v.kv.emplace_back("tokenizer.ggml.token_type",
                    gguf::Value::from_array(gguf::Array::of_i32(types)));
  v.kv.emplace_back("tokenizer.ggml.merges",
                    gguf::Value::from_array(gguf::Array::of_strings(merges)));

  // BOS/EOS and the chat template live in tokenizer_config.json, if it is there.
  const auto config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  bool add_bos = false;
  if (std::filesystem::exists(config_path)) {
    std::ifstream cin(config_path);
    nlohmann::json c = nlohmann::json::parse(cin, nullptr, false);
    auto token_text = [&](const char* key) -> std::string {
      if (!c.contains(key) || c[key].is_null()) return "";
      if (c[key].is_string()) return c[key].get<std::string>();
      if (c[key].is_object()) return c[key].value("content", "");
      return "";
    };
    if (!c.is_discarded()) {
      if (int64_t id = find_id(token_text("bos_token")); id >= 0) {
        v.kv.emplace_back("tokenizer.ggml.bos_token_id",
                          gguf::Value::from_u32(static_cast<uint32_t>(id)));
      }
      if (int64_t id = find_id(token_text("eos_token")); id >= 0) {
        v.kv.emplace_back("tokenizer.ggml.eos_token_id",
                          gguf::Value::from_u32(static_cast<uint32_t>(id)));
      }
      if (int64_t id = find_id(token_text("pad_token")); id >= 0) {
        v.kv.emplace_back("tokenizer.ggml.padding_token_id",
                          gguf::Value::from_u32(static_cast<uint32_t>(id)));
      }
      add_bos = c.value("add_bos_token", false);
      if (c.contains("chat_template") && c["chat_template"].is_string()) {
        v.kv.emplace_back("tokenizer.chat_template",
                          gguf::Value::from_string(c["chat_template"].get<std::string>()));
      }
    }
  }
  v.kv.emplace_back("tokenizer.ggml.add_bos_token", gguf::Value::from_bool(add_bos));
  v.kv.emplace_back("tokenizer.ggml.add_eos_token", gguf::Value::from_bool(false));
  return v;
}

}  // namespace pocket::quantize
