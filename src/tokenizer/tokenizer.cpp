#include "tokenizer/tokenizer.h"

#include <string_view>

#include "base/error.h"
#include "format/gguf.h"
#include "tokenizer/gguf_bpe.h"
#include "tokenizer/spm.h"
#include "tokenizer/utf8.h"

namespace frugal {
namespace {

// The tokenizer kinds llama.cpp knows, for an error message that says what the file needs.
std::string_view describe_model(std::string_view model) {
  if (model == "gpt2") return "byte-level BPE";
  if (model == "bert") return "WordPiece";
  if (model == "t5") return "Unigram";
  if (model == "rwkv") return "RWKV trie";
  if (model == "plamo2") return "PLaMo-2";
  if (model == "gemma4") return "Gemma 4 BPE";
  if (model == "hybriddna" || model == "whitespace") return "BPE variant";
  if (model == "none" || model == "no_vocab") return "no vocabulary";
  return "unknown tokenizer kind";
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufMetadata& metadata) {
  const std::optional<std::string> model = metadata.get_string("tokenizer.ggml.model");
  if (!model) {
    fail("{}: metadata key 'tokenizer.ggml.model' is missing, so the tokenizer kind is unknown", metadata.source());
  }
  if (*model == "llama") return SpmTokenizer::from_gguf(metadata);
  if (*model == "gpt2") return GgufPipelineTokenizer::bpe_from_gguf(metadata);
  if (*model == "bert") return GgufPipelineTokenizer::wordpiece_from_gguf(metadata);
  fail("{}: tokenizer.ggml.model '{}' ({}) is not supported yet; supported: 'llama' (SentencePiece), 'gpt2' "
       "(byte-level BPE), 'bert' (WordPiece)",
       metadata.source(), *model, describe_model(*model));
}

std::string StreamDecoder::push(TokenId id) {
  pending_ += tokenizer_.token_to_piece(id, special_);
  std::string out;
  const size_t consumed = utf8::append_sanitized(pending_, /*hold_incomplete=*/true, out);
  pending_.erase(0, consumed);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  utf8::append_sanitized(pending_, /*hold_incomplete=*/false, out);
  pending_.clear();
  return out;
}

}  // namespace frugal
