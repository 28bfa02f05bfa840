// pocket::Tokenizer: text <-> token ids for the three vocabulary kinds found in GGUF files:
// SentencePiece-style ("llama": score-driven merges, byte fallback), byte-level BPE ("gpt2":
// ranked merges behind a pre-tokenizer chosen by tokenizer.ggml.pre) and WordPiece ("bert").
// Ids match llama.cpp's tokenizer (and so Hugging Face's) on the shared test vectors.
// Not here: Unigram/RWKV vocabularies, chat templates, HF clean_up_tokenization_spaces.
//
// Defined behaviour on bad input (never a crash):
//   * invalid UTF-8 is classified as U+FFFD by the pre-tokenizers but encoded as its raw
//     bytes (BPE byte tokens, SPM <0xXX> fallback), so decode(encode(x)) restores it;
//     WordPiece drops it (as BERT drops U+FFFD);
//   * NUL bytes are ordinary bytes (SPM: <0x00>; BPE: its byte token; WordPiece: dropped);
//   * decode/token_to_piece of an id outside [0, n_vocab) throws pocket::Error naming the id;
//     StreamDecoder::push does the same.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pocket {

namespace gguf {
class File;
}

// The values of the tokenizer.ggml.token_type array.
enum class TokenType : uint8_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

class Tokenizer {
 public:
  // Reads the tokenizer.ggml.* metadata; throws pocket::Error naming the file and the key.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: BOS/EOS as the vocabulary says (WordPiece: [CLS] ... [SEP]).
  // parse_special: control-token text such as "<|im_start|>" becomes that token; without it
  // only user-defined tokens are recognised in the text (as llama.cpp does).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes this token decodes to. Control and unknown tokens render their text only when
  // `special` is true; user-defined tokens always render their text; unused tokens render "".
  std::string token_to_piece(int32_t id, bool special = true) const;

  // Decodes a whole sequence as llama.cpp's llama_detokenize does: for SPM vocabularies the
  // prefix space of the first token is removed; skip_special drops a leading BOS / trailing
  // EOS the vocabulary adds and renders control tokens as "". Lossless for SPM and BPE.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  int32_t n_vocab() const;
  int32_t bos() const;  // -1 if none
  int32_t eos() const;  // -1 if none
  int32_t eot() const;  // -1 if none
  int32_t unk() const;  // -1 if none
  bool add_bos() const;
  bool add_eos() const;
  bool is_eog(int32_t id) const;  // end of generation: EOS, EOT, EOM and their kin
  TokenType token_type(int32_t id) const;
  std::string_view token_text(int32_t id) const;    // the raw vocabulary entry
  int32_t find_token(std::string_view text) const;  // exact vocabulary entry, -1 if none
  std::string_view model_name() const;              // "llama", "gpt2" or "bert"
  std::string_view pre() const;                     // pre-tokenizer name ("" for SPM and WordPiece)

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of generated ids into text that never ends inside a UTF-8 character:
// push() returns only complete characters and holds back the start of one until its last
// byte arrives. A sequence that can no longer become valid is emitted as U+FFFD at once;
// flush() emits whatever is held back, an incomplete tail as U+FFFD per byte.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false);
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace pocket
