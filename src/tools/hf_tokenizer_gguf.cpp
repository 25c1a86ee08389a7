#include "tools/hf_tokenizer_gguf.h"

#include <filesystem>
#include <map>
#include <optional>
#include <unordered_map>

#include "base/error.h"
#include "tokenizer/file_reader.h"
#include "tokenizer/sentencepiece_model.h"

namespace frugal {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// llama.cpp's token types (tokenizer.ggml.token_type).
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

std::optional<fs::path> first_existing(const fs::path& dir, std::initializer_list<const char*> names) {
  std::error_code ec;
  for (const char* n : names) {
    if (fs::exists(dir / n, ec)) return dir / n;
  }
  return std::nullopt;
}

json parse_file(const fs::path& path) {
  const std::string text = read_tokenizer_file(path.string());
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path.string(), e.what());
  }
}

// The special-looking tokens llama.cpp's converter marks CONTROL even when not flagged.
bool looks_special(const std::string& t) {
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  auto wrapped = [&](std::string_view a, std::string_view b) {
    return t.size() >= a.size() + b.size() && t.starts_with(a) && t.ends_with(b);
  };
  return wrapped("<|", "|>") || wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") || wrapped("<start_of_", ">") ||
         wrapped("<end_of_", ">");
}

bool is_byte_token(const std::string& t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
  return t.size() == 6 && t.starts_with("<0x") && t.back() == '>' && hex(t[3]) && hex(t[4]);
}

// The first component of this type in a pre-tokenizer / post-processor tree.
const json* find_type(const json& j, std::string_view type) {
  if (j.is_object()) {
    if (const auto it = j.find("type"); it != j.end() && it->is_string() && it->get<std::string>() == type) return &j;
    for (const auto& [k, v] : j.items()) {
      if (const json* found = find_type(v, type)) return found;
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      if (const json* found = find_type(v, type)) return found;
    }
  }
  return nullptr;
}

bool contains_type(const json& j, std::string_view type) { return find_type(j, type) != nullptr; }

void collect_split_regexes(const json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    const auto type = j.find("type");
    if (type != j.end() && type->is_string() && type->get<std::string>() == "Split") {
      const auto pattern = j.find("pattern");
      if (pattern != j.end() && pattern->is_object() && pattern->contains("Regex") && (*pattern)["Regex"].is_string()) {
        out.push_back((*pattern)["Regex"].get<std::string>());
      }
    }
    for (const auto& [k, v] : j.items()) collect_split_regexes(v, out);
  } else if (j.is_array()) {
    for (const auto& v : j) collect_split_regexes(v, out);
  }
}

// llama.cpp names pre-tokenizers by a hash of encodings; we recognise the split regex of
// the families we import instead.
std::string pre_tokenizer_name(const json& tok) {
  std::vector<std::string> regexes;
  collect_split_regexes(tok.value("pre_tokenizer", json()), regexes);
  if (regexes.empty()) return "gpt-2";  // ByteLevel with its own GPT-2 regex
  if (regexes.size() == 1) {
    const std::string& r = regexes[0];
    const std::string letters = "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|";
    if (r.find(letters + "\\p{N}{1,3}|") != std::string::npos) return "llama-bpe";
    if (r.find(letters + "\\p{N}|") != std::string::npos) return "qwen2";
    if (r.find("[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}|") != std::string::npos) return "qwen35";
  }
  return "default";
}

std::string merge_string(const json& m, const std::string& source) {
  if (m.is_string()) return m.get<std::string>();
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    return m[0].get<std::string>() + " " + m[1].get<std::string>();
  }
  fail("{}: model.merges entry {} is neither \"a b\" nor [\"a\", \"b\"]", source, m.dump());
}

struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::unordered_map<std::string, int32_t> ids;
};

