// Lookups into the generated Unicode tables, and UTF-8 decoding/encoding.
#include "tokenizer/unicode.h"

#include <algorithm>

#include "tokenizer/unicode_tables.h"

namespace pocket::unicode {

namespace {
// Hangul syllables decompose algorithmically (Unicode 3.12), so they are not in the tables.
constexpr uint32_t kHangulBase = 0xAC00, kHangulCount = 11172;
constexpr uint32_t kLeadBase = 0x1100, kVowelBase = 0x1161, kTrailBase = 0x11A7;
constexpr uint32_t kVowelCount = 21, kTrailCount = 28;
}  // namespace

uint8_t flags(uint32_t cp) {
  if (cp >= 0x110000) return static_cast<uint8_t>(Category::Cn);
  return tables::kStage2[size_t(tables::kStage1[cp >> 8]) * 256 + (cp & 0xFF)];
}

uint32_t to_lower(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  const auto* end = tables::kLowercase + tables::kLowercaseCount;
  const auto* it =
      std::lower_bound(tables::kLowercase, end, cp,
                       [](const tables::CodePointPair& p, uint32_t v) { return p.from < v; });
  return (it != end && it->from == cp) ? it->to : cp;
}

void append_nfd(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp < 0xC0) {
    out.push_back(cp);
    return;
  }
  if (cp >= kHangulBase && cp < kHangulBase + kHangulCount) {
    const uint32_t s = cp - kHangulBase;
    out.push_back(kLeadBase + s / (kVowelCount * kTrailCount));
    out.push_back(kVowelBase + (s % (kVowelCount * kTrailCount)) / kTrailCount);
    if (s % kTrailCount != 0) out.push_back(kTrailBase + s % kTrailCount);
    return;
  }
  const auto* end = tables::kDecompositions + tables::kDecompositionCount;
  const auto* it =
      std::lower_bound(tables::kDecompositions, end, cp,
                       [](const tables::Decomposition& d, uint32_t v) { return d.code_point < v; });
  if (it == end || it->code_point != cp) {
    out.push_back(cp);
    return;
  }
  out.insert(out.end(), tables::kDecompositionData + it->offset,
             tables::kDecompositionData + it->offset + it->length);
}

Decoded decode_utf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return {lead, 1};
  const size_t n = utf8_sequence_length(lead);
  if (n == 1 || pos + n > text.size()) return {kReplacement, 1};
  uint32_t cp = lead & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    const uint8_t c = byte(pos + i);
    if ((c & 0xC0) != 0x80) return {kReplacement, 1};
    cp = (cp << 6) | (c & 0x3F);
  }
  static constexpr uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return {kReplacement, 1};
  }
  return {cp, static_cast<uint32_t>(n)};
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace pocket::unicode
