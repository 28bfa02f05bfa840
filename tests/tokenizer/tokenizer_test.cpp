// Tokenizer behaviour beyond the reference vectors: bad input (invalid UTF-8, NUL, empty,
// 1 MB strings, out-of-range ids), special-token parsing, the streaming decoder, metadata
// errors, and spot checks of the generated Unicode tables.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "gguf/gguf.h"
#include "test_paths.h"
#include "tokenizer/unicode.h"

namespace pocket {
namespace {

// Tokenizers are loaded once per file (the Llama 3 vocabulary takes a moment).
const Tokenizer& load(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[path];
  if (!slot) slot = Tokenizer::from_gguf(gguf::File::open(path));
  return *slot;
}
const Tokenizer& spm() {
  return load(test::shared_dir() + "/vocab/ggml-vocab-llama-spm.gguf");
}
const Tokenizer& llama3() {
  return load(test::model_path("llama3-bpe-f16-q4_0embd.gguf"));
}
const Tokenizer& qwen2() {
  return load(test::model_path("qwen2-f16-q4_0embd.gguf"));
}
const Tokenizer& bert() {
  return load(test::shared_dir() + "/vocab/ggml-vocab-bert-bge.gguf");
}
const Tokenizer& phi3() {
  return load(test::shared_dir() + "/vocab/ggml-vocab-phi-3.gguf");
}

std::vector<const Tokenizer*> lossless() {
  return {&spm(), &llama3(), &qwen2(), &phi3()};
}

std::vector<std::string> awkward_strings() {
  return {
      "",
      std::string("a\0b", 3),
      std::string(1, '\0'),
      "\xFF\xFE invalid \xC3 utf8 \xE2\x82",
      "\xED\xA0\x80 lone surrogate (CESU) \xF4\x90\x80\x80 beyond U+10FFFF",
      "\xC0\xAF overlong",
      "tab\tnewline\ncr\r\nend",
      "emoji 🦙 and ZWJ 😶\u200d🌫️",
      "   leading and trailing   ",
      "<|im_start|> <s> </s> [CLS] <|eot_id|>",
  };
}

TEST(Tokenizer, RoundTripOnAwkwardInput) {
  for (const Tokenizer* tok : lossless()) {
    for (const auto& s : awkward_strings()) {
      const auto ids = tok->encode(s, false, false);
      EXPECT_EQ(tok->decode(ids), s) << tok->model_name() << " " << tok->pre();
      for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < tok->n_vocab());
    }
  }
}

TEST(Tokenizer, WordPieceSurvivesAwkwardInput) {
  for (const auto& s : awkward_strings()) {
    const auto ids = bert().encode(s, true, true);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.front(), 101);
    EXPECT_EQ(ids.back(), 102);
  }
  // Accents stripped, lowercased, CJK split, punctuation split.
  EXPECT_EQ(bert().encode("Café", false, false), bert().encode("cafe", false, false));
  EXPECT_EQ(bert().decode(bert().encode("Hello, World!", false, false)), " hello , world !");
}

TEST(Tokenizer, EmptyInput) {
  EXPECT_TRUE(spm().encode("", false, true).empty());
  EXPECT_EQ(spm().encode("", true, true), std::vector<int32_t>{1});
  EXPECT_TRUE(llama3().encode("", true, true).empty());  // add_bos is false in this file
  EXPECT_EQ(bert().encode("", true, true), (std::vector<int32_t>{101, 102}));
  EXPECT_EQ(spm().decode({}), "");
}

TEST(Tokenizer, OneMegabyteInputs) {
  std::string words;
  while (words.size() < (1 << 20)) words += "The quick brown fox jumps over the lazy dog. ";
  const std::string same(1 << 20, 'a');
  const std::string& cwords = words;
  std::string bytes(1 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7919 % 251);
  const std::string& cbytes = bytes;
  // One SPM and one BPE vocabulary: the 1 MB cases are slow under the sanitizers.
  for (const Tokenizer* tok : {&spm(), &llama3()}) {
    for (const std::string* s : {&cwords, &same, &cbytes}) {
      const auto ids = tok->encode(*s, false, false);
      EXPECT_EQ(tok->decode(ids), *s) << tok->model_name() << " " << tok->pre();
    }
  }
  for (const std::string* s : {&cwords, &same, &cbytes}) {
    EXPECT_FALSE(bert().encode(*s, false, false).empty());
  }
}

