// The pre-tokenizer expressions of pretokenizer.h as hand-written matchers. Each matcher
// returns the length (in code points) of the match at position p, or 0, following the
// regex's ordered alternation and greedy backtracking exactly; the split loop then tries
// p+1, as a regex iterator does. Every matcher is linear in what it scans and no failing
// scan is repeated from the next position, so a piece is split in linear time.
#include "tokenizer/pretokenizer.h"

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace pocket {

namespace {

using unicode::Category;

// The text of one piece being split: code points and their flags (unicode::flags).
struct CodePoints {
  std::vector<uint32_t> cp;
  std::vector<uint8_t> fl;
  std::vector<uint32_t> offset;  // byte offset of each code point, plus the end

  Category cat(size_t i) const { return static_cast<Category>(fl[i] & 0x1F); }
  bool space(size_t i) const { return (fl[i] & 0x20) != 0; }
  bool letter(size_t i) const { return unicode::is_letter(cat(i)); }
  bool number(size_t i) const { return unicode::is_number(cat(i)); }
  bool punct(size_t i) const { return unicode::is_punctuation(cat(i)); }
  bool symbol(size_t i) const { return unicode::is_symbol(cat(i)); }
  bool mark(size_t i) const { return unicode::is_mark(cat(i)); }
  bool newline(size_t i) const { return cp[i] == '\r' || cp[i] == '\n'; }
  // [^\s\p{L}\p{N}]
  bool other(size_t i) const { return !space(i) && !letter(i) && !number(i); }
};

template <class Pred>
size_t run(size_t p, size_t end, Pred pred) {
  size_t q = p;
  while (q < end && pred(q)) ++q;
  return q - p;
}

uint32_t ascii_lower(uint32_t c) {
  return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

// 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive (ASCII only, as [sS]).
size_t contraction(const CodePoints& t, size_t p, size_t end, bool ignore_case) {
  if (t.cp[p] != '\'' || p + 1 >= end) return 0;
  const auto norm = [&](size_t i) { return ignore_case ? ascii_lower(t.cp[i]) : t.cp[i]; };
  const uint32_t a = norm(p + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (p + 2 >= end) return 0;
  const uint32_t b = norm(p + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// The three whitespace alternatives shared by most expressions:
// \s*[\r\n]+ (when with_newline_rule) | \s+(?!\S) | \s+
size_t whitespace(const CodePoints& t, size_t p, size_t end, bool with_newline_rule) {
  if (!t.space(p)) return 0;
  const size_t n = run(p, end, [&](size_t i) { return t.space(i); });
  if (with_newline_rule) {
    // \s* backtracks to the last newline of the run; [\r\n]+ then takes it (and no more:
    // a newline after it would have been found first).
    for (size_t i = p + n; i > p; --i) {
      if (t.newline(i - 1)) return i - p;
    }
  }
  if (p + n == end) return n;  // \s+(?!\S) at the end of the piece
  if (n >= 2) return n - 1;    // \s+(?!\S) leaves the last space for the next word
  return n;                    // \s+
}

size_t match_gpt2(const CodePoints& t, size_t p, size_t end) {
  if (size_t n = contraction(t, p, end, false)) return n;
  const bool lead_space = t.cp[p] == ' ' && p + 1 < end;
  const size_t s = lead_space ? p + 1 : p;
  for (int cls = 0; cls < 3; ++cls) {
    const auto pred = [&](size_t i) {
      return cls == 0 ? t.letter(i) : cls == 1 ? t.number(i) : t.other(i);
    };
    if (lead_space && pred(s)) return 1 + run(s, end, pred);
    if (pred(p)) return run(p, end, pred);
  }
  return whitespace(t, p, end, false);
}

// Llama 3 (max_digits 3), Qwen2 (1).
size_t match_llama3(const CodePoints& t, size_t p, size_t end, size_t max_digits) {
  if (size_t n = contraction(t, p, end, true)) return n;
  const auto letter = [&](size_t i) { return t.letter(i); };
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!t.newline(p) && !t.letter(p) && !t.number(p) && p + 1 < end && t.letter(p + 1)) {
    return 1 + run(p + 1, end, letter);
  }
  if (t.letter(p)) return run(p, end, letter);
  if (t.number(p)) {
    const size_t n = run(p, end, [&](size_t i) { return t.number(i); });
    return n < max_digits ? n : max_digits;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  const auto other = [&](size_t i) { return t.other(i); };
  const auto newline = [&](size_t i) { return t.newline(i); };
  if (t.cp[p] == ' ' && p + 1 < end && t.other(p + 1)) {
    const size_t n = 1 + run(p + 1, end, other);
    return n + run(p + n, end, newline);
  }
  if (t.other(p)) {
    const size_t n = run(p, end, other);
    return n + run(p + n, end, newline);
  }
  return whitespace(t, p, end, true);
}

// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+
// |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*
size_t cased_word(const CodePoints& t, size_t p, size_t end) {
  const auto upper = [&](size_t i) {
    const Category c = t.cat(i);
    return c == Category::Lu || c == Category::Lt || c == Category::Lm || c == Category::Lo ||
           unicode::is_mark(c);
  };
  const auto lower = [&](size_t i) {
    const Category c = t.cat(i);
    return c == Category::Ll || c == Category::Lm || c == Category::Lo || unicode::is_mark(c);
  };
  const bool can_prefix = !t.newline(p) && !t.letter(p) && !t.number(p);
  for (int alt = 0; alt < 2; ++alt) {
    for (int with_prefix = 1; with_prefix >= 0; --with_prefix) {
      if (with_prefix && !can_prefix) continue;
      const size_t s = p + with_prefix;
      if (s >= end) continue;
      const size_t u = run(s, end, upper);
      if (alt == 0) {
        for (size_t i = s + u + 1; i > s; --i) {  // U* backtracks until Lw+ can start
          const size_t at = i - 1;
          if (at < end && lower(at)) return at + run(at, end, lower) - p;
        }
      } else if (u > 0) {
        return s + u + run(s + u, end, lower) - p;
      }
    }
  }
  return 0;
}

size_t match_o200k(const CodePoints& t, size_t p, size_t end, bool gpt4o) {
  if (size_t n = cased_word(t, p, end)) {
    if (gpt4o && p + n < end) n += contraction(t, p + n, end, true);
    return n;
  }
  if (t.number(p)) {
    const size_t n = run(p, end, [&](size_t i) { return t.number(i); });
    return gpt4o ? (n < 3 ? n : 3) : 1;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
  const auto other = [&](size_t i) { return t.other(i); };
  const auto tail = [&](size_t i) { return t.newline(i) || t.cp[i] == '/'; };
  if (t.cp[p] == ' ' && p + 1 < end && t.other(p + 1)) {
    const size_t n = 1 + run(p + 1, end, other);
    return n + run(p + n, end, tail);
  }
  if (t.other(p)) {
    const size_t n = run(p, end, other);
    return n + run(p + n, end, tail);
  }
  return whitespace(t, p, end, true);
}

bool ascii_punct(uint32_t c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
         (c >= '{' && c <= '~');
}
bool ascii_letter(uint32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
// | ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t match_deepseek3(const CodePoints& t, size_t p, size_t end) {
  if (ascii_punct(t.cp[p]) && p + 1 < end && ascii_letter(t.cp[p + 1])) {
    return 1 + run(p + 1, end, [&](size_t i) { return ascii_letter(t.cp[i]); });
  }
  const auto letter_mark = [&](size_t i) { return t.letter(i) || t.mark(i); };
  if (!t.newline(p) && !t.letter(p) && !t.punct(p) && !t.symbol(p) && p + 1 < end &&
      letter_mark(p + 1)) {
    return 1 + run(p + 1, end, letter_mark);
  }
  if (letter_mark(p)) return run(p, end, letter_mark);
  const auto ps = [&](size_t i) { return t.punct(i) || t.symbol(i); };
  const auto newline = [&](size_t i) { return t.newline(i); };
  if (t.cp[p] == ' ' && p + 1 < end && ps(p + 1)) {
    const size_t n = 1 + run(p + 1, end, ps);
    return n + run(p + n, end, newline);
  }
  if (ps(p)) {
    const size_t n = run(p, end, ps);
    return n + run(p + n, end, newline);
  }
  return whitespace(t, p, end, true);
}

// \s?X+ for a class X.
template <class Pred>
size_t space_then_run(const CodePoints& t, size_t p, size_t end, Pred pred) {
  if (t.space(p) && p + 1 < end && pred(p + 1)) return 1 + run(p + 1, end, pred);
  return pred(p) ? run(p, end, pred) : 0;
}

bool in_cjk_hangul(uint32_t c) {
  return (c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF);
}
bool in_cjk_kana(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x3040 && c <= 0x30FF);
}
bool in_deepseek_punct(uint32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) || (c >= 0xFF01 && c <= 0xFF0F) ||
         (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) ||
         (c >= 0x3000 && c <= 0x3002);
}
bool bloom_stop(const CodePoints& t, size_t i) {
  switch (t.cp[i]) {
    case '(':
    case ')':
    case '|':
    case '.':
    case ',':
    case '!':
    case '?':
    case 0x2026:
    case 0x3002:
    case 0xFF0C:
    case 0x3001:
    case 0x0964:
    case 0x06D4:
    case 0x060C:
      return true;
    default:
      return t.space(i);
  }
}

size_t match_stage(PreStage stage, const CodePoints& t, size_t p, size_t end, size_t begin) {
  switch (stage) {
    case PreStage::Gpt2:
      return match_gpt2(t, p, end);
    case PreStage::Llama3:
      return match_llama3(t, p, end, 3);
    case PreStage::Qwen2:
      return match_llama3(t, p, end, 1);
    case PreStage::Tekken:
      return match_o200k(t, p, end, false);
    case PreStage::Gpt4o:
      return match_o200k(t, p, end, true);
    case PreStage::Deepseek3Main:
      return match_deepseek3(t, p, end);
    case PreStage::OneNumber:
      return t.number(p) ? 1 : 0;
    case PreStage::NumberRun:
      return run(p, end, [&](size_t i) { return t.number(i); });
    case PreStage::NumberUpTo3: {
      const size_t n = run(p, end, [&](size_t i) { return t.number(i); });
      return n < 3 ? n : 3;
    }
    case PreStage::ThreeAsciiDigits: {
      const auto digit = [&](size_t i) { return t.cp[i] >= '0' && t.cp[i] <= '9'; };
      return (p + 3 <= end && digit(p) && digit(p + 1) && digit(p + 2)) ? 3 : 0;
    }
    case PreStage::PunctRunFalcon:
    case PreStage::PunctRunDefault: {
      const bool backtick = stage == PreStage::PunctRunFalcon;
      return run(p, end, [&](size_t i) {
        const uint32_t c = t.cp[i];
        return t.punct(i) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' ||
               c == '~' || c == '|' || (backtick && c == '`');
      });
    }
    case PreStage::Newline:
      return t.newline(p) ? 1 : 0;
    case PreStage::SpaceLetters:
      return space_then_run(t, p, end, [&](size_t i) { return t.letter(i); });
    case PreStage::SpaceCasedLetters:
      return space_then_run(t, p, end, [&](size_t i) {
        const Category c = t.cat(i);
        return c == Category::Lu || c == Category::Ll || c == Category::Lt;
      });
    case PreStage::SpacePunct:
      return space_then_run(t, p, end, [&](size_t i) { return t.punct(i); });
    case PreStage::SpaceAsciiPunct:
      return space_then_run(t, p, end, [&](size_t i) { return in_deepseek_punct(t.cp[i]); });
    case PreStage::TrailingSpace: {
      // A run that did not reach the end from its first space cannot from a later one.
      if (!t.space(p) || (p > begin && t.space(p - 1))) return 0;
      const size_t n = run(p, end, [&](size_t i) { return t.space(i); });
      return p + n == end ? n : 0;
    }
    case PreStage::CjkHangul:
      return run(p, end, [&](size_t i) { return in_cjk_hangul(t.cp[i]); });
    case PreStage::CjkKana:
      return run(p, end, [&](size_t i) { return in_cjk_kana(t.cp[i]); });
    case PreStage::Bloom: {
      const auto keep = [&](size_t i) { return !bloom_stop(t, i); };
      if (t.cp[p] == ' ' && p + 1 < end && keep(p + 1)) return 1 + run(p + 1, end, keep);
      return keep(p) ? run(p, end, keep) : 0;
    }
  }
  return 0;
}

}  // namespace

PreTokenizer PreTokenizer::from_name(std::string_view name, const std::string& where) {
  using S = PreStage;
  PreTokenizer pre;
  const auto is = [&](std::initializer_list<std::string_view> names) {
    for (auto n : names) {
      if (name == n) return true;
    }
    return false;
  };
  if (is({"default"})) {
    pre.stages_ = {S::PunctRunDefault, S::Gpt2, S::NumberRun, S::ThreeAsciiDigits};
  } else if (is({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "dbrx",
                 "smaug-bpe", "chatglm-bpe"})) {
    pre.stages_ = {S::Llama3};
    pre.ignore_merges_ = !is({"dbrx", "smaug-bpe", "chatglm-bpe"});
  } else if (is({"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"})) {
    pre.stages_ = {S::Qwen2};
  } else if (is({"deepseek-llm"})) {
    pre.stages_ = {S::Newline,       S::SpaceCasedLetters, S::SpaceAsciiPunct,
                   S::TrailingSpace, S::CjkHangul,         S::NumberRun};
  } else if (is({"deepseek-coder"})) {
    pre.stages_ = {S::Newline, S::SpaceLetters, S::SpacePunct, S::CjkHangul, S::OneNumber};
  } else if (is({"deepseek-v3"})) {
    pre.stages_ = {S::NumberUpTo3, S::CjkKana, S::Deepseek3Main};
  } else if (is({"falcon"})) {
    pre.stages_ = {S::PunctRunFalcon, S::Gpt2, S::ThreeAsciiDigits};
  } else if (is({"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone",
                 "minerva-7b"})) {
    pre.stages_ = {S::OneNumber, S::Gpt2};
  } else if (is({"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "gpt-neox", "jais", "roberta-bpe",
                 "jina-es", "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code",
                 "gigachat", "trillion"})) {
    pre.stages_ = {S::Gpt2};
  } else if (is({"bloom", "poro-chat", "gpt3-finnish"})) {
    pre.stages_ = {S::Bloom};
  } else if (is({"viking"})) {
    pre.stages_ = {S::Bloom, S::OneNumber};
  } else if (is({"tekken"})) {
    pre.stages_ = {S::Tekken};
    pre.ignore_merges_ = true;
  } else if (is({"gpt-4o"})) {
    pre.stages_ = {S::Gpt4o};
  } else {
    fail(where, ": unknown BPE pre-tokenizer '", name,
         "' in tokenizer.ggml.pre (known: default, gpt-2, llama-bpe, qwen2, deepseek-llm, "
         "deepseek-coder, deepseek-v3, falcon, starcoder, refact, mpt, gpt-neox, smollm, "
         "command-r, tekken, phi-2, olmo, bloom, poro-chat, stablelm2, dbrx, chatglm-bpe, ...)");
  }
  return pre;
}

void PreTokenizer::split(std::string_view text,
                         std::vector<std::pair<uint32_t, uint32_t>>& words) const {
  words.clear();
  if (text.empty()) return;
  thread_local CodePoints t;
  t.cp.clear();
  t.fl.clear();
  t.offset.clear();
  for (size_t pos = 0; pos < text.size();) {
    const auto d = unicode::decode_utf8(text, pos);
    t.cp.push_back(d.cp);
    t.fl.push_back(unicode::flags(d.cp));
    t.offset.push_back(static_cast<uint32_t>(pos));
    pos += d.length;
  }
  t.offset.push_back(static_cast<uint32_t>(text.size()));

  // Pieces as code point ranges; each stage splits them further.
  std::vector<std::pair<uint32_t, uint32_t>> pieces{{0, static_cast<uint32_t>(t.cp.size())}};
  std::vector<std::pair<uint32_t, uint32_t>> next;
  for (PreStage stage : stages_) {
    next.clear();
    for (auto [begin, end] : pieces) {
      size_t p = begin, gap = begin;
      while (p < end) {
        const size_t n = match_stage(stage, t, p, end, begin);
        if (n == 0) {
          ++p;
          continue;
        }
        if (gap < p) next.emplace_back(gap, p);
        next.emplace_back(p, p + n);
        p += n;
        gap = p;
      }
      if (gap < end) next.emplace_back(gap, end);
    }
    pieces.swap(next);
  }
  words.reserve(pieces.size());
  for (auto [begin, end] : pieces) words.emplace_back(t.offset[begin], t.offset[end]);
}

}  // namespace pocket
