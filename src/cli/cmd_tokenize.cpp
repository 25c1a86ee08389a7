// frugal tokenize: text -> token ids (JSON array), using only the file's metadata or a
// Hugging Face tokenizer (directory, tokenizer.json, or .json.gz / .json.xz).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "cli/common.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {

void add_tokenize_command(CLI::App& app) {
  struct Options {
    std::string model, tokenizer, prompt, file;
    bool no_bos = false, no_parse_special = false, pieces = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  auto* m = cmd->add_option("-m,--model", o->model, "GGUF file (a vocab-only file is enough)");
  auto* t = cmd->add_option("--tokenizer", o->tokenizer,
                            "Hugging Face tokenizer: a directory with tokenizer.json (+ tokenizer_config.json) or the "
                            "tokenizer.json itself");
  m->excludes(t);
  auto* p = cmd->add_option("-p,--prompt", o->prompt, "text to tokenize");
  auto* f = cmd->add_option("-f,--file", o->file, "read the text from a file");
  p->excludes(f);
  cmd->add_flag("--no-bos", o->no_bos, "do not add BOS/EOS as the vocabulary would");
  cmd->add_flag("--no-parse-special", o->no_parse_special, "treat special-token text as plain text");
  cmd->add_flag("--pieces", o->pieces, "print [id, piece] pairs instead of ids");
  cmd->callback([o] {
    if (o->prompt.empty() && o->file.empty()) fail("give the text with -p or -f");
    const std::string text = o->file.empty() ? o->prompt : read_text_file(o->file);
    std::unique_ptr<Tokenizer> tok;
    if (!o->tokenizer.empty()) {
      tok = Tokenizer::from_hf(o->tokenizer);
    } else {
      auto file = GgufFile::open(resolve_model_path(o->model));
      tok = Tokenizer::from_gguf(file->metadata());
    }
    const auto ids = tok->encode(text, !o->no_bos, !o->no_parse_special);
    nlohmann::json j = nlohmann::json::array();
    for (TokenId id : ids) {
      if (o->pieces) {
        j.push_back({id, tok->token_to_piece(id, true)});
      } else {
        j.push_back(id);
      }
    }
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  });
}

const CommandRegistration registration{"tokenize", add_tokenize_command};

}  // namespace frugal::cli