// Tokens by id: the BPE vocabulary, then added tokens; holes become [PAD<id>].
Vocabulary read_vocabulary(const json& tok, const std::string& source, int64_t vocab_size, bool spm_style) {
  const json& model = tok["model"];
  const auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object()) fail("{}: model.vocab is missing or not an object", source);
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  for (const auto& [text, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) fail("{}: model.vocab '{}' has id {}, expected >= 0", source, text, id.dump());
    by_id[id.get<int64_t>()] = {text, spm_style && is_byte_token(text) ? kByte : kNormal};
  }
  const std::string unk = model.value("unk_token", json()).is_string() ? model["unk_token"].get<std::string>() : "";
  for (const auto& a : tok.value("added_tokens", json::array())) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
        !a["content"].is_string()) {
      fail("{}: added_tokens entry {} needs an integer 'id' and a string 'content'", source, a.dump());
    }
    const std::string content = a["content"].get<std::string>();
    int32_t type = a.value("special", false) || looks_special(content) ? kControl : kUserDefined;
    if (spm_style && content == unk) type = kUnknown;
    by_id[a["id"].get<int64_t>()] = {content, type};
  }
  const int64_t n = std::max<int64_t>(vocab_size, by_id.empty() ? 0 : by_id.rbegin()->first + 1);
  if (n > (int64_t{1} << 24)) fail("{}: {} tokens is more than frugal accepts", source, n);
  Vocabulary v;
  for (int64_t i = 0; i < n; ++i) {
    if (const auto it = by_id.find(i); it != by_id.end()) {
      v.tokens.push_back(it->second.first);
      v.types.push_back(it->second.second);
      v.ids.emplace(it->second.first, static_cast<int32_t>(i));
    } else {
      v.tokens.push_back("[PAD" + std::to_string(i) + "]");
      v.types.push_back(kUnused);
    }
  }
  return v;
}

std::optional<std::string> token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return std::nullopt;
}

void set_special_ids(GgufMetadata& md, const Vocabulary& v, const json& tconfig, const json& config) {
  static const std::pair<const char*, const char*> kKinds[] = {
      {"bos", "bos_token_id"}, {"eos", "eos_token_id"}, {"unk", "unknown_token_id"}, {"pad", "padding_token_id"}};
  for (const auto& [kind, key] : kKinds) {
    std::optional<int64_t> id;
    if (const auto t = token_content(tconfig.value(std::string(kind) + "_token", json()))) {
      if (const auto it = v.ids.find(*t); it != v.ids.end()) id = it->second;
    }
    if (!id) {
      const json c = config.value(std::string(kind) + "_token_id", json());
      if (c.is_number_integer()) id = c.get<int64_t>();
      if (c.is_array() && !c.empty() && c[0].is_number_integer()) id = c[0].get<int64_t>();
    }
    if (id && *id >= 0 && *id < static_cast<int64_t>(v.tokens.size())) {
      md.set(std::string("tokenizer.ggml.") + key, GgufValue::u32(static_cast<uint32_t>(*id)));
    }
  }
}

// add_bos/add_eos: tokenizer_config.json's flags, else what the post-processor wraps a
// single sequence with.
void set_add_flags(GgufMetadata& md, const json& tok, const json& tconfig, const GgufMetadata& ids,
                   const Vocabulary& v) {
  for (const char* kind : {"bos", "eos"}) {
    const std::string key = std::string("add_") + kind + "_token";
    if (const auto it = tconfig.find(key); it != tconfig.end() && it->is_boolean()) {
      md.set("tokenizer.ggml." + key, GgufValue::boolean(it->get<bool>()));
    }
  }
  if (md.has("tokenizer.ggml.add_bos_token")) return;
  const json processor = tok.value("post_processor", json());
  const json* post = find_type(processor, "TemplateProcessing");
  if (post == nullptr || !post->contains("single") || !(*post)["single"].is_array() || (*post)["single"].empty()) {
    // A post-processor that adds nothing (e.g. ByteLevel alone): Hugging Face adds no BOS.
    if (processor.is_object()) {
      md.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(false));
      md.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
    }
    return;
  }
  const json& single = (*post)["single"];
  auto special_id = [&](const json& item) -> std::optional<int64_t> {
    if (!item.is_object() || !item.contains("SpecialToken")) return std::nullopt;
    const auto t = item["SpecialToken"].value("id", json());
    if (!t.is_string()) return std::nullopt;
    const auto it = v.ids.find(t.get<std::string>());
    return it == v.ids.end() ? std::nullopt : std::optional<int64_t>(it->second);
  };
  const auto bos = ids.get_int("tokenizer.ggml.bos_token_id");
  const auto eos = ids.get_int("tokenizer.ggml.eos_token_id");
  const auto first = special_id(single.front()), last = special_id(single.back());
  md.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(bos && first && *first == *bos));
  md.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(eos && last && *last == *eos && single.size() > 1));
}

