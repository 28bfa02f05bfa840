// WordPiece ("bert" vocabularies), as Hugging Face's BertNormalizer + BertPreTokenizer +
// WordPiece: drop control characters, U+0000 and U+FFFD; map whitespace to a space; isolate
// CJK ideographs; strip accents (NFD, drop Mn); lowercase; split on whitespace and
// punctuation; then greedy longest match per word. GGUF stores word-initial pieces as
// "\u2581piece" and continuations without the "##" (llama.cpp's convention).
// Not handled: cased BERT vocabularies (GGUF does not say whether to lowercase).
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace pocket {

namespace {

using unicode::Category;

constexpr size_t kMaxCharsPerWord = 100;  // longer words are [UNK], as in BERT
constexpr std::string_view kWordStart = "\xE2\x96\x81";

bool is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_bert_punctuation(uint32_t c) {
  if (c < 0x80) {
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
  }
  return unicode::is_punctuation(unicode::category(c));
}

// Greedy longest match of one word (its code points); [UNK] if any part fails.
void encode_word(const Tokenizer::Impl& vocab, const std::vector<uint32_t>& word,
                 std::vector<int32_t>& out) {
  if (word.empty()) return;
  const size_t before = out.size();
  if (word.size() <= kMaxCharsPerWord) {
    std::vector<uint32_t> offsets;  // byte offset of each code point in `bytes`
    std::string bytes;
    for (uint32_t cp : word) {
      offsets.push_back(static_cast<uint32_t>(bytes.size()));
      unicode::append_utf8(cp, bytes);
    }
    offsets.push_back(static_cast<uint32_t>(bytes.size()));
    std::string key;
    size_t start = 0;
    while (start < word.size()) {
      int32_t found = -1;
      size_t end = word.size();
      for (; end > start; --end) {
        const size_t length = offsets[end] - offsets[start];
        if (length > vocab.max_token_length) continue;
        key.assign(start == 0 ? kWordStart : std::string_view());
        key.append(bytes, offsets[start], length);
        found = vocab.find(key);
        if (found >= 0) break;
      }
      if (found < 0) {
        out.resize(before);
        break;
      }
      out.push_back(found);
      start = end;
    }
    if (out.size() > before) return;
  }
  if (vocab.unk >= 0) out.push_back(vocab.unk);
}

}  // namespace

void wordpiece_encode(const Tokenizer::Impl& vocab, std::string_view text,
                      std::vector<int32_t>& out) {
  std::vector<uint32_t> word;
  std::vector<uint32_t> decomposed;
  const auto finish_word = [&] {
    encode_word(vocab, word, out);
    word.clear();
  };
  for (size_t pos = 0; pos < text.size();) {
    const auto d = unicode::decode_utf8(text, pos);
    pos += d.length;
    const uint32_t c = d.cp;
    const Category cat = unicode::category(c);
    const bool tab_or_newline = c == '\t' || c == '\n' || c == '\r';
    if (c == 0 || c == unicode::kReplacement || (unicode::is_control(cat) && !tab_or_newline) ||
        cat == Category::Cn) {
      continue;
    }
    if (unicode::is_whitespace(c)) {
      finish_word();
      continue;
    }
    if (is_cjk(c)) {
      finish_word();
      word.push_back(c);
      finish_word();
      continue;
    }
    decomposed.clear();
    unicode::append_nfd(c, decomposed);
    for (uint32_t part : decomposed) {
      if (unicode::category(part) == Category::Mn) continue;
      const uint32_t lower = unicode::to_lower(part);
      if (is_bert_punctuation(lower)) {
        finish_word();
        word.push_back(lower);
        finish_word();
      } else {
        word.push_back(lower);
      }
    }
  }
  finish_word();
}

}  // namespace pocket
