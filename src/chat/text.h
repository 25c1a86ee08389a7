// Text helpers for the template interpreter: Jinja's string operations count and slice by
// Unicode code point (as Python does), strip Python's whitespace set and change ASCII case.
// Message content comes from users, so none of these trust their input: a byte that is not
// part of valid UTF-8 counts as one code point of its own and is passed through unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace frugal::chat {

// Length in bytes of the code point starting at s[i] (1 for an invalid byte).
size_t utf8_length_at(std::string_view s, size_t i);
// The code point starting at s[i], or the byte itself when it is not valid UTF-8.
uint32_t utf8_decode_at(std::string_view s, size_t i);
void utf8_append(std::string& out, uint32_t code_point);

// Byte offsets of each code point boundary: result[k] is where code point k starts, and
// result.back() == s.size(). Used for indexing and slicing strings by code point.
std::vector<size_t> code_point_offsets(std::string_view s);
size_t code_point_count(std::string_view s);

// Python's str.isspace() for one code point.
bool is_space(uint32_t c);
// Python's str.strip()/lstrip()/rstrip(): with chars empty, strip whitespace; otherwise strip
// any of the code points in chars.
std::string_view strip(std::string_view s, bool left, bool right, std::string_view chars = {},
                       bool chars_given = false);

std::string ascii_upper(std::string_view s);
std::string ascii_lower(std::string_view s);
// Python's str.title(): the first letter of every run of letters upper-case, the rest lower.
std::string title_case(std::string_view s);
// Python's str.capitalize(): first character upper-case, the rest lower-case.
std::string capitalize(std::string_view s);

// JSON string literal as Python's json.dumps writes it: escapes ", \, control characters;
// with ensure_ascii every code point outside printable ASCII becomes \uXXXX (surrogate
// pairs above U+FFFF).
void append_json_string(std::string& out, std::string_view s, bool ensure_ascii);

}  // namespace frugal::chat