void set_chat_template(GgufMetadata& md, const fs::path& dir, const json& tconfig) {
  const json t = tconfig.value("chat_template", json());
  if (t.is_string()) {
    md.set("tokenizer.chat_template", GgufValue::str(t.get<std::string>()));
  } else if (t.is_array()) {
    for (const auto& entry : t) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template")) continue;
      const std::string name = entry["name"].get<std::string>();
      const std::string text = entry["template"].get<std::string>();
      md.set(name == "default" ? "tokenizer.chat_template" : "tokenizer.chat_template." + name, GgufValue::str(text));
    }
  }
  if (!md.has("tokenizer.chat_template")) {
    if (const auto jinja = first_existing(dir, {"chat_template.jinja"})) {
      md.set("tokenizer.chat_template", GgufValue::str(read_tokenizer_file(jinja->string())));
    }
  }
}

}  // namespace

GgufMetadata hf_tokenizer_metadata(const std::string& dir_name, const json& config, int64_t vocab_size) {
  const fs::path dir(dir_name);
  GgufMetadata md("tokenizer of " + dir_name);
  json tconfig = json::object();
  if (const auto p = first_existing(dir, {"tokenizer_config.json"})) tconfig = parse_file(*p);

  const auto tok_path = first_existing(dir, {"tokenizer.json", "tokenizer.json.gz", "tokenizer.json.xz"});
  const auto spm_path = first_existing(dir, {"tokenizer.model"});
  if (!tok_path && !spm_path) fail("{}: no tokenizer.json or tokenizer.model", dir_name);

  // Like the converter, a SentencePiece model wins when the tokenizer is not byte-level.
  json tok;
  if (tok_path) tok = parse_file(*tok_path);
  const bool byte_level = tok_path && (contains_type(tok.value("pre_tokenizer", json()), "ByteLevel") ||
                                       contains_type(tok.value("decoder", json()), "ByteLevel"));
  if (spm_path && !byte_level) {
    GgufMetadata spm = sentencepiece_to_gguf(parse_sentencepiece_model(spm_path->string()));
    for (const auto& [k, v] : spm.entries()) md.set(k, v);
    set_chat_template(md, dir, tconfig);
    return md;
  }
  const std::string source = tok_path->string();
  if (!tok.is_object() || !tok.contains("model") || !tok["model"].is_object()) fail("{}: no 'model' object", source);
  const json& model = tok["model"];
  if (model.value("type", "BPE") != "BPE") {
    fail("{}: model type '{}' is not supported for conversion (BPE)", source, model.value("type", ""));
  }
  const bool spm_style = !byte_level;
  Vocabulary v = read_vocabulary(tok, source, vocab_size, spm_style);
  std::vector<std::string> merges;
  for (const auto& m : model.value("merges", json::array())) merges.push_back(merge_string(m, source));

  md.set("tokenizer.ggml.model", GgufValue::str(byte_level ? "gpt2" : "llama"));
  if (byte_level) md.set("tokenizer.ggml.pre", GgufValue::str(pre_tokenizer_name(tok)));
  md.set("tokenizer.ggml.tokens", GgufValue::string_array(v.tokens));
  if (spm_style) {
    // SentencePiece merges the pair whose result scores highest; a BPE merges by rank. A
    // token made by merge r gets -r, so both pick the same pair.
    std::vector<float> scores(v.tokens.size(), 0.0f);
    for (size_t r = 0; r < merges.size(); ++r) {
      const size_t space = merges[r].find(' ');
      if (space == std::string::npos) continue;
      const std::string merged = merges[r].substr(0, space) + merges[r].substr(space + 1);
      const auto it = v.ids.find(merged);
      if (it != v.ids.end() && scores[static_cast<size_t>(it->second)] == 0.0f) {
        scores[static_cast<size_t>(it->second)] = -static_cast<float>(r + 1);
      }
    }
    md.set("tokenizer.ggml.scores", GgufValue::f32_array(scores));
  }
  md.set("tokenizer.ggml.token_type", GgufValue::i32_array(v.types));
  if (byte_level) md.set("tokenizer.ggml.merges", GgufValue::string_array(merges));
  if (spm_style) {
    const bool prefix = contains_type(tok.value("normalizer", json()), "Prepend") ||
                        contains_type(tok.value("pre_tokenizer", json()), "Metaspace");
    md.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(prefix));
  }
  set_special_ids(md, v, tconfig, config);
  set_add_flags(md, tok, tconfig, md, v);
  set_chat_template(md, dir, tconfig);
  return md;
}

}  // namespace frugal
