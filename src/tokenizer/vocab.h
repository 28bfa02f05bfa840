// Internal: the vocabulary every tokenizer kind shares (Tokenizer::Impl), and the encoders
// of raw text (no special tokens) for each kind. Not part of the public API.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace pocket {

enum class VocabKind { Spm, Bpe, WordPiece };

struct Tokenizer::Impl {
  std::string path;
  VocabKind kind = VocabKind::Spm;
  std::string model_name;
  std::string pre_name;

  std::vector<std::string> texts;  // [n_vocab]
  std::vector<float> scores;       // [n_vocab], SPM only (0 elsewhere)
  std::vector<TokenType> types;    // [n_vocab]
  std::vector<uint8_t> rstrip;     // [n_vocab]: drop whitespace after this special token
  std::vector<uint8_t> lstrip;     // [n_vocab]: drop whitespace before it
  std::unordered_map<std::string_view, int32_t> text_to_id;  // views into `texts`
  std::vector<int32_t> specials;  // control/user-defined/unknown ids, longest text first
  size_t max_token_length = 0;

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = false;
  std::vector<int32_t> eog;  // sorted

  // SPM: id of <0xXX> per byte (-1 if missing); whether text may be cut before a U+2581
  // that follows other text (true when no entry contains such a pair).
  bool spm_split_before_space = false;
  std::array<int32_t, 256> byte_tokens{};

  // BPE: GPT-2 byte <-> code point mapping, and merges keyed by (left id, right id).
  std::array<int32_t, 256> byte_symbol{};  // id of the one-character token of each byte
  std::array<uint32_t, 256> byte_to_cp{};
  std::unordered_map<uint32_t, uint8_t> cp_to_byte;
  struct Merge {
    int32_t rank;
    int32_t result;  // id of the merged text, -1 if the vocabulary lacks it
  };
  std::unordered_map<uint64_t, Merge> merges;
  PreTokenizer pre;

  int32_t find(std::string_view text) const {
    auto it = text_to_id.find(text);
    return it == text_to_id.end() ? -1 : it->second;
  }
};

void spm_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out);
void bpe_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out);
void wordpiece_encode(const Tokenizer::Impl& vocab, std::string_view text,
                      std::vector<int32_t>& out);
// Fills byte_to_cp/cp_to_byte with the GPT-2 byte-to-unicode table.
void init_byte_mapping(Tokenizer::Impl& vocab);

}  // namespace pocket
