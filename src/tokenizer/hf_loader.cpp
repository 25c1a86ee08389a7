// Reading tokenizer.json / tokenizer_config.json into HfParts. Every component type the
// file names is either built or refused with an error naming the file and the type, so
// an unsupported tokenizer can never silently give different ids.
#include <filesystem>
#include <sstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/file_reader.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer/wordpiece.h"

namespace frugal {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Context {
  std::string source;
  bool byte_level = false;  // a ByteLevel pre-tokenizer: the model's texts are byte-level
};

std::string str(const json& j, const char* key, std::string fallback = "") {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}
bool flag(const json& j, const char* key, bool fallback) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

[[noreturn]] void unsupported(const Context& c, std::string_view what, const json& j) {
  fail("{}: {} type '{}' is not supported by frugal", c.source, what, str(j, "type", "(none)"));
}

SplitBehavior behavior(const Context& c, const std::string& name) {
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  fail("{}: split behavior '{}' is unknown", c.source, name);
}

// The Metaspace prepend scheme; files older than tokenizers 0.19 say add_prefix_space.
std::string prepend_scheme(const json& j) {
  if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) return j["prepend_scheme"];
  return flag(j, "add_prefix_space", true) ? "always" : "never";
}

std::unique_ptr<Normalizer> build_normalizer(const Context& c, const json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = str(j, "type");
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const json& s : j.at("normalizers")) {
      if (auto n = build_normalizer(c, s)) steps.push_back(std::move(n));
    }
    return make_sequence(std::move(steps));
  }
  if (type == "NFC") return make_unicode_normalizer(UnicodeForm::kNFC);
  if (type == "NFD") return make_unicode_normalizer(UnicodeForm::kNFD);
  if (type == "NFKC") return make_unicode_normalizer(UnicodeForm::kNFKC);
  if (type == "NFKD") return make_unicode_normalizer(UnicodeForm::kNFKD);
  if (type == "Lowercase") return make_lowercase();
  if (type == "Prepend") return make_prepend(str(j, "prepend"));
  if (type == "Strip") return make_strip(flag(j, "strip_left", true), flag(j, "strip_right", true));
  if (type == "StripAccents") return make_strip_accents();
  if (type == "Replace") {
    const json& pattern = j.at("pattern");
    if (pattern.contains("String")) return make_replace_string(pattern["String"].get<std::string>(), str(j, "content"));
    if (pattern.contains("Regex")) return make_replace_regex(pattern["Regex"].get<std::string>(), str(j, "content"));
  }
  if (type == "BertNormalizer") {
    const bool lowercase = flag(j, "lowercase", true);
    const bool strip = j.contains("strip_accents") && j["strip_accents"].is_boolean() ? j["strip_accents"].get<bool>()
                                                                                       : lowercase;
    return make_bert_normalizer(flag(j, "clean_text", true), flag(j, "handle_chinese_chars", true), strip, lowercase);
  }
  unsupported(c, "normalizer", j);
}

void build_pre_tokenizer(Context& c, const json& j, PreTokenizer& pre) {
  if (j.is_null()) return;
  const std::string type = str(j, "type");
  if (type == "Sequence") {
    for (const json& s : j.at("pretokenizers")) build_pre_tokenizer(c, s, pre);
  } else if (type == "Split") {
    const json& pattern = j.at("pattern");
    const SplitBehavior b = behavior(c, str(j, "behavior", "Isolated"));
    const bool invert = flag(j, "invert", false);
    if (pattern.contains("Regex")) {
      pre.add(make_regex_split(pattern["Regex"].get<std::string>(), b, invert));
    } else {
      pre.add(make_string_split(pattern.at("String").get<std::string>(), b, invert));
    }
  } else if (type == "ByteLevel") {
    c.byte_level = true;
    pre.add(make_byte_level(flag(j, "add_prefix_space", true), flag(j, "use_regex", true)));
  } else if (type == "Digits") {
    pre.add(make_digits(flag(j, "individual_digits", false)));
  } else if (type == "Metaspace") {
    pre.add(make_metaspace(str(j, "replacement", "\xE2\x96\x81"), prepend_scheme(j), flag(j, "split", true)));
  } else if (type == "Punctuation") {
    pre.add(make_punctuation(behavior(c, str(j, "behavior", "Isolated"))));
  } else if (type == "Whitespace") {
    pre.add(make_whitespace());
  } else if (type == "WhitespaceSplit") {
    pre.add(make_whitespace_split());
  } else if (type == "BertPreTokenizer") {
    pre.add(make_bert());
  } else {
    unsupported(c, "pre-tokenizer", j);
  }
}

