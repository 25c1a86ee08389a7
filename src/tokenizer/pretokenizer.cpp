#include "tokenizer/pretokenizer.h"

#include <unicode/uchar.h>

#include <optional>

#include "tokenizer/utf8.h"

namespace frugal {
namespace {

struct Range {
  size_t begin, end;
};

// Turns the alternating stream of matched / unmatched segments of one piece into the
// pieces a split behaviour asks for, holding back at most one piece (the only one a
// later segment can still join). Follows Hugging Face's SplitDelimiterBehavior.
class Segmenter {
 public:
  Segmenter(std::string_view piece, bool at_start, SplitBehavior behavior, bool invert, const WordSink& next)
      : piece_(piece), at_start_(at_start), behavior_(behavior), invert_(invert), next_(next) {}

  void add(size_t begin, size_t end, bool is_match) {
    if (end <= begin) return;
    if (invert_) is_match = !is_match;
    const Range r{begin, end};
    switch (behavior_) {
      case SplitBehavior::kRemoved:
        if (!is_match) emit(r);
        break;
      case SplitBehavior::kIsolated:
        emit(r);
        break;
      case SplitBehavior::kMergedWithPrevious:
        if (is_match && !previous_match_ && pending_) {
          pending_->end = end;
        } else {
          flush();
          pending_ = r;
        }
        break;
      case SplitBehavior::kMergedWithNext:
        if (pending_) {
          // A held-back match joins the piece after it unless that is a match too.
          if (!is_match) {
            emit({pending_->begin, end});
            pending_.reset();
            break;
          }
          flush();
        }
        if (is_match) {
          pending_ = r;
        } else {
          emit(r);
        }
        break;
      case SplitBehavior::kContiguous:
        if (pending_ && is_match == previous_match_) {
          pending_->end = end;
        } else {
          flush();
          pending_ = r;
        }
        break;
    }
    previous_match_ = is_match;
  }

  void finish() { flush(); }

 private:
  void emit(Range r) const { next_(piece_.substr(r.begin, r.end - r.begin), at_start_ && r.begin == 0); }
  void flush() {
    if (pending_) emit(*pending_);
    pending_.reset();
  }

  std::string_view piece_;
  bool at_start_;
  SplitBehavior behavior_;
  bool invert_;
  const WordSink& next_;
  std::optional<Range> pending_;
  bool previous_match_ = false;
};

class RegexSplit final : public PreTokenizerStep {
 public:
  RegexSplit(std::string_view pattern, SplitBehavior behavior, bool invert)
      : regex_(pattern), behavior_(behavior), invert_(invert) {}
  void run(std::string_view piece, bool at_start, const WordSink& next) const override {
    Segmenter seg(piece, at_start, behavior_, invert_, next);
    size_t done = 0;
    regex_.for_each_match(piece, [&](size_t begin, size_t end) {
      seg.add(done, begin, false);
      seg.add(begin, end, true);
      done = end;
    });
    seg.add(done, piece.size(), false);
    seg.finish();
  }

 private:
  Regex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

class StringSplit final : public PreTokenizerStep {
 public:
  StringSplit(std::string_view literal, SplitBehavior behavior, bool invert)
      : literal_(literal), behavior_(behavior), invert_(invert) {}
  void run(std::string_view piece, bool at_start, const WordSink& next) const override {
    Segmenter seg(piece, at_start, behavior_, invert_, next);
    size_t done = 0;
    if (!literal_.empty()) {
      for (size_t hit = piece.find(literal_); hit != std::string_view::npos; hit = piece.find(literal_, done)) {
        seg.add(done, hit, false);
        seg.add(hit, hit + literal_.size(), true);
        done = hit + literal_.size();
      }
    }
    seg.add(done, piece.size(), false);
    seg.finish();
  }

 private:
  std::string literal_;
  SplitBehavior behavior_;
  bool invert_;
};

// Splits on characters that satisfy a predicate, each such character being one match
// (as Hugging Face's split with a char predicate does).
template <typename Pred>
class CharSplit final : public PreTokenizerStep {
 public:
  CharSplit(Pred pred, SplitBehavior behavior) : pred_(pred), behavior_(behavior) {}
  void run(std::string_view piece, bool at_start, const WordSink& next) const override {
    Segmenter seg(piece, at_start, behavior_, false, next);
    size_t done = 0;
    for (size_t pos = 0; pos < piece.size();) {
      const size_t start = pos;
      const uint32_t cp = utf8::next_code_point(piece, pos);
      if (!pred_(cp)) continue;
      seg.add(done, start, false);
      seg.add(start, pos, true);
      done = pos;
    }
    seg.add(done, piece.size(), false);
    seg.finish();
  }

