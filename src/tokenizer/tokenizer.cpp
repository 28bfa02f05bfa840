// Tokenizer: loading the tokenizer.ggml.* metadata, splitting text around special tokens,
// dispatching raw text to the SPM/BPE/WordPiece encoder, and detokenizing.
// Special-token handling follows llama.cpp so that ids match its reference data: special
// tokens are searched longest first over the whole text, user-defined tokens are always
// recognised, and SPM adds its prefix space to every text fragment after a special token.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace pocket {

void TokenTexts::build_index() {
  size_t capacity = 16;
  while (capacity < 2 * size()) capacity *= 2;  // load factor <= 1/2
  slots_.assign(capacity, -1);
  const size_t mask = capacity - 1;
  for (size_t id = 0; id < size(); ++id) {
    const std::string_view text = (*this)[id];
    for (size_t at = std::hash<std::string_view>{}(text) & mask;; at = (at + 1) & mask) {
      if (slots_[at] < 0 || (*this)[static_cast<size_t>(slots_[at])] == text) {
        slots_[at] = static_cast<int32_t>(id);  // a later duplicate replaces the earlier id
        break;
      }
    }
  }
}

int32_t TokenTexts::find(std::string_view text) const {
  if (slots_.empty()) return -1;
  const size_t mask = slots_.size() - 1;
  for (size_t at = std::hash<std::string_view>{}(text) & mask;; at = (at + 1) & mask) {
    const int32_t id = slots_[at];
    if (id < 0) return -1;
    if ((*this)[static_cast<size_t>(id)] == text) return id;
  }
}

void Tokenizer::Impl::MergeTable::reserve(size_t n) {
  size_t capacity = 16;
  while (capacity * 7 < n * 10) capacity *= 2;  // load factor <= 0.7
  slots_.assign(capacity, Slot{0, Merge{}});
  used_ = 0;
}

void Tokenizer::Impl::MergeTable::insert(uint64_t key, Merge m) {
  if ((used_ + 1) * 10 > slots_.size() * 7) {
    std::vector<Slot> old = std::move(slots_);
    reserve(2 * (used_ + 1));
    for (const Slot& e : old) {
      if (e.merge.rank >= 0) insert(e.key, e.merge);
    }
  }
  const size_t mask = slots_.size() - 1;
  for (size_t at = hash(key) & mask;; at = (at + 1) & mask) {
    Slot& e = slots_[at];
    if (e.merge.rank < 0) {
      e = Slot{key, m};
      ++used_;
      return;
    }
    if (e.key == key) return;
  }
}

const Tokenizer::Impl::Merge* Tokenizer::Impl::MergeTable::find(uint64_t key) const {
  if (slots_.empty()) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t at = hash(key) & mask;; at = (at + 1) & mask) {
    const Slot& e = slots_[at];
    if (e.merge.rank < 0) return nullptr;
    if (e.key == key) return &e.merge;
  }
}

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SPM's escaped space

// Texts llama.cpp recognises as end-of-turn / end-of-generation tokens.
constexpr std::string_view kEotTexts[] = {"<|eot_id|>",
                                          "<|im_end|>",
                                          "<|end|>",
                                          "<end_of_turn>",
                                          "<|endoftext|>",
                                          "<EOT>",
                                          "_<EOT>",
                                          "<\xEF\xBD\x9C"
                                          "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"};
constexpr std::string_view kEogTexts[] = {"<|eot_id|>",    "<|im_end|>", "<|end|>", "<end_of_turn>",
                                          "<|endoftext|>", "<|eom_id|>", "<EOT>",   "_<EOT>"};

int32_t optional_id(const gguf::File& file, std::string_view key, int32_t n_vocab) {
  if (!file.has(key)) return -1;
  const int64_t v = file.get_int(key);
  if (v < 0 || v >= n_vocab) return -1;  // e.g. 4294967295 meaning "none"
  return static_cast<int32_t>(v);
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_special_type(TokenType t) {
  return t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown;
}

// A piece of the input: raw text [begin, end) or a special token.
struct Fragment {
  int32_t token;  // -1 for raw text
  size_t begin, end;
};

bool is_space_byte(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Splits the text at every occurrence of each special token, longest token first.
std::vector<Fragment> partition(const Tokenizer::Impl& v, std::string_view text,
                                bool parse_special) {
  std::vector<Fragment> fragments;
  if (!text.empty()) fragments.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t id : v.specials) {
    const TokenType type = v.types[id];
    if (!parse_special && type != TokenType::UserDefined) continue;
    const std::string_view special = v.texts[id];
    bool any = false;
    for (const Fragment& f : fragments) {
      if (f.token < 0 &&
          text.substr(f.begin, f.end - f.begin).find(special) != std::string_view::npos) {
        any = true;
        break;
      }
    }
    if (!any) continue;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t begin = f.begin;
      while (begin < f.end) {
        const size_t match = text.substr(0, f.end).find(special, begin);
        if (match == std::string_view::npos) break;
        size_t left_end = match;
        if (v.lstrip[id]) {
          while (left_end > begin && is_space_byte(text[left_end - 1])) --left_end;
        }
        if (left_end > begin) next.push_back({-1, begin, left_end});
        next.push_back({id, match, match + special.size()});
        begin = match + special.size();
        if (v.rstrip[id]) {
          while (begin < f.end && is_space_byte(text[begin])) ++begin;
        }
      }
      if (begin < f.end) next.push_back({-1, begin, f.end});
    }
    fragments.swap(next);
  }
  return fragments;
}

