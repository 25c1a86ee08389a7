#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace frugal::byte_level {
namespace {

bool stands_for_itself(uint32_t b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

struct Alphabet {
  std::array<uint32_t, 256> to_cp{};
  // Every code point of the alphabet is below 0x144 (256 bytes + at most 68 moved ones).
  std::array<int16_t, 0x200> to_byte{};
  Alphabet() {
    to_byte.fill(-1);
    uint32_t moved = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      to_cp[b] = stands_for_itself(b) ? b : 256 + moved++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet a;
  return a;
}

// Decodes one code point of valid UTF-8 at `pos`; returns 0xFFFFFFFF for invalid input.
uint32_t next_code_point(std::string_view text, size_t& pos) {
  const utf8::ScanResult r = utf8::scan(text.substr(pos));
  if (r.status != utf8::Scan::kComplete) {
    pos += r.length == 0 ? 1 : r.length;
    return 0xFFFFFFFFu;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(text.data() + pos);
  uint32_t cp = 0;
  switch (r.length) {
    case 1: cp = p[0]; break;
    case 2: cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu); break;
    case 3: cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu); break;
    default: cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu); break;
  }
  pos += r.length;
  return cp;
}

}  // namespace

uint32_t code_point(uint8_t byte) { return alphabet().to_cp[byte]; }

void encode(std::string_view bytes, std::string& out) {
  const Alphabet& a = alphabet();
  for (const char c : bytes) utf8::append_code_point(a.to_cp[static_cast<uint8_t>(c)], out);
}

std::optional<std::string> decode(std::string_view text) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const uint32_t cp = next_code_point(text, pos);
    if (cp >= a.to_byte.size() || a.to_byte[cp] < 0) return std::nullopt;
    out += static_cast<char>(a.to_byte[cp]);
  }
  return out;
}

std::string decode_lenient(std::string_view text) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const uint32_t cp = next_code_point(text, pos);
    if (cp < a.to_byte.size() && a.to_byte[cp] >= 0) {
      out += static_cast<char>(a.to_byte[cp]);
    } else {
      out.append(text.substr(start, pos - start));
    }
  }
  return out;
}

}  // namespace frugal::byte_level