 private:
  Pred pred_;
  SplitBehavior behavior_;
};

template <typename Pred>
std::unique_ptr<PreTokenizerStep> make_char_split(Pred pred, SplitBehavior behavior) {
  return std::make_unique<CharSplit<Pred>>(pred, behavior);
}

// Rust's char::is_whitespace is Unicode's White_Space property.
bool is_white_space(uint32_t cp) { return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_WHITE_SPACE); }

// Hugging Face's punctuation: ASCII punctuation (which includes symbols such as $ + < = >)
// or any Unicode punctuation category.
bool is_punctuation(uint32_t cp) {
  if (cp < 0x80) return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
                        (cp >= 0x7B && cp <= 0x7E);
  return u_ispunct(static_cast<UChar32>(cp));
}

class ByteLevelStep final : public PreTokenizerStep {
 public:
  ByteLevelStep(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_.emplace(std::make_unique<RegexSplit>(kGpt2Pattern, SplitBehavior::kIsolated, false));
  }
  void run(std::string_view piece, bool at_start, const WordSink& next) const override {
    std::string prefixed;
    if (add_prefix_space_ && (piece.empty() || piece[0] != ' ')) {
      prefixed.reserve(piece.size() + 1);
      prefixed += ' ';
      prefixed += piece;
      piece = prefixed;
    }
    if (regex_) {
      (*regex_)->run(piece, at_start, next);
    } else {
      next(piece, at_start);
    }
  }

 private:
  bool add_prefix_space_;
  std::optional<std::unique_ptr<RegexSplit>> regex_;
};

class MetaspaceStep final : public PreTokenizerStep {
 public:
  MetaspaceStep(std::string_view replacement, std::string_view scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {}
  void run(std::string_view piece, bool at_start, const WordSink& next) const override {
    std::string text;
    text.reserve(piece.size() + replacement_.size());
    const bool prepend = (scheme_ == "always" || (scheme_ == "first" && at_start)) &&
                         !(piece.substr(0, replacement_.size()) == replacement_) && !(piece.substr(0, 1) == " ");
    if (prepend) text += replacement_;
    for (const char c : piece) {
      if (c == ' ') {
        text += replacement_;
      } else {
        text += c;
      }
    }
    if (!split_) {
      next(text, at_start);
      return;
    }
    StringSplit(replacement_, SplitBehavior::kMergedWithNext, false).run(text, at_start, next);
  }

 private:
  std::string replacement_;
  std::string scheme_;
  bool split_;
};

class BertStep final : public PreTokenizerStep {
 public:
  void run(std::string_view piece, bool at_start, const WordSink& next) const override {
    const auto punct = make_char_split(is_punctuation, SplitBehavior::kIsolated);
    CharSplit<bool (*)(uint32_t)>(is_white_space, SplitBehavior::kRemoved)
        .run(piece, at_start, [&](std::string_view word, bool start) { punct->run(word, start, next); });
  }
};

}  // namespace

std::unique_ptr<PreTokenizerStep> make_regex_split(std::string_view pattern, SplitBehavior behavior, bool invert) {
  return std::make_unique<RegexSplit>(pattern, behavior, invert);
}
std::unique_ptr<PreTokenizerStep> make_string_split(std::string_view literal, SplitBehavior behavior, bool invert) {
  return std::make_unique<StringSplit>(literal, behavior, invert);
}
std::unique_ptr<PreTokenizerStep> make_byte_level(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelStep>(add_prefix_space, use_regex);
}
std::unique_ptr<PreTokenizerStep> make_digits(bool individual) {
  return make_char_split([](uint32_t cp) { return cp >= '0' && cp <= '9'; },
                         individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
}
std::unique_ptr<PreTokenizerStep> make_metaspace(std::string_view replacement, std::string_view prepend_scheme,
                                                 bool split) {
  return std::make_unique<MetaspaceStep>(replacement, prepend_scheme, split);
}
std::unique_ptr<PreTokenizerStep> make_punctuation(SplitBehavior behavior) {
  return make_char_split(is_punctuation, behavior);
}
std::unique_ptr<PreTokenizerStep> make_whitespace() {
  // Hugging Face keeps the matches of \w+|[^\w\s]+ and drops what lies between them.
  return make_regex_split("\\w+|[^\\w\\s]+", SplitBehavior::kRemoved, /*invert=*/true);
}
std::unique_ptr<PreTokenizerStep> make_whitespace_split() {
  return make_char_split(is_white_space, SplitBehavior::kRemoved);
}
std::unique_ptr<PreTokenizerStep> make_bert() { return std::make_unique<BertStep>(); }

void PreTokenizer::run(std::string_view text, bool at_start, const WordSink& sink) const {
  run_from(0, text, at_start, sink);
}

void PreTokenizer::run_from(size_t step, std::string_view piece, bool at_start, const WordSink& sink) const {
  if (piece.empty()) return;
  if (step == steps_.size()) {
    sink(piece, at_start);
    return;
  }
  // One pointer captured, so the std::function below stays within its inline buffer.
  struct Next {
    const PreTokenizer* self;
    size_t step;
    const WordSink* sink;
  } ctx{this, step + 1, &sink};
  steps_[step]->run(piece, at_start, [&ctx](std::string_view word, bool start) {
    ctx.self->run_from(ctx.step, word, start, *ctx.sink);
  });
}

}  // namespace frugal