TEST(Tokenizer, OutOfRangeIdsThrowNamingTheId) {
  const int32_t bad[] = {5, -1};
  try {
    spm().decode(bad);
    FAIL() << "expected pocket::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("-1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(spm().token_to_piece(32000), Error);
  StreamDecoder stream(spm());
  EXPECT_THROW(stream.push(1 << 30), Error);
}

TEST(Tokenizer, SpecialTokensParsedOnlyWhenAllowed) {
  const std::string text = "<|im_start|>user\nhi<|im_end|>";
  const auto parsed = qwen2().encode(text, false, true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed.front(), 151644);
  EXPECT_EQ(parsed.back(), 151645);
  const auto plain = qwen2().encode(text, false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 151644), 0);
  EXPECT_EQ(qwen2().decode(plain), text);
  // User-defined tokens are recognised even without parse_special (as llama.cpp does).
  const auto think = qwen2().encode("<think>", false, false);
  EXPECT_EQ(think, std::vector<int32_t>{151667});
  // Control tokens render only when asked.
  EXPECT_EQ(qwen2().token_to_piece(151644, true), "<|im_start|>");
  EXPECT_EQ(qwen2().token_to_piece(151644, false), "");
  EXPECT_EQ(qwen2().decode(parsed, true), "user\nhi");
}

TEST(Tokenizer, SpmPrefixSpaceAfterSpecialTokens) {
  // llama.cpp adds the SPM prefix space to every fragment that follows a special token.
  const auto ids = spm().encode("<s>Hello</s>Hello", false, true);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 15043, 2, 15043}));
}

TEST(Tokenizer, Metadata) {
  EXPECT_EQ(spm().model_name(), "llama");
  EXPECT_EQ(spm().bos(), 1);
  EXPECT_EQ(spm().eos(), 2);
  EXPECT_TRUE(spm().add_bos());
  EXPECT_FALSE(spm().add_eos());
  EXPECT_TRUE(spm().is_eog(2));
  EXPECT_FALSE(spm().is_eog(1));
  EXPECT_EQ(spm().token_type(3), TokenType::Byte);
  EXPECT_EQ(spm().token_to_piece(3 + 0x41), "A");
  EXPECT_EQ(llama3().model_name(), "gpt2");
  EXPECT_EQ(llama3().pre(), "llama-bpe");
  EXPECT_EQ(llama3().eot(), 128009);
  EXPECT_TRUE(llama3().is_eog(128009));
  EXPECT_TRUE(qwen2().is_eog(151645));
  EXPECT_TRUE(qwen2().is_eog(151643));
  EXPECT_EQ(phi3().eot(), 32007);
  EXPECT_EQ(bert().model_name(), "bert");
}

TEST(Tokenizer, MissingOrBadMetadataIsAnErrorNamingTheKey) {
  gguf::Writer w;
  w.set("tokenizer.ggml.model", gguf::Value::from_string("gpt2"));
  w.set("tokenizer.ggml.tokens", gguf::Value::from_array(gguf::Array::of_strings({"a", "b"})));
  w.set("tokenizer.ggml.merges", gguf::Value::from_array(gguf::Array::of_strings({"a b"})));
  w.set("tokenizer.ggml.pre", gguf::Value::from_string("no-such-pre"));
  try {
    Tokenizer::from_gguf(gguf::File::from_memory(w.to_bytes(), "test.gguf"));
    FAIL() << "expected pocket::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-pre"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.gguf"), std::string::npos) << e.what();
  }
  w.remove("tokenizer.ggml.tokens");
  try {
    Tokenizer::from_gguf(gguf::File::from_memory(w.to_bytes(), "test.gguf"));
    FAIL() << "expected pocket::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.tokens"), std::string::npos) << e.what();
  }
  w.set("tokenizer.ggml.model", gguf::Value::from_string("rwkv"));
  EXPECT_THROW(Tokenizer::from_gguf(gguf::File::from_memory(w.to_bytes(), "t.gguf")), Error);
}

