#include "runtime/text_stream.h"

#include <algorithm>

#include "base/error.h"

namespace frugal {

namespace {

// Length of the longest suffix of text that is a proper prefix of some stop string: that
// much text must be held back, because the next token may complete the stop string.
size_t held_back(std::string_view text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
      if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

TextStream::TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop)
    : decoder_(tokenizer), stop_(std::move(stop)) {
  for (const auto& s : stop_) {
    if (s.empty()) fail("empty stop string");
  }
}

TextStream::Step TextStream::push(TokenId token) {
  Step step;
  pending_ += decoder_.push(token);
  size_t hit = std::string::npos;
  for (const auto& s : stop_) hit = std::min(hit, pending_.find(s));
  if (hit != std::string::npos) {
    step.text = pending_.substr(0, hit);
    step.stopped = true;
    pending_.clear();
    return step;
  }
  const size_t hold = held_back(pending_, stop_);
  step.text = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return step;
}

std::string TextStream::finish() {
  std::string rest = std::move(pending_);
  pending_.clear();
  rest += decoder_.flush();
  return rest;
}

}  // namespace frugal
