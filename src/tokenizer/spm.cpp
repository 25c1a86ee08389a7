#include "tokenizer/spm.h"

#include <algorithm>
#include <limits>
#include <queue>

#include "base/error.h"
#include "format/gguf.h"
#include "tokenizer/utf8.h"

namespace frugal {
namespace {

// Byte tokens are spelled "<0x0A>"; returns the byte or -1 when the text is not of that form.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  const auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(text[3]), lo = hex(text[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// A run of input bytes that is currently one piece. Pieces form a doubly linked list in
// text order; a piece merged into its left neighbour keeps length 0.
struct Piece {
  int prev;
  int next;
  size_t start;
  size_t length;
};

struct Candidate {
  int left;
  int right;
  float score;
  size_t length;  // of the merged text, to recognise candidates made stale by other merges
};

// Highest score first; among equal scores the leftmost pair, so results do not depend on
// the queue's internal order.
struct LowerPriority {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

std::unique_ptr<Tokenizer> SpmTokenizer::from_gguf(const GgufMetadata& metadata) {
  VocabDefaults defaults;
  defaults.bos = 1;
  defaults.eos = 2;
  defaults.unk = 0;
  defaults.add_bos = true;
  defaults.add_space_prefix = true;
  return std::make_unique<SpmTokenizer>(Vocab::load(metadata, defaults));
}

SpmTokenizer::SpmTokenizer(Vocab vocab) : vocab_(std::move(vocab)), special_(vocab_.special()) {
  const int32_t n = vocab_.size();
  pieces_.resize(static_cast<size_t>(n));
  for (TokenId id = 0; id < n; ++id) {
    const TokenData& t = vocab_.token(id);
    if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
      pieces_[id] = t.text;
    } else if (t.attr & kAttrNormal) {
      pieces_[id] = utf8::replace_all(t.text, utf8::kSpaceMarker, " ");
    } else if (t.attr & kAttrByte) {
      const int byte = parse_byte_token(t.text);
      if (byte < 0) {
        fail("{}: token {} '{}' has type BYTE but is not of the form <0xXX> (tokenizer.ggml.token_type)",
             vocab_.source(), id, t.text);
      }
      pieces_[id] = std::string(1, static_cast<char>(byte));
    }
    // Unused and undefined tokens have no text to show.
  }

  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char spelled[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    TokenId id = vocab_.find(std::string_view(spelled, sizeof(spelled)));
    // Vocabularies without byte tokens may still have the byte itself as a piece.
    if (id < 0) id = vocab_.find(std::string_view(std::string(1, static_cast<char>(b))));
    byte_tokens_[static_cast<size_t>(b)] = id;
  }
  special_.nl = byte_tokens_['\n'] >= 0 ? byte_tokens_['\n'] : special_.pad;
}

std::vector<TokenId> SpmTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && special_.add_bos) out.push_back(special_.bos);

  // SentencePiece treats the start of the input as if a space preceded it; llama.cpp does
  // the same after every special token, since each fragment is encoded as its own text.
  bool after_special = true;
  std::string escaped;
  for (const Fragment& f : vocab_.partition(text, parse_special)) {
    if (!f.is_text()) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    escaped.clear();
    if (vocab_.add_space_prefix() && after_special) escaped.append(utf8::kSpaceMarker);
    escaped.append(utf8::replace_all(text.substr(f.offset, f.length), " ", utf8::kSpaceMarker));
    encode_fragment(escaped, out);
    after_special = false;
  }

  if (add_special && special_.add_eos) out.push_back(special_.eos);
  return out;
}

void SpmTokenizer::encode_fragment(std::string_view text, std::vector<TokenId>& out) const {
  if (text.empty()) return;
  if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    fail("{}: cannot encode a text fragment of {} bytes (at most {})", vocab_.source(), text.size(),
         std::numeric_limits<int>::max());
  }
  // Start from single characters, cut the lenient way llama.cpp does (a stray continuation
  // byte is its own character, a truncated sequence at the end is shortened).
  std::vector<Piece> pieces;
  pieces.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = std::min(utf8::sequence_length(static_cast<uint8_t>(text[pos])), text.size() - pos);
    const int index = static_cast<int>(pieces.size());
    pieces.push_back({index - 1, pos + len == text.size() ? -1 : index + 1, pos, len});
    pos += len;
  }

  std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> queue;
  const auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view merged = text.substr(pieces[left].start, pieces[left].length + pieces[right].length);
    const TokenId id = vocab_.find(merged);
    if (id < 0) return;
    queue.push({left, right, vocab_.token(id).score, merged.size()});
  };
  for (int i = 1; i < static_cast<int>(pieces.size()); ++i) consider(i - 1, i);

  // Every merge removes a piece and adds at most two candidates, so this is O(n log n).
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Piece& left = pieces[c.left];
    Piece& right = pieces[c.right];
    // Pieces only grow, so a changed total length means one side was merged elsewhere.
    if (left.length == 0 || right.length == 0 || left.length + right.length != c.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) pieces[right.next].prev = c.left;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }

  // Every merged piece is a token by construction, so only single characters can lack one.
  // (llama.cpp keeps a table to split such pieces back into merges; it can never apply.)
  for (int i = 0; i >= 0; i = pieces[i].next) {
    const std::string_view piece = text.substr(pieces[i].start, pieces[i].length);
    const TokenId id = vocab_.find(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      emit_unmatched(piece, out);
    }
  }
}

void SpmTokenizer::emit_unmatched(std::string_view piece, std::vector<TokenId>& out) const {
  const bool spellable = std::all_of(piece.begin(), piece.end(),
                                     [&](char c) { return byte_tokens_[static_cast<uint8_t>(c)] >= 0; });
  if (spellable) {
    for (char c : piece) out.push_back(byte_tokens_[static_cast<uint8_t>(c)]);
    return;
  }
  // llama.cpp throws here (std::out_of_range); SentencePiece without byte fallback gives
  // one unknown token per character, which is what we do.
  if (special_.unk < 0) {
    fail("{}: cannot encode byte 0x{:02X}: the vocabulary has neither a <0x{:02X}> byte token nor an unknown token",
         vocab_.source(), static_cast<uint8_t>(piece[0]), static_cast<uint8_t>(piece[0]));
  }
  out.push_back(special_.unk);
}

std::string SpmTokenizer::token_to_piece(TokenId id, bool special) const {
  const uint32_t attr = vocab_.token(id).attr;  // throws for ids outside the vocabulary
  if (!special && (attr & (kAttrUnknown | kAttrControl))) return {};
  return pieces_[static_cast<size_t>(id)];
}

std::string SpmTokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string text;
  bool strip_space = vocab_.add_space_prefix();
  for (const TokenId id : ids) {
    const std::string piece = token_to_piece(id, !skip_special);
    const size_t skip = strip_space && !piece.empty() && piece[0] == ' ' ? 1 : 0;
    text.append(piece, skip, std::string::npos);
    strip_space = false;
  }
  return text;
}

}  // namespace frugal
