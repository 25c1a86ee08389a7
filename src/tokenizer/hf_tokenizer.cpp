#include "tokenizer/hf_tokenizer.h"

#include <algorithm>

#include "base/error.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace frugal {

HfTokenizer::HfTokenizer(HfParts parts) : p_(std::move(parts)) {
  // Special tokens first, then the others, each in file order: the order in which
  // tokenizers registers them, which decides who owns a pattern listed twice.
  for (const bool special : {true, false}) {
    for (const AddedToken& t : p_.added) {
      if (t.special != special) continue;
      if (t.normalized && p_.normalizer) {
        std::string pattern = t.content;
        p_.normalizer->apply(pattern);
        normalized_matcher_.add(t, pattern);
      } else if (t.normalized) {
        normalized_matcher_.add(t, t.content);
      } else {
        raw_matcher_.add(t, t.content);
      }
    }
  }
  for (TokenId id : {p_.special.eos, p_.special.eot}) {
    if (id >= 0) eog_.push_back(id);
  }
  for (const AddedToken& t : p_.added) {
    if (is_end_of_generation_text(t.content)) eog_.push_back(t.id);
  }
  std::sort(eog_.begin(), eog_.end());
  eog_.erase(std::unique(eog_.begin(), eog_.end()), eog_.end());
}

void HfTokenizer::check(TokenId id) const {
  if (id < 0 || id >= n_vocab()) {
    fail("{}: token id {} is outside the vocabulary of {} tokens", p_.source, id, n_vocab());
  }
}

const std::string& HfTokenizer::token_text(TokenId id) const {
  check(id);
  return p_.texts[static_cast<size_t>(id)];
}

TokenKind HfTokenizer::token_kind(TokenId id) const {
  check(id);
  return p_.kinds[static_cast<size_t>(id)];
}

bool HfTokenizer::is_eog(TokenId id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

std::vector<TokenId> HfTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special) out.insert(out.end(), p_.prefix.begin(), p_.prefix.end());
  // tokenizers only ever sees valid UTF-8 (a Rust String): callers holding bytes decode
  // them lossily, each maximal ill-formed subpart becoming U+FFFD. We do the same.
  std::string valid_storage;
  const std::string_view valid = utf8::make_valid(text, valid_storage);
  WordCache cache;
  if (raw_matcher_.empty()) {
    encode_text(valid, true, parse_special, cache, out);
  } else {
    std::vector<AddedSplit> splits;
    raw_matcher_.split(valid, !parse_special, splits);
    for (const AddedSplit& s : splits) {
      if (s.token >= 0) {
        out.push_back(s.token);
      } else {
        encode_text(valid.substr(s.begin, s.end - s.begin), s.begin == 0, parse_special, cache, out);
      }
    }
  }
  if (add_special) out.insert(out.end(), p_.suffix.begin(), p_.suffix.end());
  return out;
}

void HfTokenizer::encode_text(std::string_view text, bool at_start, bool parse_special, WordCache& cache,
                              std::vector<TokenId>& out) const {
  std::string normalized(text);
  if (p_.normalizer) p_.normalizer->apply(normalized);
  const auto words = [&](std::string_view piece, bool piece_at_start) {
    p_.pre_tokenizer.run(piece, piece_at_start,
                         [&](std::string_view word, bool) { cache.encode(*p_.model, word, out); });
  };
  if (normalized_matcher_.empty()) {
    words(normalized, at_start);
    return;
  }
  std::vector<AddedSplit> splits;
  normalized_matcher_.split(normalized, !parse_special, splits);
  const std::string_view view = normalized;
  for (const AddedSplit& s : splits) {
    if (s.token >= 0) {
      out.push_back(s.token);
    } else {
      words(view.substr(s.begin, s.end - s.begin), at_start && s.begin == 0);
    }
  }
}

std::string HfTokenizer::token_to_piece(TokenId id, bool special) const {
  check(id);
  const TokenKind kind = p_.kinds[static_cast<size_t>(id)];
  if (!special && (kind == TokenKind::CONTROL || kind == TokenKind::UNKNOWN)) return {};
  return p_.pieces[static_cast<size_t>(id)];
}

std::string HfTokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const TokenId id : ids) {
    check(id);
    if (skip_special && p_.kinds[static_cast<size_t>(id)] == TokenKind::CONTROL) continue;
    tokens.push_back(p_.texts[static_cast<size_t>(id)]);
  }
  if (p_.decoder) return p_.decoder->decode(std::move(tokens));
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ' ';
    out += tokens[i];
  }
  return out;
}

}  // namespace frugal
