// Reads ../shared/reference: ref.json cases and their logits/embedding files.
#pragma once

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_paths.h"

namespace pocket::test {

struct ReferenceCase {
  std::string id;
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> gen_ids;
  std::string gen_text;
  std::vector<std::vector<std::pair<int32_t, float>>> gen_top5;  // [step][5] (id, logit)
  std::string logits_file;                                         // empty if not kept
  std::vector<float> embedding;                                    // bert
};

struct ReferenceModel {
  std::string dir;
  std::string model_path;
  int64_t n_vocab = 0;
  std::vector<ReferenceCase> cases;
};

inline ReferenceModel load_reference(const std::string& dir) {
  std::ifstream in(shared_dir() + "/reference/" + dir + "/ref.json");
  nlohmann::json j = nlohmann::json::parse(in);
  ReferenceModel m;
  m.dir = dir;
  std::string file = j["model_file"];  // "shared/models/x.gguf", relative to shared's parent
  m.model_path = shared_dir() + "/../" + file;
  m.n_vocab = j["n_vocab"];
  for (const auto& c : j["cases"]) {
    ReferenceCase rc;
    rc.id = c["id"];
    rc.prompt = c["prompt"];
    rc.prompt_ids = c["prompt_ids"].get<std::vector<int32_t>>();
    if (c.contains("gen_ids")) rc.gen_ids = c["gen_ids"].get<std::vector<int32_t>>();
    if (c.contains("gen_text")) rc.gen_text = c["gen_text"];
    if (c.contains("gen_top5")) {
      for (const auto& step : c["gen_top5"]) {
        std::vector<std::pair<int32_t, float>> s;
        for (const auto& pair : step) s.emplace_back(pair[0].get<int32_t>(), pair[1].get<float>());
        rc.gen_top5.push_back(std::move(s));
      }
    }
    if (c.contains("logits_file")) rc.logits_file = shared_dir() + "/reference/" + dir + "/" + c["logits_file"].get<std::string>();
    if (c.contains("embedding")) rc.embedding = c["embedding"].get<std::vector<float>>();
    m.cases.push_back(std::move(rc));
  }
  return m;
}

inline std::vector<float> read_f32_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> v(static_cast<size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

}  // namespace pocket::test
