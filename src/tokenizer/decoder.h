// Hugging Face decoders: turning the token strings of an id sequence back into text
// (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, WordPiece, Sequence). Each
// step maps the list of token strings to a new list, as in tokenizers' decode_chain; the
// results are concatenated at the end.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace frugal {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  std::string decode(std::vector<std::string> tokens) const;
};

std::unique_ptr<Decoder> make_byte_level_decoder();
std::unique_ptr<Decoder> make_metaspace_decoder(std::string_view replacement, bool prepend);
std::unique_ptr<Decoder> make_replace_decoder(std::string_view from, std::string_view to);
std::unique_ptr<Decoder> make_byte_fallback_decoder();
std::unique_ptr<Decoder> make_fuse_decoder();
std::unique_ptr<Decoder> make_strip_decoder(std::string_view content, size_t start, size_t stop);
std::unique_ptr<Decoder> make_wordpiece_decoder(std::string_view prefix, bool cleanup);
std::unique_ptr<Decoder> make_sequence_decoder(std::vector<std::unique_ptr<Decoder>> steps);

// Parses "<0xAB>" into 0xAB; -1 for any other text.
int parse_byte_token(std::string_view text);

}  // namespace frugal