std::unique_ptr<Decoder> build_decoder(const Context& c, const json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = str(j, "type");
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const json& s : j.at("decoders")) {
      if (auto d = build_decoder(c, s)) steps.push_back(std::move(d));
    }
    return make_sequence_decoder(std::move(steps));
  }
  if (type == "ByteLevel") return make_byte_level_decoder();
  if (type == "ByteFallback") return make_byte_fallback_decoder();
  if (type == "Fuse") return make_fuse_decoder();
  if (type == "Metaspace") {
    return make_metaspace_decoder(str(j, "replacement", "\xE2\x96\x81"), prepend_scheme(j) != "never");
  }
  if (type == "Replace" && j.at("pattern").contains("String")) {
    return make_replace_decoder(j["pattern"]["String"].get<std::string>(), str(j, "content"));
  }
  if (type == "Strip") {
    return make_strip_decoder(str(j, "content", " "), j.value("start", size_t{0}), j.value("stop", size_t{0}));
  }
  if (type == "WordPiece") return make_wordpiece_decoder(str(j, "prefix", "##"), flag(j, "cleanup", true));
  unsupported(c, "decoder", j);
}

// Ids of a post-processor's special token entry: {"id": "<s>", "ids": [1], ...} or
// ["<s>", 1] (Roberta/Bert processors).
std::vector<TokenId> special_ids(const json& j) {
  if (j.is_array()) return {j.at(1).get<TokenId>()};
  return j.at("ids").get<std::vector<TokenId>>();
}

void build_post_processor(const Context& c, const json& j, HfParts& p) {
  if (j.is_null()) return;
  const std::string type = str(j, "type");
  if (type == "Sequence") {
    for (const json& s : j.at("processors")) build_post_processor(c, s, p);
  } else if (type == "TemplateProcessing") {
    bool after = false;
    for (const json& item : j.at("single")) {
      if (item.contains("Sequence")) {
        after = true;
        continue;
      }
      const std::string name = item.at("SpecialToken").at("id");
      const json& entry = j.at("special_tokens").at(name);
      auto& target = after ? p.suffix : p.prefix;
      for (TokenId id : special_ids(entry)) target.push_back(id);
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    p.prefix = special_ids(j.at("cls"));
    p.suffix = special_ids(j.at("sep"));
  } else if (type != "ByteLevel") {
    unsupported(c, "post-processor", j);
  }
}

// tokenizer_config.json names tokens as strings or as {"content": ...} objects.
std::string config_token(const json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return str(*it, "content");
  return "";
}

// Qwen2's split pre-tokenizer regex (its tokenizer.json writes the same).
constexpr const char* kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

// The "slow" format (vocab.json + merges.txt + tokenizer_config.json) written as the
// tokenizer.json the fast tokenizer of the same class would build from it.
json synthesize_tokenizer_json(const std::string& dir, const json& config) {
  const std::string cls = str(config, "tokenizer_class");
  json j;
  json merges = json::array();
  std::istringstream lines(read_tokenizer_file((fs::path(dir) / "merges.txt").string()));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    merges.push_back(line);
  }
  j["model"] = {{"type", "BPE"},
                {"vocab", json::parse(read_tokenizer_file((fs::path(dir) / "vocab.json").string()))},
                {"merges", std::move(merges)}};
  j["decoder"] = {{"type", "ByteLevel"}};
  if (cls == "Qwen2Tokenizer" || cls == "Qwen2TokenizerFast") {
    j["normalizer"] = {{"type", "NFC"}};
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers",
                           {{{"type", "Split"}, {"pattern", {{"Regex", kQwen2Pattern}}}, {"behavior", "Isolated"}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  } else if (cls == "GPT2Tokenizer" || cls == "GPT2TokenizerFast") {
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", flag(config, "add_prefix_space", false)}};
  } else {
    fail("{}: vocab.json + merges.txt of tokenizer_class '{}' is not supported by frugal (Qwen2Tokenizer, "
         "GPT2Tokenizer are); a tokenizer.json is",
         dir, cls);
  }
  json added = json::array();
  const json decoder_entries = config.value("added_tokens_decoder", json::object());
  for (const auto& [id, t] : decoder_entries.items()) {
    json entry = t;
    entry["id"] = std::stoi(id);
    added.push_back(std::move(entry));
  }
  j["added_tokens"] = std::move(added);
  return j;
}

void resolve_paths(const std::string& path, std::string& tokenizer_json, std::string& config_json) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const char* name : {"tokenizer.json", "tokenizer.json.gz", "tokenizer.json.xz"}) {
      if (fs::exists(fs::path(path) / name, ec)) {
        tokenizer_json = (fs::path(path) / name).string();
        break;
      }
    }
    const bool slow = fs::exists(fs::path(path) / "vocab.json", ec) && fs::exists(fs::path(path) / "merges.txt", ec);
    if (tokenizer_json.empty() && !slow) {
      fail("{}: no tokenizer.json (or tokenizer.json.gz / .xz, or vocab.json + merges.txt) in this directory", path);
    }
    if (tokenizer_json.empty()) tokenizer_json = path;  // the directory itself stands for the slow files
  } else {
    if (!fs::exists(path, ec)) fail("{}: no such tokenizer file or directory", path);
    tokenizer_json = path;
  }
  const fs::path base = fs::is_directory(tokenizer_json, ec) ? fs::path(tokenizer_json) : fs::path(tokenizer_json).parent_path();
  const fs::path config = base / "tokenizer_config.json";
  if (fs::exists(config, ec)) config_json = config.string();
}

