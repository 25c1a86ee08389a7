#include "tokenizer/unigram.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/error.h"
#include "tokenizer/decoder.h"
#include "tokenizer/utf8.h"

namespace frugal {
namespace {

// SentencePiece gives the unknown token the lowest piece score less this penalty.
constexpr float kUnknownPenalty = 10.0f;

// darts-clone's double-array unit layout.
bool has_leaf(uint32_t unit) { return (unit >> 8) & 1; }
uint32_t value_of(uint32_t unit) { return unit & ((1u << 31) - 1); }
uint32_t label_of(uint32_t unit) { return unit & ((1u << 31) | 0xFF); }
uint32_t offset_of(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }

}  // namespace

UnigramTokenizer::UnigramTokenizer(SentencePieceModel model) : m_(std::move(model)) {
  special_.bos = m_.bos;
  special_.eos = m_.eos;
  special_.unk = m_.unk;
  special_.pad = m_.pad;
  special_.add_bos = false;
  bool first = true;
  for (size_t id = 0; id < m_.pieces.size(); ++id) {
    const auto& p = m_.pieces[id];
    if (p.type != TokenKind::NORMAL && p.type != TokenKind::USER_DEFINED) continue;
    pieces_.emplace(p.text, static_cast<TokenId>(id));
    max_piece_bytes_ = std::max(max_piece_bytes_, p.text.size());
    if (p.type == TokenKind::NORMAL) {
      min_score_ = first ? p.score : std::min(min_score_, p.score);
      max_score_ = first ? p.score : std::max(max_score_, p.score);
      first = false;
    }
  }
  if (m_.unk < 0) fail("{}: a Unigram model needs an unknown piece", m_.source);
  if (!m_.charsmap.empty()) {
    if (m_.charsmap.size() < 4) fail("{}: precompiled_charsmap is truncated", m_.source);
    uint32_t trie_bytes;
    std::memcpy(&trie_bytes, m_.charsmap.data(), 4);
    if (trie_bytes % 4 != 0 || trie_bytes > m_.charsmap.size() - 4) {
      fail("{}: precompiled_charsmap declares a trie of {} bytes in {} bytes", m_.source, trie_bytes,
           m_.charsmap.size());
    }
    // std::string storage is suitably aligned for uint32_t at offset 4 on the platforms we
    // build for; the units are little-endian like every x86/ARM host.
    trie_ = reinterpret_cast<const uint32_t*>(m_.charsmap.data() + 4);
    trie_units_ = trie_bytes / 4;
    replacements_ = std::string_view(m_.charsmap).substr(4 + trie_bytes);
  }
}

size_t UnigramTokenizer::charsmap_prefix(std::string_view text, std::string_view& replacement) const {
  if (trie_ == nullptr || trie_units_ == 0) return 0;
  size_t best = 0;
  uint32_t node = offset_of(trie_[0]);
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<uint8_t>(text[i]);
    node ^= c;
    if (node >= trie_units_) break;
    const uint32_t unit = trie_[node];
    if (label_of(unit) != c) break;
    node ^= offset_of(unit);
    if (node >= trie_units_) break;
    if (has_leaf(unit)) {
      const uint32_t at = value_of(trie_[node]);
      if (at >= replacements_.size()) fail("{}: precompiled_charsmap points outside its strings", m_.source);
      const size_t end = replacements_.find('\0', at);
      replacement = replacements_.substr(at, (end == std::string_view::npos ? replacements_.size() : end) - at);
      best = i + 1;
    }
  }
  return best;
}

