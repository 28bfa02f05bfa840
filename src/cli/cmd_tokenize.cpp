// `pocket tokenize`: shows how a model's vocabulary splits text, as generation would
// (BOS/EOS per the vocabulary, special-token text parsed) unless told otherwise.
// Prints "id<TAB>'piece'" per token, with control characters and bytes that are not valid
// UTF-8 escaped (\n, \t, \xNN) so that every token stays on one line; --ids prints [a, b].
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace pocket::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  std::string text_file;
  bool ids_only = false;
  bool no_add_special = false;
  bool no_parse_special = false;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open text file");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return s.str();
}

std::string escape_piece(const std::string& piece) {
  std::string out;
  for (size_t pos = 0; pos < piece.size();) {
    const auto d = unicode::decode_utf8(piece, pos);
    const auto byte = static_cast<unsigned char>(piece[pos]);
    if (d.cp == unicode::kReplacement && d.length == 1) {
      out += cat("\\x", "0123456789abcdef"[byte >> 4], "0123456789abcdef"[byte & 15]);
    } else if (d.cp == '\n') {
      out += "\\n";
    } else if (d.cp == '\t') {
      out += "\\t";
    } else if (d.cp == '\r') {
      out += "\\r";
    } else if (d.cp == '\\') {
      out += "\\\\";
    } else if (d.cp < 0x20 || d.cp == 0x7F) {
      out += cat("\\x", "0123456789abcdef"[byte >> 4], "0123456789abcdef"[byte & 15]);
    } else {
      out.append(piece, pos, d.length);
    }
    pos += d.length;
  }
  return out;
}

void run_tokenize(const TokenizeOptions& opt) {
  if (!opt.text_file.empty() && !opt.text.empty()) fail("tokenize: give TEXT or -f FILE, not both");
  const std::string text = opt.text_file.empty() ? opt.text : read_bytes(opt.text_file);
  const auto file = gguf::File::open(opt.model);
  const auto tokenizer = Tokenizer::from_gguf(file);
  const auto ids = tokenizer->encode(text, !opt.no_add_special, !opt.no_parse_special);
  std::string out;
  if (opt.ids_only) {
    out += "[";
    for (size_t i = 0; i < ids.size(); ++i) out += cat(i ? ", " : "", ids[i]);
    out += "]\n";
  } else {
    for (int32_t id : ids) {
      out += cat(id, "\t'", escape_piece(tokenizer->token_to_piece(id, true)), "'\n");
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void setup(CLI::App& app) {
  auto opt = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Split text into the tokens of a model's vocabulary");
  cmd->add_option("-m,--model", opt->model, "GGUF model or vocabulary file")->required();
  cmd->add_option("-f,--file", opt->text_file, "read the text from this file, byte for byte");
  cmd->add_option("text", opt->text, "the text to tokenize");
  cmd->add_flag("--ids", opt->ids_only, "print only the ids, as [id, id, ...]");
  cmd->add_flag("--no-add-special", opt->no_add_special, "do not add BOS/EOS ([CLS]/[SEP])");
  cmd->add_flag("--no-parse-special", opt->no_parse_special,
                "treat special-token text such as <|im_start|> as plain text");
  cmd->callback([opt] { run_tokenize(*opt); });
}

CommandRegistrar registrar(setup);

}  // namespace
}  // namespace pocket::cli
