// Tokenizers: encode arbitrary bytes (invalid UTF-8 included) with and without special
// token parsing, then decode the ids and arbitrary ids. Every vocabulary kind we load from
// the shared test data runs each input: SentencePiece (stories260K GGUF), byte-level BPE
// (Llama 3, Qwen3 tokenizer.json), Unigram and WordPiece where present.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string testdata() {
  if (const char* env = std::getenv("FRUGAL_TESTDATA")) return env;
  return FRUGAL_TESTDATA_DIR;
}

std::vector<std::unique_ptr<frugal::Tokenizer>> load_all() {
  std::vector<std::unique_ptr<frugal::Tokenizer>> all;
  const std::string dir = testdata();
  auto gguf = frugal::GgufFile::open(dir + "/stories260K/stories260K.gguf");
  all.push_back(frugal::Tokenizer::from_gguf(gguf->metadata()));
  for (const char* hf : {"hf-tok-llama3", "hf-tok-qwen3", "hf-tok-gemma3", "hf-tok-phi3"}) {
    const std::string path = dir + "/" + hf + "/tokenizer.json";
    if (std::filesystem::exists(path)) all.push_back(frugal::Tokenizer::from_hf(path));
  }
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizers = load_all();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& tok : tokenizers) {
    try {
      const auto ids = tok->encode(text, size % 2 == 0, size % 3 == 0);
      (void)tok->decode(ids, false);
      // The same bytes read as token ids (in range or not: decode must refuse cleanly).
      std::vector<frugal::TokenId> raw(size / 4);
      for (size_t i = 0; i < raw.size(); ++i) {
        raw[i] = static_cast<frugal::TokenId>(data[4 * i] | data[4 * i + 1] << 8 | data[4 * i + 2] << 16 |
                                              static_cast<uint32_t>(data[4 * i + 3]) << 24);
      }
      (void)tok->decode(raw, size % 5 == 0);
    } catch (const frugal::Error&) {
    }
  }
  return 0;
}