std::string UnigramTokenizer::normalize(std::string_view input) const {
  // One step of SentencePiece's Normalizer: the longest charsmap match, else one UTF-8
  // character as is, else (invalid byte) U+FFFD for one byte.
  const auto next = [&](std::string_view text, std::string_view& out) -> size_t {
    if (const size_t n = charsmap_prefix(text, out); n > 0) return n;
    const utf8::ScanResult r = utf8::scan(text);
    if (r.status == utf8::Scan::kComplete) {
      out = text.substr(0, r.length);
      return r.length;
    }
    out = utf8::kReplacement;
    return 1;
  };
  const std::string_view space = m_.escape_whitespaces ? utf8::kSpaceMarker : std::string_view(" ");
  std::string_view piece;
  if (m_.remove_extra_whitespaces) {
    while (!input.empty()) {
      const size_t n = next(input, piece);
      if (piece != " ") break;
      input.remove_prefix(n);
    }
  }
  std::string out;
  if (input.empty()) return out;
  if (m_.add_dummy_prefix) out += space;
  bool prev_space = m_.remove_extra_whitespaces;
  while (!input.empty()) {
    const size_t n = next(input, piece);
    input.remove_prefix(n);
    if (prev_space) {
      while (!piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
    }
    if (!piece.empty()) {
      for (const char c : piece) {
        if (c == ' ' && m_.escape_whitespaces) {
          out += space;
        } else {
          out += c;
        }
      }
      prev_space = piece.back() == ' ';
    }
    if (!m_.remove_extra_whitespaces) prev_space = false;
  }
  if (m_.remove_extra_whitespaces) {
    while (out.size() >= space.size() && std::string_view(out).substr(out.size() - space.size()) == space) {
      out.resize(out.size() - space.size());
    }
  }
  return out;
}

void UnigramTokenizer::viterbi(std::string_view text, std::vector<TokenId>& out) const {
  struct Node {
    float score = -std::numeric_limits<float>::infinity();
    int64_t start = -1;  // where the best piece ending here starts
    TokenId id = -1;
  };
  std::vector<Node> best(text.size() + 1);
  best[0].score = 0.0f;
  const float unk_score = min_score_ - kUnknownPenalty;
  std::string key;
  for (size_t begin = 0; begin < text.size();) {
    const size_t char_len = std::min(utf8::sequence_length(static_cast<uint8_t>(text[begin])), text.size() - begin);
    const float here = best[begin].score;
    bool single_char_piece = false;
    // Every piece starting here, shortest first (ties keep the earlier, as in SentencePiece).
    for (size_t len = 1; len <= max_piece_bytes_ && begin + len <= text.size(); ++len) {
      if (begin + len < text.size() && (static_cast<uint8_t>(text[begin + len]) & 0xC0) == 0x80) continue;
      key.assign(text.substr(begin, len));
      const auto it = pieces_.find(key);
      if (it == pieces_.end()) continue;
      const auto& p = m_.pieces[static_cast<size_t>(it->second)];
      size_t chars = 0;
      for (size_t i = 0; i < len; ++i) chars += (static_cast<uint8_t>(key[i]) & 0xC0) != 0x80;
      // User-defined pieces always win over what could be built from other pieces.
      const float score = p.type == TokenKind::USER_DEFINED ? static_cast<float>(chars) * max_score_ - 0.1f : p.score;
      Node& target = best[begin + len];
      if (target.start < 0 || here + score > target.score) target = {here + score, static_cast<int64_t>(begin), it->second};
      single_char_piece |= len == char_len;
    }
    if (!single_char_piece) {
      Node& target = best[begin + char_len];
      if (target.start < 0 || here + unk_score > target.score) {
        target = {here + unk_score, static_cast<int64_t>(begin), m_.unk};
      }
    }
    begin += char_len;
  }
  std::vector<TokenId> ids;
  for (int64_t end = static_cast<int64_t>(text.size()); end > 0; end = best[static_cast<size_t>(end)].start) {
    ids.push_back(best[static_cast<size_t>(end)].id);
  }
  // Consecutive unknown characters come out as one unknown token, as in SentencePiece.
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    if (*it == m_.unk && !out.empty() && out.back() == m_.unk) continue;
    out.push_back(*it);
  }
}

std::vector<TokenId> UnigramTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<TokenId> out;
  if (add_special && special_.add_bos && special_.bos >= 0) out.push_back(special_.bos);
  // Control pieces are only ever matched on request; cut them out before normalizing.
  std::vector<std::pair<size_t, TokenId>> cuts;
  if (parse_special) {
    for (size_t pos = 0; pos < text.size(); ++pos) {
      for (size_t id = 0; id < m_.pieces.size(); ++id) {
        const auto& p = m_.pieces[id];
        if (p.type == TokenKind::CONTROL && !p.text.empty() && text.substr(pos, p.text.size()) == p.text) {
          cuts.emplace_back(pos, static_cast<TokenId>(id));
          pos += p.text.size() - 1;
          break;
        }
      }
    }
  }
  size_t done = 0;
  for (const auto& [pos, id] : cuts) {
    viterbi(normalize(text.substr(done, pos - done)), out);
    out.push_back(id);
    done = pos + m_.pieces[static_cast<size_t>(id)].text.size();
  }
  viterbi(normalize(text.substr(done)), out);
  if (add_special && special_.add_eos && special_.eos >= 0) out.push_back(special_.eos);
  return out;
}

void UnigramTokenizer::check(TokenId id) const {
  if (id < 0 || id >= n_vocab()) fail("{}: token id {} is outside the {} pieces", m_.source, id, n_vocab());
}

const std::string& UnigramTokenizer::token_text(TokenId id) const {
  check(id);
  return m_.pieces[static_cast<size_t>(id)].text;
}

TokenKind UnigramTokenizer::token_kind(TokenId id) const {
  check(id);
  return m_.pieces[static_cast<size_t>(id)].type;
}

std::string UnigramTokenizer::token_to_piece(TokenId id, bool special) const {
  check(id);
  const auto& p = m_.pieces[static_cast<size_t>(id)];
  switch (p.type) {
    case TokenKind::CONTROL: return special ? p.text : "";
    case TokenKind::UNKNOWN: return special ? p.text : " \xE2\x81\x87 ";  // SentencePiece's unknown surface
    case TokenKind::BYTE: {
      const int b = parse_byte_token(p.text);
      return b < 0 ? p.text : std::string(1, static_cast<char>(b));
    }
    default: return utf8::replace_all(p.text, utf8::kSpaceMarker, " ");
  }
}

std::string UnigramTokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string text;
  for (const TokenId id : ids) text += token_to_piece(id, !skip_special);
  if (m_.add_dummy_prefix && !text.empty() && text[0] == ' ') text.erase(0, 1);
  return text;
}

}  // namespace frugal
