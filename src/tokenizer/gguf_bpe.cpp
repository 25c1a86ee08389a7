#include "tokenizer/gguf_bpe.h"

#include <algorithm>
#include <initializer_list>

#include "base/error.h"
#include "format/gguf.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace frugal {
namespace {

// The split patterns per tokenizer.ggml.pre. Where Hugging Face's tokenizer.json has one
// Split regex, that regex is used verbatim (PCRE2 handles its (?i:...) and look-ahead);
// the multi-step lists are those llama.cpp uses to reproduce Sequence pre-tokenizers.
constexpr const char* kLlama3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
constexpr const char* kQwen35 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kGpt2Words = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

struct PreConfig {
  std::vector<std::string> patterns;
  bool ignore_merges = false;
  bool add_bos = false;
  bool nfc = false;
};

bool is_one_of(std::string_view pre, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), pre) != names.end();
}

PreConfig pre_config(const std::string& source, const std::string& pre) {
  if (pre.empty() || pre == "default") {
    return {{"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2Words, "\\p{N}+", "[0-9][0-9][0-9]"}};
  }
  if (is_one_of(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "midm-2.0", "lfm2"})) {
    return {{kLlama3}, /*ignore_merges=*/true, /*add_bos=*/true};
  }
  if (is_one_of(pre, {"dbrx", "smaug-bpe", "chatglm-bpe"})) return {{kLlama3}};
  if (is_one_of(pre, {"qwen2", "deepseek-r1-qwen", "stablelm2", "hunyuan", "kormo"})) {
    // Qwen's tokenizer.json puts an NFC normalizer in front; llama.cpp skips it, we don't.
    return {{kQwen2}, false, false, /*nfc=*/pre != "stablelm2"};
  }
  // Qwen3.5 dropped the NFC step (its vectors keep decomposed accents apart).
  if (pre == "qwen35") return {{kQwen35}};
  // Non-ASCII characters are written as \x{...} so no editor or normalizer can change them.
  if (pre == "deepseek-llm") {
    return {{"[\r\n]",
             "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"
             "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}"
             "\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}"
             "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"
             "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
             "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
             "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}"
             "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
             "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"
             "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
             "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"
             "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"
             "\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
             "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}"
             "\\x{1E900}-\\x{1E943}]+",
             "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+", "\\s+$",
             "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+", "\\p{N}+"}};
  }
  if (pre == "deepseek-coder") {
    return {{"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
             "\\p{N}"}};
  }
  if (is_one_of(pre, {"deepseek-v3", "hunyuan-dense", "joyai-llm"})) {
    return {{"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
             "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
             "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}};
  }
  if (pre == "falcon") {
    return {{"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2Words, "[0-9][0-9][0-9]"}};
  }
  if (is_one_of(pre, {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva"})) {
    return {{"\\p{N}", kGpt2Words}};
  }
  if (is_one_of(pre, {"gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "jina-es", "jina-de",
                      "jina-v2-es", "jina-v2-de", "gigachat", "a.x-4.0", "mellum", "modern-bert", "roberta-bpe",
                      "jina-v1-en", "jina-v2-code", "exaone4"})) {
    return {{std::string(kGpt2Pattern)}};
  }
  if (is_one_of(pre, {"poro-chat", "bloom", "gpt3-finnish"})) return {{" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"}};
  if (pre == "viking") return {{" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+", "\\p{N}"}};
  fail("{}: tokenizer.ggml.pre '{}' is not a pre-tokenizer frugal knows; supported: default, gpt-2, llama-bpe, "
       "qwen2, qwen35, deepseek-llm, deepseek-coder, deepseek-v3, falcon, mpt, starcoder, refact, command-r, "
       "smollm, dbrx, bloom, viking and aliases",
       source, pre);
}

}  // namespace

std::unique_ptr<Tokenizer> GgufPipelineTokenizer::bpe_from_gguf(const GgufMetadata& metadata) {
  const std::string source = metadata.source();
  const std::string pre = metadata.get_string("tokenizer.ggml.pre").value_or("");
  PreConfig config = pre_config(source, pre);

  VocabDefaults defaults;
  // llama.cpp's defaults for BPE vocabularies (Falcon's ids), when the file names none.
  defaults.bos = 11;
  defaults.eos = 11;
  defaults.add_bos = config.add_bos;
  Vocab vocab = Vocab::load(metadata, defaults);

  // Token texts are in GPT-2's byte alphabet; BPE works on the bytes they stand for.
  // Every token whose text reads in that alphabet takes part, whatever its type: merges
  // may produce a token that llama.cpp's load-time fix-ups relabel (Qwen's "</s>").
  std::vector<std::string> token_bytes(static_cast<size_t>(vocab.size()));
  for (TokenId id = 0; id < vocab.size(); ++id) {
    if (auto bytes = byte_level::decode(vocab.token(id).text)) token_bytes[id] = std::move(*bytes);
  }

  const std::vector<std::string> merge_texts = metadata.get_string_array("tokenizer.ggml.merges");
  if (merge_texts.empty()) fail("{}: metadata key 'tokenizer.ggml.merges' is missing or empty", source);
  std::vector<std::pair<TokenId, TokenId>> merges;
  merges.reserve(merge_texts.size());
  for (size_t i = 0; i < merge_texts.size(); ++i) {
    const std::string& m = merge_texts[i];
    // A space separates the two parts; a part never starts with one (spaces are Ġ), so
    // search from the second byte like llama.cpp.
    const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (space == std::string::npos) {
      fail("{}: tokenizer.ggml.merges entry {} '{}' is not two tokens separated by a space", source, i, m);
    }
    const TokenId left = vocab.find(std::string_view(m).substr(0, space));
    const TokenId right = vocab.find(std::string_view(m).substr(space + 1));
    if (left < 0 || right < 0) {
      fail("{}: tokenizer.ggml.merges entry {} '{}' names a token that is not in the vocabulary", source, i, m);
    }
    merges.emplace_back(left, right);
  }

  BpeOptions options;
  options.bytes = true;
  options.ignore_merges = config.ignore_merges;
  auto model = std::make_unique<BpeModel>(source, token_bytes, merges, options);

  PreTokenizer pre_tokenizer;
  for (const std::string& pattern : config.patterns) {
    pre_tokenizer.add(make_regex_split(pattern, SplitBehavior::kIsolated, false));
  }
  std::unique_ptr<Normalizer> normalizer;
  if (config.nfc) normalizer = make_unicode_normalizer(UnicodeForm::kNFC);
  std::vector<std::string> pieces(static_cast<size_t>(vocab.size()));
  for (TokenId id = 0; id < vocab.size(); ++id) {
    const TokenData& t = vocab.token(id);
    // Control and user-defined tokens are shown as written; the rest in their bytes.
    pieces[id] = (t.attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) ? t.text
                                                                              : byte_level::decode_lenient(t.text);
  }
  const TokenId nl = model->find("\n");
  auto tok = std::unique_ptr<GgufPipelineTokenizer>(new GgufPipelineTokenizer(
      std::move(vocab), std::move(model), std::move(pre_tokenizer), std::move(normalizer), std::move(pieces)));
  tok->special_.nl = nl;
  return tok;
}

GgufPipelineTokenizer::GgufPipelineTokenizer(Vocab vocab, std::unique_ptr<WordModel> model, PreTokenizer pre,
                                             std::unique_ptr<Normalizer> normalizer, std::vector<std::string> pieces)
    : vocab_(std::move(vocab)),
      special_(vocab_.special()),
      model_(std::move(model)),
      pre_(std::move(pre)),
      normalizer_(std::move(normalizer)),
      pieces_(std::move(pieces)) {}

std::vector<TokenId> GgufPipelineTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && special_.add_bos) out.push_back(special_.bos);
  // Invalid UTF-8 is read the way Hugging Face's callers must hand it over (as a lossily
  // decoded string): every maximal ill-formed subpart becomes U+FFFD.
  std::string valid_storage;
  const std::string_view valid = utf8::make_valid(text, valid_storage);
  WordCache cache;
  std::string normalized;
  for (const Fragment& f : vocab_.partition(valid, parse_special)) {
    if (!f.is_text()) {
      out.push_back(f.token);
      continue;
    }
    std::string_view fragment = valid.substr(f.offset, f.length);
    if (normalizer_) {
      normalized.assign(fragment);
      normalizer_->apply(normalized);
      fragment = normalized;
    }
    pre_.run(fragment, f.offset == 0, [&](std::string_view word, bool) { cache.encode(*model_, word, out); });
  }
  if (add_special && add_sep_ && special_.sep >= 0) out.push_back(special_.sep);
  if (add_special && special_.add_eos) out.push_back(special_.eos);
  return out;
}

std::string GgufPipelineTokenizer::token_to_piece(TokenId id, bool special) const {
  const uint32_t attr = vocab_.token(id).attr;  // throws for ids outside the vocabulary
  if (!special && (attr & (kAttrControl | kAttrUnknown))) return {};
  return pieces_[static_cast<size_t>(id)];
}

std::string GgufPipelineTokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string text;
  for (const TokenId id : ids) text += token_to_piece(id, !skip_special);
  if (strip_first_space_ && !text.empty() && text[0] == ' ') text.erase(0, 1);
  return text;
}

}  // namespace frugal
