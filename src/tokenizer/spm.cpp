// SentencePiece-style BPE ("llama" vocabularies): start from UTF-8 characters and repeatedly
// merge the adjacent pair whose concatenation is the vocabulary entry with the highest score
// (leftmost on ties), using a binary heap with lazy invalidation so that long inputs stay
// O(n log n). Characters left without a token fall back to <0xXX> byte tokens.
// The caller has already escaped spaces to U+2581 and added the prefix space.
#include <algorithm>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace pocket {

namespace {

struct Symbol {
  uint32_t start;   // byte offset into the text
  uint32_t length;  // 0 once merged into its left neighbour
  int32_t prev, next;
};

struct Bigram {
  float score;
  int32_t left, right;
  uint32_t length;  // length of the merged text when queued: detects stale entries
  bool operator<(const Bigram& o) const {  // max-heap: best score, then leftmost
    return score < o.score || (score == o.score && left > o.left);
  }
};

constexpr std::string_view kMarker = "\xE2\x96\x81";

struct Scratch {
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
};

void encode_chunk(const Tokenizer::Impl& vocab, std::string_view text, Scratch& scratch,
                  std::vector<int32_t>& out) {
  auto& symbols = scratch.symbols;
  symbols.clear();
  for (size_t pos = 0; pos < text.size();) {
    const uint32_t n = unicode::decode_utf8(text, pos).length;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), n, index - 1, index + 1});
    pos += n;
  }
  symbols.back().next = -1;

  auto& heap = scratch.heap;
  heap.clear();
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const uint32_t length = l.length + symbols[right].length;
    const int32_t id = vocab.find(text.substr(l.start, length));
    if (id < 0) return;
    heap.push_back({vocab.scores[id], left, right, length});
    std::push_heap(heap.begin(), heap.end());
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    if (l.length == 0 || r.length == 0 || l.length + r.length != b.length) continue;
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    const std::string_view piece = text.substr(s.start, s.length);
    const int32_t id = vocab.find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const int32_t byte_id = vocab.byte_tokens[static_cast<uint8_t>(c)];
      if (byte_id >= 0) {
        out.push_back(byte_id);
      } else if (vocab.unk >= 0) {
        out.push_back(vocab.unk);
      }
    }
  }
}

}  // namespace

void spm_encode(const Tokenizer::Impl& vocab, std::string_view text, std::vector<int32_t>& out) {
  thread_local Scratch scratch;
  if (text.empty()) return;
  if (!vocab.spm_split_before_space) {
    encode_chunk(vocab, text, scratch, out);
    return;
  }
  // No vocabulary entry contains "x\u2581" (x not U+2581), so no merge can cross the point
  // before a U+2581 that follows other text: the chunks merge independently, with the same
  // result as one queue over the whole text and much smaller queues.
  size_t begin = 0;
  for (size_t pos = kMarker.size(); pos + kMarker.size() <= text.size();) {
    if (text.compare(pos, kMarker.size(), kMarker) == 0 &&
        text.compare(pos - kMarker.size(), kMarker.size(), kMarker) != 0) {
      encode_chunk(vocab, text.substr(begin, pos - begin), scratch, out);
      begin = pos;
      pos += kMarker.size();
    } else {
      ++pos;
    }
  }
  encode_chunk(vocab, text.substr(begin), scratch, out);
}

}  // namespace pocket
