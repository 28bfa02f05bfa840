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

// The texts of all tokens in one buffer, with an open-addressing index from text to id.
// A 128k-token vocabulary takes about 3 MB this way instead of ~10 MB as separate strings
// plus a node-based hash map, which counts against a model's memory budget.
class TokenTexts {
 public:
  // Appends the text of the next id; a later duplicate of a text wins lookups (as in
  // llama.cpp). Call build_index() after the last one.
  void push_back(std::string_view text) {
    pool_.append(text);
    ends_.push_back(pool_.size());
  }
  void build_index();

  size_t size() const { return ends_.size(); }
  std::string_view operator[](size_t id) const {
    const size_t begin = id == 0 ? 0 : ends_[id - 1];
    return std::string_view(pool_).substr(begin, ends_[id] - begin);
  }
  int32_t find(std::string_view text) const;  // -1 if no token has this text

 private:
  std::string pool_;
  std::vector<size_t> ends_;     // end of each text in pool_
  std::vector<int32_t> slots_;   // power-of-two table of ids, -1 = empty
};

struct Tokenizer::Impl {
  std::string path;
  VocabKind kind = VocabKind::Spm;
  std::string model_name;
  std::string pre_name;

  TokenTexts texts;                // [n_vocab], with the text -> id index
  std::vector<float> scores;       // [n_vocab], SPM only (0 elsewhere)
  std::vector<TokenType> types;    // [n_vocab]
  std::vector<uint8_t> rstrip;     // [n_vocab]: drop whitespace after this special token
  std::vector<uint8_t> lstrip;     // [n_vocab]: drop whitespace before it
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
    int32_t rank = -1;  // -1: empty slot
    int32_t result = -1;  // id of the merged text, -1 if the vocabulary lacks it
  };
  // Open addressing over (left << 32 | right) keys: 16 bytes a slot, no nodes (a 280k-merge
  // vocabulary takes 8 MB, not ~12).
  class MergeTable {
   public:
    void reserve(size_t n);
    void insert(uint64_t key, Merge m);  // keeps an existing entry (the lower rank)
    const Merge* find(uint64_t key) const;

   private:
    struct Slot {
      uint64_t key;
      Merge merge;
    };
    static size_t hash(uint64_t key) { return static_cast<size_t>((key * 0x9e3779b97f4a7c15ull) >> 20); }
    std::vector<Slot> slots_;
    size_t used_ = 0;
  };
  MergeTable merges;
  PreTokenizer pre;

  int32_t find(std::string_view text) const { return texts.find(text); }
};

void spm_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out);
void bpe_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out);
void wordpiece_encode(const Tokenizer::Impl& vocab, std::string_view text,
                      std::vector<int32_t>& out);
// Fills byte_to_cp/cp_to_byte with the GPT-2 byte-to-unicode table.
void init_byte_mapping(Tokenizer::Impl& vocab);

}  // namespace pocket