void load_model(Context& c, const json& model, HfParts& p, std::unordered_map<std::string, TokenId>& vocab) {
  std::string type = str(model, "type");
  if (type.empty()) type = model.contains("merges") ? "BPE" : model.contains("vocab") ? "WordPiece" : "";
  if (type != "BPE" && type != "WordPiece") unsupported(c, "model", model);
  for (const auto& [text, id] : model.at("vocab").items()) vocab.emplace(text, id.get<TokenId>());
  TokenId max_id = -1;
  for (const auto& [text, id] : vocab) max_id = std::max(max_id, id);
  p.texts.resize(static_cast<size_t>(max_id + 1));
  for (const auto& [text, id] : vocab) {
    if (id < 0) fail("{}: vocabulary entry '{}' has the negative id {}", c.source, text, id);
    p.texts[static_cast<size_t>(id)] = text;
  }
  const std::string unk_text = str(model, "unk_token");
  const auto unk_it = vocab.find(unk_text);
  const TokenId unk = unk_it == vocab.end() ? -1 : unk_it->second;
  p.special.unk = unk;

  if (type == "WordPiece") {
    p.model = std::make_unique<WordPieceModel>(vocab, str(model, "continuing_subword_prefix", "##"), unk,
                                               model.value("max_input_chars_per_word", size_t{100}));
    return;
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!str(model, key).empty()) fail("{}: BPE with a {} is not supported by frugal", c.source, key);
  }
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() > 0.0) {
    fail("{}: BPE dropout (random segmentation) is not supported by frugal", c.source);
  }
  BpeOptions o;
  o.bytes = c.byte_level;
  o.ignore_merges = flag(model, "ignore_merges", false);
  o.byte_fallback = flag(model, "byte_fallback", false);
  o.fuse_unk = flag(model, "fuse_unk", false);
  o.unk = unk;

  std::vector<std::string> token_bytes(p.texts.size());
  for (size_t id = 0; id < p.texts.size(); ++id) {
    if (!c.byte_level) {
      token_bytes[id] = p.texts[id];
    } else if (auto bytes = byte_level::decode(p.texts[id])) {
      token_bytes[id] = std::move(*bytes);
    }
  }
  const json& merge_list = model.at("merges");
  std::vector<std::pair<TokenId, TokenId>> merges;
  merges.reserve(merge_list.size());
  const auto id_of = [&](const std::string& text, size_t rank) {
    const auto it = vocab.find(text);
    if (it == vocab.end()) fail("{}: merge {} names '{}', which is not in the vocabulary", c.source, rank, text);
    return it->second;
  };
  for (size_t rank = 0; rank < merge_list.size(); ++rank) {
    const json& m = merge_list[rank];
    std::string left, right;
    if (m.is_array()) {
      left = m.at(0).get<std::string>();
      right = m.at(1).get<std::string>();
    } else {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ', 1);
      if (space == std::string::npos) fail("{}: merge {} '{}' is not two tokens and a space", c.source, rank, s);
      left = s.substr(0, space);
      right = s.substr(space + 1);
    }
    merges.emplace_back(id_of(left, rank), id_of(right, rank));
  }
  p.model = std::make_unique<BpeModel>(c.source, token_bytes, merges, o);
}

}  // namespace

