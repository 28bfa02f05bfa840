// Byte-level BPE ("gpt2" vocabularies): pre-tokenize, map each byte of a word to its GPT-2
// code point, then repeatedly merge the adjacent pair with the lowest merge rank (leftmost
// on ties). Merging works per word, so cost is linear in the text for ordinary words and
// O(n log n) for a single huge one (priority queue with lazy invalidation).
#include <algorithm>
#include <queue>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace pocket {

namespace {

struct Symbol {
  int32_t id;  // -1 if the byte's character is missing from the vocabulary
  int32_t prev, next;
  bool alive;
};

struct Bigram {
  int32_t rank;
  int32_t left, right;
  int32_t left_id, right_id;  // ids when queued: detects stale entries
  int32_t result;
  bool operator<(const Bigram& o) const {  // max-heap on the reverse: lowest rank, leftmost
    return rank > o.rank || (rank == o.rank && left > o.left);
  }
};

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Scratch {
  std::vector<std::pair<uint32_t, uint32_t>> words;
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
  std::string mapped;
};

void encode_word(const Tokenizer::Impl& vocab, std::string_view word, Scratch& s,
                 std::vector<int32_t>& out) {
  if (vocab.pre.ignore_merges()) {
    s.mapped.clear();
    for (char c : word) unicode::append_utf8(vocab.byte_to_cp[static_cast<uint8_t>(c)], s.mapped);
    const int32_t id = vocab.find(s.mapped);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  auto& symbols = s.symbols;
  symbols.clear();
  const auto n = static_cast<int32_t>(word.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols.push_back({vocab.byte_symbol[static_cast<uint8_t>(word[i])], i - 1, i + 1, true});
  }
  symbols.back().next = -1;

  auto& heap = s.heap;
  heap.clear();
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t a = symbols[left].id, b = symbols[right].id;
    if (a < 0 || b < 0) return;
    const Tokenizer::Impl::Merge* m = vocab.merges.find(pair_key(a, b));
    if (m == nullptr) return;
    heap.push_back({m->rank, left, right, a, b, m->result});
    std::push_heap(heap.begin(), heap.end());
  };
  for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    if (!l.alive || !r.alive || l.next != b.right || l.id != b.left_id || r.id != b.right_id) {
      continue;
    }
    l.id = b.result;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    if (symbols[i].id >= 0) out.push_back(symbols[i].id);
  }
}

}  // namespace

void init_byte_mapping(Tokenizer::Impl& vocab) {
  // GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes
  // to U+0100, U+0101, ... in byte order.
  uint32_t next = 0x100;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    vocab.byte_to_cp[b] = printable ? b : next++;
    vocab.cp_to_byte[vocab.byte_to_cp[b]] = static_cast<uint8_t>(b);
  }
}

void bpe_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out) {
  thread_local Scratch scratch;
  vocab.pre.split(text, scratch.words);
  for (auto [begin, end] : scratch.words) {
    encode_word(vocab, text.substr(begin, end - begin), scratch, out);
  }
}

}  // namespace pocket
