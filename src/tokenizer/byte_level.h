// GPT-2's byte-level alphabet: every byte is written as one printable code point, so
// that vocabularies stored as text can hold arbitrary bytes. Bytes that are already
// printable Latin-1 stand for themselves; the others are moved to U+0100 and up in
// byte order. The mapping is computed from that rule, not tabulated.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace frugal::byte_level {

// The code point that stands for `byte`.
uint32_t code_point(uint8_t byte);

// Appends the byte-level spelling of `bytes` (each byte -> one code point in UTF-8).
void encode(std::string_view bytes, std::string& out);

// The raw bytes a byte-level token text stands for, or nullopt when the text holds a code
// point outside the alphabet (such tokens can never come out of byte-level BPE).
std::optional<std::string> decode(std::string_view text);

// Like decode, but code points outside the alphabet stand for their own UTF-8 bytes,
// which is how Hugging Face's ByteLevel decoder shows such tokens.
std::string decode_lenient(std::string_view text);

}  // namespace frugal::byte_level
