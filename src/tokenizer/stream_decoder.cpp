// StreamDecoder: holds back the bytes of an unfinished UTF-8 character between tokens.
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace pocket {

namespace {

constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// Whether bytes [pos, end) are a proper prefix of some valid UTF-8 sequence.
bool could_complete(std::string_view s, size_t pos) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t lead = b(pos);
  const size_t need = unicode::utf8_sequence_length(lead);
  if (need == 1 || lead < 0xC2 || lead > 0xF4) return false;
  const size_t have = s.size() - pos;
  if (have >= need) return false;
  for (size_t i = 1; i < have; ++i) {
    const uint8_t c = b(pos + i);
    if ((c & 0xC0) != 0x80) return false;
    if (i == 1) {  // the second byte also rules out overlong forms and surrogates
      if (lead == 0xE0 && c < 0xA0) return false;
      if (lead == 0xED && c > 0x9F) return false;
      if (lead == 0xF0 && c < 0x90) return false;
      if (lead == 0xF4 && c > 0x8F) return false;
    }
  }
  return true;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tokenizer_.token_to_piece(id, !skip_special_);
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    const auto d = unicode::decode_utf8(pending_, pos);
    if (d.cp == unicode::kReplacement && d.length == 1) {
      if (could_complete(pending_, pos)) break;
      out += kReplacementUtf8;
    } else {
      out.append(pending_, pos, d.length);
    }
    pos += d.length;
  }
  pending_.erase(0, pos);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  for (size_t pos = 0; pos < pending_.size();) {
    const auto d = unicode::decode_utf8(pending_, pos);
    if (d.cp == unicode::kReplacement && d.length == 1) {
      out += kReplacementUtf8;
    } else {
      out.append(pending_, pos, d.length);
    }
    pos += d.length;
  }
  pending_.clear();
  return out;
}

}  // namespace pocket