void check_id(const Tokenizer::Impl& v, int32_t id) {
  if (id < 0 || id >= static_cast<int32_t>(v.texts.size())) {
    fail(v.path, ": token id ", id, " is out of range [0, ", v.texts.size(), ")");
  }
}

// "<0xAB>" -> 0xAB, or -1.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = text[i];
    value *= 16;
    if (c >= '0' && c <= '9')
      value += c - '0';
    else if (c >= 'A' && c <= 'F')
      value += c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      value += c - 'a' + 10;
    else
      return -1;
  }
  return value;
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  auto v = std::make_unique<Impl>();
  v->path = file.path();
  v->model_name = std::string(file.get_string("tokenizer.ggml.model"));
  if (v->model_name == "llama") {
    v->kind = VocabKind::Spm;
  } else if (v->model_name == "gpt2") {
    v->kind = VocabKind::Bpe;
  } else if (v->model_name == "bert") {
    v->kind = VocabKind::WordPiece;
  } else {
    fail(v->path, ": tokenizer.ggml.model is '", v->model_name,
         "', expected one of llama, gpt2, bert");
  }

  const gguf::Array& tokens = file.get_array("tokenizer.ggml.tokens");
  if (tokens.elem_type != gguf::ValueType::STRING) {
    fail(v->path, ": tokenizer.ggml.tokens has element type ",
         gguf::value_type_name(tokens.elem_type), ", expected string");
  }
  if (tokens.size() == 0 || tokens.size() > 0x7FFFFFFF) {
    fail(v->path, ": tokenizer.ggml.tokens has ", tokens.size(), " entries");
  }
  const auto n_vocab = static_cast<int32_t>(tokens.size());
  const auto check_size = [&](const gguf::Array* a, std::string_view key) {
    if (a && a->size() != tokens.size()) {
      fail(v->path, ": ", key, " has ", a->size(), " entries, expected ", tokens.size(),
           " (one per token)");
    }
  };
  const gguf::Array* scores = file.find_array("tokenizer.ggml.scores");
  const gguf::Array* types = file.find_array("tokenizer.ggml.token_type");
  check_size(scores, "tokenizer.ggml.scores");
  check_size(types, "tokenizer.ggml.token_type");

  v->scores.assign(tokens.size(), 0.0f);
  v->types.assign(tokens.size(), TokenType::Normal);
  for (int32_t i = 0; i < n_vocab; ++i) {
    const std::string_view text = tokens.get_string(i);
    v->texts.push_back(text);
    v->max_token_length = std::max(v->max_token_length, text.size());
    if (scores) v->scores[i] = static_cast<float>(scores->get_float(i));
    if (types) {
      const int64_t t = types->get_int(i);
      v->types[i] = (t >= 0 && t <= 6) ? static_cast<TokenType>(t) : TokenType::Normal;
    }
  }
  v->texts.build_index();

  // Special tokens and flags. Defaults follow llama.cpp for each kind.
  if (v->kind == VocabKind::Spm) {
    v->bos = 1, v->eos = 2, v->unk = 0;
    v->add_bos = true, v->add_space_prefix = true;
  } else if (v->kind == VocabKind::WordPiece) {
    v->bos = 101, v->eos = 102, v->unk = 100;
    v->add_bos = true, v->add_eos = true;
  }
  if (v->kind == VocabKind::WordPiece) {
    if (file.has("tokenizer.ggml.cls_token_id"))
      v->bos = optional_id(file, "tokenizer.ggml.cls_token_id", n_vocab);
    if (file.has("tokenizer.ggml.seperator_token_id"))
      v->eos = optional_id(file, "tokenizer.ggml.seperator_token_id", n_vocab);
  }
  if (file.has("tokenizer.ggml.bos_token_id"))
    v->bos = optional_id(file, "tokenizer.ggml.bos_token_id", n_vocab);
  if (file.has("tokenizer.ggml.eos_token_id"))
    v->eos = optional_id(file, "tokenizer.ggml.eos_token_id", n_vocab);
  if (file.has("tokenizer.ggml.unknown_token_id"))
    v->unk = optional_id(file, "tokenizer.ggml.unknown_token_id", n_vocab);
  if (v->bos >= n_vocab) v->bos = -1;
  if (v->eos >= n_vocab) v->eos = -1;
  if (v->unk >= n_vocab) v->unk = -1;
  v->eot = optional_id(file, "tokenizer.ggml.eot_token_id", n_vocab);
  v->eom = optional_id(file, "tokenizer.ggml.eom_token_id", n_vocab);
  v->add_bos = file.get_bool("tokenizer.ggml.add_bos_token", v->add_bos);
  v->add_eos = file.get_bool("tokenizer.ggml.add_eos_token", v->add_eos);
  v->add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix", v->add_space_prefix);

  if (v->eot < 0) {
    for (std::string_view text : kEotTexts) {
      const int32_t id = v->find(text);
      if (id >= 0) {
        v->eot = id;
        break;
      }
    }
  }
  if (v->eom < 0) v->eom = v->find("<|eom_id|>");
  for (int32_t id : {v->eos, v->eot, v->eom}) {
    if (id >= 0) v->eog.push_back(id);
  }
  for (std::string_view text : kEogTexts) {
    const int32_t id = v->find(text);
    if (id >= 0 && v->types[id] == TokenType::Control) v->eog.push_back(id);
  }
  std::sort(v->eog.begin(), v->eog.end());
  v->eog.erase(std::unique(v->eog.begin(), v->eog.end()), v->eog.end());

  for (int32_t i = 0; i < n_vocab; ++i) {
    if (is_special_type(v->types[i]) && !v->texts[i].empty()) v->specials.push_back(i);
  }
  std::stable_sort(v->specials.begin(), v->specials.end(),
                   [&](int32_t a, int32_t b) { return v->texts[a].size() > v->texts[b].size(); });
  v->lstrip.assign(tokens.size(), 0);
  v->rstrip.assign(tokens.size(), 0);
  // llama.cpp strips whitespace after Phi-3's special tokens (its HF tokenizer does so).
  const std::string name = lowercase(file.get_string("general.name", ""));
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : v->specials) v->rstrip[id] = 1;
    if (int32_t id = v->find("</s>"); id >= 0) v->rstrip[id] = 1;
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (int32_t id = v->find(text); id >= 0) v->rstrip[id] = 0;
    }
  }

  v->byte_tokens.fill(-1);
  v->byte_symbol.fill(-1);
  if (v->kind == VocabKind::Spm) {
    v->spm_split_before_space = true;
    for (int32_t i = 0; i < n_vocab; ++i) {
      const std::string_view text = v->texts[i];
      for (size_t at = text.find(kSpaceMarker, 1); at != std::string::npos;
           at = text.find(kSpaceMarker, at + 1)) {
        if (at < kSpaceMarker.size() ||
            text.compare(at - kSpaceMarker.size(), kSpaceMarker.size(), kSpaceMarker) != 0) {
          v->spm_split_before_space = false;
        }
      }
    }
    for (int32_t i = 0; i < n_vocab; ++i) {
      if (v->types[i] != TokenType::Byte) continue;
      const int b = parse_byte_token(v->texts[i]);
      if (b >= 0 && v->byte_tokens[b] < 0) v->byte_tokens[b] = i;
    }
  } else if (v->kind == VocabKind::Bpe) {
    init_byte_mapping(*v);
    std::string s;
    for (int b = 0; b < 256; ++b) {
      s.clear();
      unicode::append_utf8(v->byte_to_cp[b], s);
      v->byte_symbol[b] = v->find(s);
    }
    v->pre_name = std::string(file.get_string("tokenizer.ggml.pre", "default"));
    v->pre = PreTokenizer::from_name(v->pre_name, v->path);
    const gguf::Array& merges = file.get_array("tokenizer.ggml.merges");
    if (merges.elem_type != gguf::ValueType::STRING) {
      fail(v->path, ": tokenizer.ggml.merges has element type ",
           gguf::value_type_name(merges.elem_type), ", expected string");
    }
    v->merges.reserve(merges.size());
    std::string joined;
    for (size_t i = 0; i < merges.size(); ++i) {
      const std::string_view m = merges.get_string(i);
      const size_t space = m.find(' ', 1);
      if (space == std::string_view::npos) {
        fail(v->path, ": tokenizer.ggml.merges[", i, "] is '", m, "', expected 'left right'");
      }
      const int32_t left = v->find(m.substr(0, space));
      const int32_t right = v->find(m.substr(space + 1));
      if (left < 0 || right < 0) continue;
      joined.assign(m.substr(0, space));
      joined.append(m.substr(space + 1));
      const uint64_t key =
          (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
      v->merges.insert(key, Impl::Merge{static_cast<int32_t>(i), v->find(joined)});
    }
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(v)));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Impl& v = *impl_;
  std::vector<int32_t> out;
  if (add_special && v.add_bos && v.bos >= 0) out.push_back(v.bos);
  bool prev_special = true;  // SPM: the first fragment gets the prefix space too
  std::string escaped;
  for (const Fragment& f : partition(v, text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    const std::string_view raw = text.substr(f.begin, f.end - f.begin);
    switch (v.kind) {
      case VocabKind::Spm:
        escaped.clear();
        if (v.add_space_prefix && prev_special) escaped = kSpaceMarker;
        for (char c : raw) {
          if (c == ' ') {
            escaped += kSpaceMarker;
          } else {
            escaped += c;
          }
        }
        spm_encode(v, escaped, out);
        break;
      case VocabKind::Bpe:
        bpe_encode(v, raw, out);
        break;
      case VocabKind::WordPiece:
        wordpiece_encode(v, raw, out);
        break;
    }
    prev_special = false;
  }
  if (add_special && v.add_eos && v.eos >= 0) out.push_back(v.eos);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
  const Impl& v = *impl_;
  check_id(v, id);
  const std::string_view text = v.texts[id];
  switch (v.types[id]) {
    case TokenType::Control:
    case TokenType::Unknown:
      return special ? std::string(text) : std::string();
    case TokenType::UserDefined:
      return std::string(text);
    case TokenType::Unused:
      return std::string();
    case TokenType::Byte: {
      const int b = parse_byte_token(text);
      if (b >= 0) return std::string(1, static_cast<char>(b));
      return std::string(text);
    }
    case TokenType::Normal:
    case TokenType::Undefined:
      break;
  }
  std::string out;
  if (v.kind == VocabKind::Bpe) {
    // Undo the GPT-2 byte mapping; characters outside it are kept as they are.
    for (size_t pos = 0; pos < text.size();) {
      const auto d = unicode::decode_utf8(text, pos);
      auto it = v.cp_to_byte.find(d.cp);
      if (it != v.cp_to_byte.end() && d.cp != unicode::kReplacement) {
        out.push_back(static_cast<char>(it->second));
      } else {
        out.append(text, pos, d.length);
      }
      pos += d.length;
    }
    return out;
  }
  // SPM and WordPiece: U+2581 is a space.
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, kSpaceMarker.size(), kSpaceMarker) == 0) {
      out.push_back(' ');
      pos += kSpaceMarker.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const Impl& v = *impl_;
  for (int32_t id : ids) check_id(v, id);
  if (skip_special && v.add_bos && !ids.empty() && ids.front() == v.bos) ids = ids.subspan(1);
  if (skip_special && v.add_eos && !ids.empty() && ids.back() == v.eos) {
    ids = ids.subspan(0, ids.size() - 1);
  }
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    std::string piece = token_to_piece(id, !skip_special);
    // The prefix space SPM added while encoding (llama.cpp strips it from the first token).
    if (first && v.kind == VocabKind::Spm && v.add_space_prefix && !piece.empty() &&
        piece[0] == ' ') {
      piece.erase(0, 1);
    }
    first = false;
    out += piece;
  }
  return out;
}

int32_t Tokenizer::n_vocab() const {
  return static_cast<int32_t>(impl_->texts.size());
}
int32_t Tokenizer::bos() const {
  return impl_->bos;
}
int32_t Tokenizer::eos() const {
  return impl_->eos;
}
int32_t Tokenizer::eot() const {
  return impl_->eot;
}
int32_t Tokenizer::unk() const {
  return impl_->unk;
}
bool Tokenizer::add_bos() const {
  return impl_->add_bos;
}
bool Tokenizer::add_eos() const {
  return impl_->add_eos;
}
bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(impl_->eog.begin(), impl_->eog.end(), id);
}
TokenType Tokenizer::token_type(int32_t id) const {
  check_id(*impl_, id);
  return impl_->types[id];
}
std::string_view Tokenizer::token_text(int32_t id) const {
  check_id(*impl_, id);
  return impl_->texts[id];
}
int32_t Tokenizer::find_token(std::string_view text) const {
  return impl_->find(text);
}
std::string_view Tokenizer::model_name() const {
  return impl_->model_name;
}
std::string_view Tokenizer::pre() const {
  return impl_->pre_name;
}

}  // namespace pocket
