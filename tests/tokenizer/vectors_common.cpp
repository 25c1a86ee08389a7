#include "tokenizer/vectors_common.h"

#include "format/gguf.h"
#include "support/test_support.h"

namespace frugal::test {

std::vector<std::string> read_vocab_inputs(const std::string& path) {
  const std::string raw = read_file(path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      out.push_back(raw.substr(pos));
      break;
    }
    out.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  return out;
}

std::vector<std::vector<TokenId>> read_vocab_outputs(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<std::vector<TokenId>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<TokenId> ids;
    for (TokenId id; fields >> id;) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

const Tokenizer& gguf_tokenizer(const std::string& relative) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[relative];
  if (!slot) {
    auto file = GgufFile::open(testdata(relative));
    slot = Tokenizer::from_gguf(file->metadata());
  }
  return *slot;
}

const Tokenizer& hf_tokenizer(const std::string& relative) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[relative];
  if (!slot) slot = Tokenizer::from_hf(testdata(relative));
  return *slot;
}

std::string show_ids(const std::vector<TokenId>& ids) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < ids.size(); ++i) s << (i ? ", " : "") << ids[i];
  return s.str() + "]";
}

}  // namespace frugal::test