HfParts load_hf_parts(const std::string& path) {
  std::string tokenizer_json, config_json;
  resolve_paths(path, tokenizer_json, config_json);
  Context c{tokenizer_json};
  json config = json::object();
  if (!config_json.empty()) {
    try {
      config = json::parse(read_tokenizer_file(config_json));
    } catch (const json::exception& e) {
      fail("{}: not valid JSON: {}", config_json, e.what());
    }
  }
  json j;
  try {
    std::error_code ec;
    j = fs::is_directory(tokenizer_json, ec) ? synthesize_tokenizer_json(tokenizer_json, config)
                                             : json::parse(read_tokenizer_file(tokenizer_json));
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", tokenizer_json, e.what());
  }

  HfParts p;
  p.source = tokenizer_json;
  try {
    // The pre-tokenizer first: whether it is byte-level decides how the model's texts read.
    build_pre_tokenizer(c, j.value("pre_tokenizer", json()), p.pre_tokenizer);
    std::unordered_map<std::string, TokenId> vocab;
    load_model(c, j.at("model"), p, vocab);
    p.normalizer = build_normalizer(c, j.value("normalizer", json()));
    p.decoder = build_decoder(c, j.value("decoder", json()));
    build_post_processor(c, j.value("post_processor", json()), p);

    for (const json& a : j.value("added_tokens", json::array())) {
      AddedToken t;
      t.id = a.at("id").get<TokenId>();
      t.content = a.at("content").get<std::string>();
      t.special = flag(a, "special", false);
      t.lstrip = flag(a, "lstrip", false);
      t.rstrip = flag(a, "rstrip", false);
      t.normalized = flag(a, "normalized", !t.special);
      t.single_word = flag(a, "single_word", false);
      if (t.id < 0) fail("{}: added token '{}' has the negative id {}", c.source, t.content, t.id);
      if (static_cast<size_t>(t.id) >= p.texts.size()) p.texts.resize(static_cast<size_t>(t.id) + 1);
      p.texts[static_cast<size_t>(t.id)] = t.content;
      p.added.push_back(std::move(t));
    }
  } catch (const json::exception& e) {
    fail("{}: unexpected structure: {}", c.source, e.what());
  }

  // Kinds and the bytes each token stands for.
  const size_t n = p.texts.size();
  p.kinds.assign(n, TokenKind::NORMAL);
  p.pieces.resize(n);
  const bool byte_fallback_vocab = !c.byte_level;
  for (size_t id = 0; id < n; ++id) {
    const std::string& t = p.texts[id];
    if (t.empty()) {
      p.kinds[id] = TokenKind::UNUSED;
    } else if (c.byte_level) {
      p.pieces[id] = byte_level::decode_lenient(t);
    } else if (byte_fallback_vocab && parse_byte_token(t) >= 0) {
      p.kinds[id] = TokenKind::BYTE;
      p.pieces[id] = std::string(1, static_cast<char>(parse_byte_token(t)));
    } else if (t.rfind("##", 0) == 0 && dynamic_cast<WordPieceModel*>(p.model.get())) {
      p.pieces[id] = t.substr(2);
    } else {
      p.pieces[id] = utf8::replace_all(t, "\xE2\x96\x81", " ");
    }
  }
  if (p.special.unk >= 0) p.kinds[static_cast<size_t>(p.special.unk)] = TokenKind::UNKNOWN;
  for (const AddedToken& t : p.added) {
    p.kinds[static_cast<size_t>(t.id)] = t.special ? TokenKind::CONTROL : TokenKind::USER_DEFINED;
    p.pieces[static_cast<size_t>(t.id)] = t.content;
  }

  // Special tokens: named by tokenizer_config.json, else implied by the post-processor.
  const auto find_text = [&](const std::string& text) -> TokenId {
    if (text.empty()) return -1;
    for (const AddedToken& t : p.added) {
      if (t.content == text) return t.id;
    }
    for (size_t id = 0; id < n; ++id) {
      if (p.texts[id] == text) return static_cast<TokenId>(id);
    }
    return -1;
  };
  p.special.bos = find_text(config_token(config, "bos_token"));
  p.special.eos = find_text(config_token(config, "eos_token"));
  p.special.pad = find_text(config_token(config, "pad_token"));
  if (p.special.bos < 0 && !p.prefix.empty()) p.special.bos = p.prefix.front();
  if (p.special.eos < 0 && !p.suffix.empty()) p.special.eos = p.suffix.back();
  p.special.add_bos = !p.prefix.empty();
  p.special.add_eos = !p.suffix.empty();
  for (const char* text : {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>"}) {
    if (p.special.eot < 0) p.special.eot = find_text(text);
  }
  if (c.byte_level) {
    p.special.nl = find_text("\xC4\x8A");  // "\n" in the byte alphabet
  } else {
    p.special.nl = find_text("<0x0A>");
  }
  return p;
}

std::unique_ptr<Tokenizer> Tokenizer::from_hf(const std::string& path) {
  return std::make_unique<HfTokenizer>(load_hf_parts(path));
}

}  // namespace frugal