TEST(Tokenizer, EveryPreTokenizerNameLoadsAndRoundTrips) {
  // The GPT-2 vocabulary under every pre-tokenizer: byte-level BPE is lossless whatever
  // the split, so this exercises each matcher on awkward text.
  const auto base = gguf::File::open(test::shared_dir() + "/vocab/ggml-vocab-gpt-2.gguf");
  const char* names[] = {"default",
                         "gpt-2",
                         "llama-bpe",
                         "qwen2",
                         "deepseek-r1-qwen",
                         "deepseek-llm",
                         "deepseek-coder",
                         "deepseek-v3",
                         "falcon",
                         "starcoder",
                         "refact",
                         "mpt",
                         "gpt-neox",
                         "smollm",
                         "command-r",
                         "tekken",
                         "phi-2",
                         "olmo",
                         "bloom",
                         "poro-chat",
                         "stablelm2",
                         "dbrx",
                         "chatglm-bpe",
                         "gpt-4o",
                         "viking"};
  std::vector<std::string> texts = awkward_strings();
  texts.push_back(
      "Hello World! It's 2024... ÀÉÎ ǅungla ʰhello 中文字符 カタカナ 한국어 \n\n  \t x");
  texts.push_back("CamelCaseWordsHERE and 'S 'll 'Re 1234567 ١٢٣ ..., (a|b) ។");
  for (const char* name : names) {
    gguf::Writer w;
    for (const auto& [key, value] : base.metadata()) {
      if (key.rfind("tokenizer.", 0) == 0) w.set(key, value);
    }
    w.set("tokenizer.ggml.pre", gguf::Value::from_string(name));
    const auto tok = Tokenizer::from_gguf(gguf::File::from_memory(w.to_bytes(), name));
    EXPECT_EQ(tok->pre(), name);
    for (const auto& s : texts) EXPECT_EQ(tok->decode(tok->encode(s, false, true)), s) << name;
  }
}

TEST(StreamDecoder, NeverSplitsACharacter) {
  // Byte tokens one at a time: each push returns whole characters only.
  const std::string text = "añ€🦙z";
  StreamDecoder stream(spm());
  std::string out;
  for (unsigned char c : text) {
    const std::string piece = stream.push(3 + c);
    for (size_t i = 0; i < piece.size();) {
      const auto d = unicode::decode_utf8(piece, i);
      EXPECT_NE(d.cp, unicode::kReplacement) << "split character in '" << piece << "'";
      i += d.length;
    }
    out += piece;
  }
  out += stream.flush();
  EXPECT_EQ(out, text);
}

TEST(StreamDecoder, InvalidSequencesBecomeReplacementCharacters) {
  StreamDecoder stream(spm());
  EXPECT_EQ(stream.push(3 + 0xE2), "");              // could still become '€'
  EXPECT_EQ(stream.push(3 + 'x'), "\xEF\xBF\xBDx");  // cannot any more
  EXPECT_EQ(stream.push(3 + 0xF0), "");
  EXPECT_EQ(stream.push(3 + 0x9F), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated at the end
  EXPECT_EQ(stream.push(3 + 0xC0), "\xEF\xBF\xBD");       // never valid
  EXPECT_EQ(stream.push(3 + 0xE0), "");
  EXPECT_EQ(stream.push(3 + 0x80), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong: impossible
}

TEST(StreamDecoder, MatchesDecodeOnRealText) {
  const std::string text = "Hello, 世界! 🦙🦙 Ünïcödé — ok";
  for (const Tokenizer* tok : {&llama3(), &qwen2()}) {
    const auto ids = tok->encode(text, false, false);
    StreamDecoder stream(*tok);
    std::string out;
    for (int32_t id : ids) out += stream.push(id);
    out += stream.flush();
    EXPECT_EQ(out, text);
  }
}

TEST(Unicode, GeneratedTablesSpotChecks) {
  using unicode::Category;
  EXPECT_EQ(unicode::category('A'), Category::Lu);
  EXPECT_EQ(unicode::category(0x4E2D), Category::Lo);  // 中
  EXPECT_EQ(unicode::category(0x0661), Category::Nd);  // Arabic-Indic one
  EXPECT_EQ(unicode::category(0x2026), Category::Po);  // …
  EXPECT_EQ(unicode::category(0x0301), Category::Mn);
  EXPECT_EQ(unicode::category(0x10FFFF), Category::Cn);
  EXPECT_TRUE(unicode::is_whitespace(0x3000));
  EXPECT_TRUE(unicode::is_whitespace(0x85));
  EXPECT_FALSE(unicode::is_whitespace(0x200B));
  EXPECT_EQ(unicode::to_lower(0x0130), 0x0130u);  // İ lowercases to two code points: kept
  EXPECT_EQ(unicode::to_lower(0x00C9), 0x00E9u);
  EXPECT_EQ(unicode::to_lower(0x0410), 0x0430u);
  std::vector<uint32_t> nfd;
  unicode::append_nfd(0x1EC7, nfd);  // ệ -> e + dot below + circumflex
  EXPECT_EQ(nfd, (std::vector<uint32_t>{'e', 0x0323, 0x0302}));
  nfd.clear();
  unicode::append_nfd(0xD55C, nfd);  // 한
  EXPECT_EQ(nfd, (std::vector<uint32_t>{0x1112, 0x1161, 0x11AB}));
}

}  // namespace
}  // namespace pocket
