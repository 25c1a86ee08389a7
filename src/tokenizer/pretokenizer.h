// Pre-tokenization: cutting normalized text into the words that BPE/WordPiece encode one
// by one. The steps mirror Hugging Face's pre-tokenizers (Split, ByteLevel, Digits,
// Metaspace, Punctuation, Whitespace...) and llama.cpp's per-vocabulary regex lists,
// which are sequences of Split steps. Each step cuts every piece the previous step gave
// it; pieces stream through the chain to a callback, so no step materialises a list.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace frugal {

// What a Split step does with the parts of a piece that match its pattern.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A word coming out of the chain. `at_start` is true when the word begins at the very start
// of the input (Metaspace's prepend_scheme "first" looks at this).
using WordSink = std::function<void(std::string_view word, bool at_start)>;

class PreTokenizerStep {
 public:
  virtual ~PreTokenizerStep() = default;
  virtual void run(std::string_view piece, bool at_start, const WordSink& next) const = 0;
};

std::unique_ptr<PreTokenizerStep> make_regex_split(std::string_view pattern, SplitBehavior behavior, bool invert);
std::unique_ptr<PreTokenizerStep> make_string_split(std::string_view literal, SplitBehavior behavior, bool invert);
// Byte-level's own part: the optional leading space and GPT-2's split regex. Mapping bytes
// to the byte-level alphabet is left to the BPE model, which works on raw bytes.
std::unique_ptr<PreTokenizerStep> make_byte_level(bool add_prefix_space, bool use_regex);
std::unique_ptr<PreTokenizerStep> make_digits(bool individual);
// Spaces become `replacement`; it is put in front per prepend_scheme ("always", "first",
// "never"); with `split`, each word starts at a replacement character.
std::unique_ptr<PreTokenizerStep> make_metaspace(std::string_view replacement, std::string_view prepend_scheme,
                                                 bool split);
std::unique_ptr<PreTokenizerStep> make_punctuation(SplitBehavior behavior);
std::unique_ptr<PreTokenizerStep> make_whitespace();        // \w+|[^\w\s]+
std::unique_ptr<PreTokenizerStep> make_whitespace_split();  // runs of non-space
// BERT's: split on whitespace, then every punctuation character on its own.
std::unique_ptr<PreTokenizerStep> make_bert();

class PreTokenizer {
 public:
  void add(std::unique_ptr<PreTokenizerStep> step) { steps_.push_back(std::move(step)); }
  bool empty() const { return steps_.empty(); }
  // Feeds every word of `text` to `sink`, in order. Empty words are never produced.
  void run(std::string_view text, bool at_start, const WordSink& sink) const;

 private:
  void run_from(size_t step, std::string_view piece, bool at_start, const WordSink& sink) const;
  std::vector<std::unique_ptr<PreTokenizerStep>> steps_;
};

// GPT-2's pre-tokenizer pattern, as Hugging Face's ByteLevel uses it.
inline constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

}  // namespace frugal
