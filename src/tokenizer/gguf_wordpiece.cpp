// WordPiece ("bert") GGUF vocabularies, run as Hugging Face's BERT pipeline: the vectors
// these files are checked against come from Hugging Face's BertTokenizerFast.
#include <string>
#include <unordered_map>

#include "base/error.h"
#include "format/gguf.h"
#include "tokenizer/gguf_bpe.h"
#include "tokenizer/utf8.h"
#include "tokenizer/wordpiece.h"

namespace frugal {
namespace {

// (Written out because GCC 12 warns falsely about `const char* + std::string` here.)
std::string concat(std::string_view a, std::string_view b) {
  std::string s;
  s.reserve(a.size() + b.size());
  s.append(a);
  s.append(b);
  return s;
}

}  // namespace

std::unique_ptr<Tokenizer> GgufPipelineTokenizer::wordpiece_from_gguf(const GgufMetadata& metadata) {
  VocabDefaults defaults;
  // BERT's ids ([CLS] 101, [UNK] 100, [SEP] 102, [PAD] 0, [MASK] 103), llama.cpp's defaults.
  defaults.bos = 101;
  defaults.unk = 100;
  defaults.sep = 102;
  defaults.pad = 0;
  defaults.mask = 103;
  defaults.add_bos = true;
  Vocab vocab = Vocab::load(metadata, defaults);

  // llama.cpp's converter writes a word-initial piece as "\u2581piece" and a continuation
  // as "piece"; Hugging Face spells them "piece" and "##piece".
  std::unordered_map<std::string, TokenId> pieces_by_text;
  std::vector<std::string> pieces(static_cast<size_t>(vocab.size()));
  const std::string_view marker = utf8::kSpaceMarker;
  for (TokenId id = 0; id < vocab.size(); ++id) {
    const TokenData& t = vocab.token(id);
    if (t.attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      pieces[id] = t.text;
      continue;
    }
    const std::string_view text = t.text;
    if (text.substr(0, marker.size()) == marker) {
      pieces_by_text.emplace(std::string(text.substr(marker.size())), id);
      pieces[id] = concat(" ", text.substr(marker.size()));
    } else {
      pieces_by_text.emplace(concat("##", text), id);
      pieces[id] = t.text;
    }
  }
  const bool lowercase = metadata.get_bool("tokenizer.ggml.normalizer.lowercase").value_or(true);
  const bool strip_accents = metadata.get_bool("tokenizer.ggml.normalizer.strip_accents").value_or(lowercase);

  auto model = std::make_unique<WordPieceModel>(std::move(pieces_by_text), "##", vocab.special().unk, 100);
  PreTokenizer pre;
  pre.add(make_bert());
  auto tok = std::unique_ptr<GgufPipelineTokenizer>(new GgufPipelineTokenizer(
      std::move(vocab), std::move(model), std::move(pre),
      make_bert_normalizer(/*clean_text=*/true, /*handle_chinese_chars=*/true, strip_accents, lowercase),
      std::move(pieces)));
  tok->strip_first_space_ = true;
  tok->add_sep_ = true;
  return tok;
}

}  // namespace frugal
