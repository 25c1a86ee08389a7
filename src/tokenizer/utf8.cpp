#include "tokenizer/utf8.h"

#include <cstring>

namespace frugal::utf8 {

ScanResult scan(std::string_view bytes) {
  const auto at = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  const uint8_t lead = at(0);
  if (lead < 0x80) return {Scan::kComplete, 1};

  size_t need = 0;
  // The allowed range of the second byte depends on the lead byte; that is what rules out
  // overlong forms, surrogates and values above U+10FFFF.
  uint8_t lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {Scan::kInvalid, 1};
  }

  for (size_t i = 1; i < need; ++i) {
    if (i >= bytes.size()) return {Scan::kIncomplete, bytes.size()};
    const uint8_t b = at(i);
    const bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {Scan::kInvalid, i};
  }
  return {Scan::kComplete, need};
}

size_t append_sanitized(std::string_view bytes, bool hold_incomplete, std::string& out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const ScanResult r = scan(bytes.substr(pos));
    switch (r.status) {
      case Scan::kComplete:
        out.append(bytes.substr(pos, r.length));
        break;
      case Scan::kIncomplete:
        if (hold_incomplete) return pos;
        out.append(kReplacement);
        break;
      case Scan::kInvalid:
        out.append(kReplacement);
        break;
    }
    pos += r.length;
  }
  return pos;
}

bool is_valid(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    // Most text is ASCII: skip it eight bytes at a time.
    while (pos + 8 <= bytes.size()) {
      uint64_t word;
      std::memcpy(&word, bytes.data() + pos, 8);
      if (word & 0x8080808080808080ull) break;
      pos += 8;
    }
    if (pos >= bytes.size()) break;
    const ScanResult r = scan(bytes.substr(pos));
    if (r.status != Scan::kComplete) return false;
    pos += r.length;
  }
  return true;
}

void append_code_point(uint32_t cp, std::string& out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    out.append(kReplacement);
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

uint32_t next_code_point(std::string_view text, size_t& pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data() + pos);
  const size_t left = text.size() - pos;
  const uint8_t lead = p[0];
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  const size_t len = sequence_length(lead);
  if (len < 2 || len > left) {
    ++pos;
    return 0xFFFD;
  }
  pos += len;
  switch (len) {
    case 2: return ((lead & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    case 3: return ((lead & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    default: return ((lead & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
  }
}

std::string_view make_valid(std::string_view bytes, std::string& storage) {
  if (is_valid(bytes)) return bytes;
  storage.clear();
  append_sanitized(bytes, /*hold_incomplete=*/false, storage);
  return storage;
}

}  // namespace frugal::utf8
