// The tokenizer.* metadata of a synthetic model: copied from a GGUF file that has a real
// vocabulary, or built from a Hugging Face tokenizer.json (BPE models), padded with unused
// "[PADn]" tokens up to the model's n_vocab as real checkpoints with rounded-up embedding
// tables (Qwen) are. Used by synth.cpp only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf.h"

namespace pocket::quantize {

struct VocabMetadata {
  std::vector<std::pair<std::string, gguf::Value>> kv;  // tokenizer.* keys, in file order
  std::shared_ptr<const gguf::File> backing;            // keeps copied string views valid
  int64_t n_tokens = 0;                                 // after padding
};

// Copies tokenizer.* from `path`, padded to n_vocab. Throws if it has more tokens than that.
VocabMetadata vocab_from_gguf(const std::string& path, int64_t n_vocab);

// Builds tokenizer.* from a tokenizer.json (and tokenizer_config.json beside it, if any, for
// BOS/EOS and the chat template). `pre` is the pre-tokenizer name to record.
VocabMetadata vocab_from_tokenizer_json(const std::string& path, const std::string& pre,
                                        int64_t n_vocab);

}  // namespace pocket::quantize
