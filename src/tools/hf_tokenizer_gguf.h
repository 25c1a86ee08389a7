// A Hugging Face tokenizer as GGUF metadata (tokenizer.ggml.* and tokenizer.chat_template),
// the way llama.cpp's convert_hf_to_gguf.py writes it:
//  - tokenizer.model present (SentencePiece): its pieces, scores and types, model "llama";
//  - tokenizer.json with a byte-level BPE: model "gpt2", tokens by id padded with
//    "[PAD<id>]" to the config's vocab_size, token types (added special or special-looking
//    tokens CONTROL, other added tokens USER_DEFINED), merges, and the pre-tokenizer name
//    recognised from the split regex (llama-bpe, qwen2, gpt-2);
//  - tokenizer.json with a SentencePiece-style BPE (byte_fallback, "▁"): model "llama",
//    scores from the merge ranks (earlier merges score higher, as SentencePiece orders them);
//  - special token ids (bos, eos, unk, pad) from tokenizer_config.json, else config.json;
//    add_bos/add_eos from tokenizer_config.json or the post-processor; the chat template
//    from tokenizer_config.json or chat_template.jinja.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "format/gguf.h"

namespace frugal {

GgufMetadata hf_tokenizer_metadata(const std::string& dir, const nlohmann::json& config, int64_t vocab_size);

}  // namespace frugal
