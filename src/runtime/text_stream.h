// Turns sampled tokens into the text a client sees: valid UTF-8 only (StreamDecoder), stop
// strings cut off (and never shown, not even a prefix of one that might still complete).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace frugal {

class TextStream {
 public:
  TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop);

  struct Step {
    std::string text;      // newly final text (may be empty)
    bool stopped = false;  // a stop string appeared; text ends right before it
  };
  Step push(TokenId token);
  // The text still held back, at the end of generation without a stop.
  std::string finish();

 private:
  StreamDecoder decoder_;
  std::vector<std::string> stop_;
  std::string pending_;
};

}  // namespace frugal
