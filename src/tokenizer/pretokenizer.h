// Byte-level BPE pre-tokenizers: the regular expressions that tokenizer.ggml.pre names,
// written as hand matchers over Unicode categories (no std::regex: it has no \p{..} and is
// slow). A pre-tokenizer is a list of stages applied in turn, as llama.cpp does: each stage
// splits every piece from the stage before into its matches and the gaps between them, and
// lookaheads and `$` see only the piece they run on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pocket {

enum class PreStage : uint8_t {
  Gpt2,               // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Llama3,             // (?i:'s|..)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
                      // ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Qwen2,              // as Llama3 with \p{N} (one digit per piece)
  Tekken,             // o200k-style case-aware letters, \p{N}, ` ?[^\s\p{L}\p{N}]+[\r\n/]*`, spaces
  Gpt4o,              // Tekken with \p{N}{1,3} and optional contraction suffixes
  Deepseek3Main,      // the third DeepSeek-V3 expression
  OneNumber,          // \p{N}
  NumberRun,          // \p{N}+
  NumberUpTo3,        // \p{N}{1,3}
  ThreeAsciiDigits,   // [0-9][0-9][0-9]
  PunctRunFalcon,     // [\p{P}\$\+<=>\^~\|`]+
  PunctRunDefault,    // [\p{P}\$\+<=>\^~\|]+
  Newline,            // [\r\n]
  SpaceLetters,       // \s?\p{L}+
  SpaceCasedLetters,  // \s?[cased letters: Lu Ll Lt]+
  SpacePunct,         // \s?\p{P}+
  SpaceAsciiPunct,    // \s?[!-/:-~！-／：-～‘-‟　-。]+
  TrailingSpace,      // \s+$
  CjkHangul,          // [一-龥ࠀ-一가-퟿]+
  CjkKana,            // [一-龥぀-ゟ゠-ヿ]+
  Bloom,              //  ?[^(\s|.,!?…。，、।۔،)]+
};

class PreTokenizer {
 public:
  // Throws pocket::Error for an unknown name (`where` names the file in the message).
  static PreTokenizer from_name(std::string_view name, const std::string& where);

  // Splits text into words, as [begin, end) byte ranges that tile the text.
  void split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& words) const;

  bool ignore_merges() const { return ignore_merges_; }

 private:
  std::vector<PreStage> stages_;
  bool ignore_merges_ = false;
};

}  // namespace pocket
