// Every vocab/*.inp + .out pair of llama.cpp's test vectors (expected ids generated with
// Hugging Face tokenizers), each run through the GGUF vocabulary beside it, or, where the
// GGUF is not in the test data, through an equivalent vocabulary named below. A pair that
// cannot be run fails, naming the missing vocabulary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

#include "format/gguf.h"
#include "support/test_support.h"
#include "tokenizer/vectors_common.h"

namespace frugal {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> vector_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(test::testdata("vocab"))) {
    const std::string file = entry.path().filename().string();
    const std::string suffix = ".gguf.inp";
    if (file.size() > suffix.size() && file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(file.substr(0, file.size() - std::string(".inp").size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Vocabularies whose GGUF is too big for the test data, run through an equivalent file.
// qwen35: the same 151643-token Qwen vocabulary (all ids in the vectors are below it) with
// the qwen35 pre-tokenizer set in the metadata.
std::unique_ptr<Tokenizer> substitute(const std::string& name, std::string& how) {
  if (name == "ggml-vocab-qwen35.gguf") {
    how = "vocab/ggml-vocab-qwen2.gguf with tokenizer.ggml.pre = qwen35";
    auto file = GgufFile::open(test::testdata("vocab/ggml-vocab-qwen2.gguf"));
    GgufMetadata meta = file->metadata();
    meta.set("tokenizer.ggml.pre", GgufValue::str("qwen35"));
    return Tokenizer::from_gguf(meta);
  }
  if (name == "ggml-vocab-gemma-4.gguf") {
    how = "hf-tok-gemma3/tokenizer.json.xz";
    return Tokenizer::from_hf(test::testdata("hf-tok-gemma3/tokenizer.json.xz"));
  }
  return nullptr;
}

TEST(VocabVectors, EveryFileMatchesHuggingFace) {
  const std::vector<std::string> names = vector_names();
  ASSERT_GE(names.size(), 15u);
  size_t total_passed = 0, total_cases = 0;
  std::vector<std::string> not_run;
  for (const std::string& name : names) {
    const std::string base = "vocab/" + name;
    std::string how = base;
    std::unique_ptr<Tokenizer> owned;
    const Tokenizer* tok = nullptr;
    try {
      if (fs::exists(test::testdata_dir() + "/" + base)) {
        tok = &test::gguf_tokenizer(base);
      } else {
        owned = substitute(name, how);
        tok = owned.get();
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": cannot load " << how << ": " << e.what();
      continue;
    }
    if (tok == nullptr) {
      // Reported below.
      not_run.push_back(name);
      continue;
    }
    const auto inputs = test::read_vocab_inputs(test::testdata(base + ".inp"));
    const auto outputs = test::read_vocab_outputs(test::testdata(base + ".out"));
    ASSERT_EQ(inputs.size(), outputs.size()) << name;
    size_t passed = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::vector<TokenId> got = tok->encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
      if (got == outputs[i]) {
        ++passed;
      } else {
        ADD_FAILURE() << name << " case " << i << " " << nlohmann::json(inputs[i]).dump() << "\n  got      "
                      << test::show_ids(got) << "\n  expected " << test::show_ids(outputs[i]);
      }
    }
    std::cout << "[ vectors  ] " << name << " via " << how << ": " << passed << "/" << inputs.size()
              << " cases pass\n";
    total_passed += passed;
    total_cases += inputs.size();
  }
  std::cout << "[ vectors  ] all vocab files: " << total_passed << "/" << total_cases << " cases pass\n";
  // Only Command-R's vocabulary (256000 tokens, GGUF over the data's 4 MiB file limit, no
  // tokenizer.json in the test data) is known to be missing; anything else is a failure.
  for (const std::string& name : not_run) {
    const size_t n = test::read_vocab_inputs(test::testdata("vocab/" + name + ".inp")).size();
    std::cout << "[ NOT RUN  ] " << name << ": its vocabulary is not in the test data and no equivalent file "
              << "is known, so its " << n << " vectors cannot run\n";
    if (name != "ggml-vocab-command-r.gguf") ADD_FAILURE() << name << ": no vocabulary to run its vectors";
  }
}

}  // namespace
}  // namespace frugal
