// Shared by the vector tests: reading llama.cpp's .inp/.out files, loading tokenizers once
// per process, and printing id lists.
#pragma once

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace frugal::test {

// Split exactly as llama.cpp's test-tokenizer-0 does (see vocab/PROVENANCE.md).
std::vector<std::string> read_vocab_inputs(const std::string& path);
std::vector<std::vector<TokenId>> read_vocab_outputs(const std::string& path);

// Tokenizers loaded from test data, cached for the life of the test process (the big
// tokenizer.json files take a while to parse). `relative` is under the test data folder.
const Tokenizer& gguf_tokenizer(const std::string& relative);
const Tokenizer& hf_tokenizer(const std::string& relative);

std::string show_ids(const std::vector<TokenId>& ids);

}  // namespace frugal::test
