// SentencePiece model files (tokenizer.model: a protobuf ModelProto). BPE models (Llama 2,
// Mistral v1-v3) become the GGUF metadata llama.cpp's converter would write and run on the
// SentencePiece tokenizer of spm.h; Unigram models run on unigram.h. Only the fields
// encoding needs are read; the wire format is decoded here because four fields do not
// justify a protobuf dependency.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

struct SentencePieceModel {
  struct Piece {
    std::string text;
    float score = 0.0f;
    TokenKind type = TokenKind::NORMAL;
  };
  std::string source;
  std::vector<Piece> pieces;
  int model_type = 1;  // TrainerSpec.ModelType: 1 unigram, 2 BPE, 3 word, 4 char
  bool byte_fallback = false;
  TokenId unk = 0, bos = 1, eos = 2, pad = -1;
  // NormalizerSpec.
  std::string normalizer_name;
  std::string charsmap;  // precompiled_charsmap
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Throws frugal::Error naming the file and the byte offset where it stops making sense.
SentencePieceModel parse_sentencepiece_model(const std::string& path);

// The GGUF tokenizer metadata of a BPE model (tokenizer.ggml.model = "llama").
GgufMetadata sentencepiece_to_gguf(const SentencePieceModel& model);

}  // namespace frugal
