// Tokenizer ids against upstream data: the .inp/.out vectors of every vocabulary in
// ../shared/vocab (made by Hugging Face tokenizers; add_special=false, parse_special=false)
// and the prompt ids of every model in ../shared/reference (llama.cpp, both flags true).
// Also checks decode(encode(x)) == x on those strings for the lossless vocabularies.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/gguf.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace pocket {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct VectorSet {
  std::string name;   // the .inp/.out stem
  std::string model;  // GGUF holding the tokenizer
};

std::vector<VectorSet> vector_sets() {
  const std::string vocab = test::shared_dir() + "/vocab/";
  std::vector<VectorSet> sets;
  for (const auto& entry : std::filesystem::directory_iterator(vocab)) {
    const std::string file = entry.path().filename().string();
    if (file.size() > 4 && file.substr(file.size() - 4) == ".inp") {
      const std::string stem = file.substr(0, file.size() - 4);
      std::string model = vocab + stem;
      if (stem == "llama3-bpe") model = test::model_path("llama3-bpe-f16-q4_0embd.gguf");
      if (stem == "qwen2") model = test::model_path("qwen2-f16-q4_0embd.gguf");
      sets.push_back({stem, model});
    }
  }
  std::sort(sets.begin(), sets.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return sets;
}

std::vector<std::string> split_inputs(const std::string& text) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  for (size_t at; (at = text.find(sep, pos)) != std::string::npos; pos = at + sep.size()) {
    out.push_back(text.substr(pos, at - pos));
  }
  return out;
}

std::vector<std::vector<int32_t>> parse_outputs(const std::string& text) {
  std::vector<std::vector<int32_t>> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream ids(line);
    out.emplace_back();
    for (int32_t id; ids >> id;) out.back().push_back(id);
  }
  return out;
}

std::string ids_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

TEST(TokenizerVectors, EveryVocabularyMatchesItsVectors) {
  const auto sets = vector_sets();
  ASSERT_GE(sets.size(), 12u);
  for (const auto& set : sets) {
    SCOPED_TRACE(set.name);
    const std::string base = test::shared_dir() + "/vocab/" + set.name;
    const auto inputs = split_inputs(read_file(base + ".inp"));
    const auto expected = parse_outputs(read_file(base + ".out"));
    ASSERT_EQ(inputs.size(), expected.size());
    const auto file = gguf::File::open(set.model);
    const auto tok = Tokenizer::from_gguf(file);
    size_t passed = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto ids = tok->encode(inputs[i], false, false);
      EXPECT_EQ(ids_string(ids), ids_string(expected[i])) << "input: '" << inputs[i] << "'";
      if (ids == expected[i]) ++passed;
      if (tok->model_name() != "bert") {
        EXPECT_EQ(tok->decode(ids), inputs[i]) << "round trip of '" << inputs[i] << "'";
      }
    }
    std::printf("  %-28s %zu/%zu vectors pass\n", set.name.c_str(), passed, inputs.size());
  }
}

TEST(TokenizerVectors, ReferencePromptIdsMatch) {
  const auto index = nlohmann::json::parse(read_file(test::shared_dir() + "/reference/index.json"));
  ASSERT_GE(index.size(), 13u);
  for (const auto& entry : index) {
    const std::string dir = entry.at("dir");
    SCOPED_TRACE(dir);
    const auto ref =
        nlohmann::json::parse(read_file(test::shared_dir() + "/reference/" + dir + "/ref.json"));
    const std::string model_file = entry.at("model_file");  // relative to /work
    const auto file = gguf::File::open(test::shared_dir() + "/../" + model_file);
    const auto tok = Tokenizer::from_gguf(file);
    size_t passed = 0, total = 0;
    for (const auto& c : ref.at("cases")) {
      const std::string prompt = c.at("prompt");
      const std::vector<int32_t> expected = c.at("prompt_ids");
      const auto ids = tok->encode(prompt, true, true);
      EXPECT_EQ(ids_string(ids), ids_string(expected)) << "case " << c.at("id").get<std::string>();
      ++total;
      if (ids == expected) ++passed;
      const std::vector<std::string> pieces = c.at("prompt_pieces");
      for (size_t i = 0; i < ids.size() && i < pieces.size(); ++i) {
        const std::string piece = tok->token_to_piece(ids[i], true);
        // Pieces were stored with U+FFFD for invalid UTF-8 (split byte tokens): skip those.
        if (pieces[i].find("\xEF\xBF\xBD") == std::string::npos) {
          EXPECT_EQ(piece, pieces[i]);
        }
      }
    }
    std::printf("  %-28s %zu/%zu prompts match\n", dir.c_str(), passed, total);
  }
}

}  // namespace
}  // namespace pocket
