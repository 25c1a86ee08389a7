#include "tokenizer/sentencepiece_model.h"

#include <cstring>
#include <string_view>

#include "base/error.h"
#include "tokenizer/file_reader.h"
#include "tokenizer/spm.h"
#include "tokenizer/unigram.h"

namespace frugal {
namespace {

// A protobuf reader over one message: (field number, wire type, value) at a time.
class Wire {
 public:
  Wire(std::string_view bytes, const std::string& source, size_t base) : b_(bytes), source_(source), base_(base) {}
  bool done() const { return pos_ >= b_.size(); }

  struct Field {
    uint32_t number;
    uint32_t wire;
    uint64_t varint = 0;
    std::string_view bytes;  // length-delimited and fixed-width values
    size_t offset = 0;       // of the value, within the message
  };

  Field next() {
    Field f{};
    const uint64_t key = varint();
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<uint32_t>(key & 7);
    f.offset = pos_;
    switch (f.wire) {
      case 0: f.varint = varint(); break;
      case 1: f.bytes = take(8); break;
      case 2: f.bytes = take(static_cast<size_t>(varint())); break;
      case 5: f.bytes = take(4); break;
      default: bad("unsupported wire type " + std::to_string(f.wire));
    }
    return f;
  }

  [[noreturn]] void bad(const std::string& what) const {
    fail("{}: not a SentencePiece model: {} at byte {}", source_, what, base_ + pos_);
  }

 private:
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) bad("truncated varint");
      const auto byte = static_cast<uint8_t>(b_[pos_++]);
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return v;
    }
    bad("varint longer than 10 bytes");
  }
  std::string_view take(size_t n) {
    if (n > b_.size() - pos_) bad("field of " + std::to_string(n) + " bytes runs past the end");
    const std::string_view v = b_.substr(pos_, n);
    pos_ += n;
    return v;
  }

  std::string_view b_;
  const std::string& source_;
  size_t base_;
  size_t pos_ = 0;
};

float as_float(std::string_view four) {
  float f;
  std::memcpy(&f, four.data(), sizeof(f));
  return f;
}

TokenKind piece_type(uint64_t t, const Wire& w) {
  switch (t) {
    case 1: return TokenKind::NORMAL;
    case 2: return TokenKind::UNKNOWN;
    case 3: return TokenKind::CONTROL;
    case 4: return TokenKind::USER_DEFINED;
    case 5: return TokenKind::UNUSED;
    case 6: return TokenKind::BYTE;
  }
  w.bad("unknown piece type " + std::to_string(t));
}

}  // namespace

SentencePieceModel parse_sentencepiece_model(const std::string& path) {
  const std::string data = read_tokenizer_file(path);
  SentencePieceModel m;
  m.source = path;
  Wire top(data, path, 0);
  while (!top.done()) {
    const Wire::Field f = top.next();
    if (f.number == 1 && f.wire == 2) {  // repeated SentencePiece pieces
      SentencePieceModel::Piece piece;
      Wire w(f.bytes, path, f.offset);
      while (!w.done()) {
        const Wire::Field p = w.next();
        if (p.number == 1 && p.wire == 2) piece.text = std::string(p.bytes);
        if (p.number == 2 && p.wire == 5) piece.score = as_float(p.bytes);
        if (p.number == 3 && p.wire == 0) piece.type = piece_type(p.varint, w);
      }
      m.pieces.push_back(std::move(piece));
    } else if (f.number == 2 && f.wire == 2) {  // TrainerSpec
      Wire w(f.bytes, path, f.offset);
      while (!w.done()) {
        const Wire::Field t = w.next();
        if (t.wire != 0) continue;
        const auto id = static_cast<TokenId>(static_cast<int32_t>(t.varint));
        if (t.number == 3) m.model_type = static_cast<int>(t.varint);
        if (t.number == 35) m.byte_fallback = t.varint != 0;
        if (t.number == 40) m.unk = id;
        if (t.number == 41) m.bos = id;
        if (t.number == 42) m.eos = id;
        if (t.number == 43) m.pad = id;
      }
    } else if (f.number == 3 && f.wire == 2) {  // NormalizerSpec
      Wire w(f.bytes, path, f.offset);
      while (!w.done()) {
        const Wire::Field n = w.next();
        if (n.number == 1 && n.wire == 2) m.normalizer_name = std::string(n.bytes);
        if (n.number == 2 && n.wire == 2) m.charsmap = std::string(n.bytes);
        if (n.number == 3 && n.wire == 0) m.add_dummy_prefix = n.varint != 0;
        if (n.number == 4 && n.wire == 0) m.remove_extra_whitespaces = n.varint != 0;
        if (n.number == 5 && n.wire == 0) m.escape_whitespaces = n.varint != 0;
      }
    }
  }
  if (m.pieces.empty()) fail("{}: not a SentencePiece model: it has no pieces", path);
  const auto n = static_cast<TokenId>(m.pieces.size());
  for (TokenId* id : {&m.unk, &m.bos, &m.eos, &m.pad}) {
    if (*id >= n) fail("{}: special token id {} is outside the {} pieces", path, *id, n);
  }
  return m;
}

GgufMetadata sentencepiece_to_gguf(const SentencePieceModel& m) {
  GgufMetadata meta(m.source);
  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (const auto& p : m.pieces) {
    texts.push_back(p.text);
    scores.push_back(p.score);
    types.push_back(static_cast<int32_t>(p.type));
  }
  meta.set("tokenizer.ggml.model", GgufValue::str("llama"));
  meta.set("tokenizer.ggml.tokens", GgufValue::string_array(texts));
  meta.set("tokenizer.ggml.scores", GgufValue::f32_array(scores));
  meta.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  const auto set_id = [&](const char* key, TokenId id) {
    if (id >= 0) meta.set(key, GgufValue::u32(static_cast<uint32_t>(id)));
  };
  set_id("tokenizer.ggml.bos_token_id", m.bos);
  set_id("tokenizer.ggml.eos_token_id", m.eos);
  set_id("tokenizer.ggml.unknown_token_id", m.unk);
  set_id("tokenizer.ggml.padding_token_id", m.pad);
  meta.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(m.add_dummy_prefix));
  // SentencePiece's encode adds no BOS, but Llama and Mistral models expect one, and
  // llama.cpp's converter writes add_bos_token = true for these files.
  meta.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
  return meta;
}

std::unique_ptr<Tokenizer> Tokenizer::from_sentencepiece(const std::string& path) {
  SentencePieceModel m = parse_sentencepiece_model(path);
  if (m.model_type == 1) return std::make_unique<UnigramTokenizer>(std::move(m));
  if (m.model_type != 2) {
    fail("{}: SentencePiece model type {} ({}) is not supported; BPE (2) and Unigram (1) are", path, m.model_type,
         m.model_type == 3 ? "word" : m.model_type == 4 ? "char" : "unknown");
  }
  // The GGUF SentencePiece tokenizer does what llama.cpp does: no character map and no
  // whitespace folding. Refuse BPE files that ask for either rather than differ silently.
  if (!m.charsmap.empty() || m.remove_extra_whitespaces) {
    fail("{}: SentencePiece BPE with normalizer '{}'{} is not supported (only the identity normalizer without "
         "remove_extra_whitespaces, as Llama and Mistral use)",
         path, m.normalizer_name, m.remove_extra_whitespaces ? " and remove_extra_whitespaces" : "");
  }
  return SpmTokenizer::from_gguf(sentencepiece_to_gguf(m));
}

}  // namespace frugal
