#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <string>

#include "base/error.h"
#include "format/gguf.h"

namespace frugal {
namespace {

constexpr const char* kTokensKey = "tokenizer.ggml.tokens";
constexpr const char* kScoresKey = "tokenizer.ggml.scores";
constexpr const char* kTypesKey = "tokenizer.ggml.token_type";

// Texts by which llama.cpp recognises special tokens that converters did not label with
// an id. Listed in order of preference: where a vocabulary has several (Phi-3 has both
// "<|end|>" and "<|endoftext|>"), the earlier one is chosen, so the choice does not depend
// on hash-table iteration order as it does in llama.cpp.
const std::vector<std::string_view> kEotTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
const std::vector<std::string_view> kEomTexts = {"<|eom_id|>"};
const std::vector<std::string_view> kFimPreTexts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
    "<|code_prefix|>", "<|prefix|>"};
const std::vector<std::string_view> kFimSufTexts = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
    "<|code_suffix|>", "<|suffix|>"};
const std::vector<std::string_view> kFimMidTexts = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
    "<|code_middle|>", "<|middle|>"};
const std::vector<std::string_view> kFimPadTexts = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
const std::vector<std::string_view> kFimRepTexts = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
const std::vector<std::string_view> kFimSepTexts = {"<|file_sep|>"};

// Every token with one of these texts ends generation, whatever the file says.
const std::vector<std::string_view> kEogTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~["};

// gpt-oss's channel markers must always be rendered, so llama.cpp makes them user-defined.
const std::vector<std::string_view> kAlwaysRenderedTexts = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};

uint32_t attr_from_type(int32_t type) {
  switch (static_cast<TokenKind>(type)) {
    case TokenKind::UNDEFINED: return kAttrUndefined;
    case TokenKind::NORMAL: return kAttrNormal;
    case TokenKind::UNKNOWN: return kAttrUnknown;
    case TokenKind::CONTROL: return kAttrControl;
    case TokenKind::USER_DEFINED: return kAttrUserDefined;
    case TokenKind::UNUSED: return kAttrUnused;
    case TokenKind::BYTE: return kAttrByte;
  }
  return kAttrUndefined;
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool contains_any(std::string_view haystack, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return haystack.find(n) != std::string_view::npos; });
}

std::vector<float> read_scores(const GgufMetadata& metadata) {
  std::vector<float> scores;
  const GgufValue* v = metadata.find(kScoresKey);
  if (v == nullptr) return scores;
  // llama.cpp accepts integer scores too (some converters write INT32).
  GgufValue probe;
  probe.type = v->element_type;
  if (v->type != GgufValueType::ARRAY || !(probe.is_float() || probe.is_integer())) {
    std::string found(value_type_name(v->type));
    if (v->type == GgufValueType::ARRAY) found += fmt::format(" of {}", value_type_name(v->element_type));
    fail("{}: metadata key '{}' has type {}, expected ARRAY of FLOAT32", metadata.source(), kScoresKey, found);
  }
  scores.reserve(v->items().size());
  for (size_t i = 0; i < v->items().size(); ++i) {
    const double s = v->items()[i].as_float();
    // A NaN would break the strict ordering the merge queue relies on.
    if (std::isnan(s)) fail("{}: metadata key '{}' entry {} is NaN", metadata.source(), kScoresKey, i);
    scores.push_back(static_cast<float>(s));
  }
  return scores;
}

}  // namespace

bool is_end_of_generation_text(std::string_view text) {
  return std::find(kEogTexts.begin(), kEogTexts.end(), text) != kEogTexts.end();
}

Vocab Vocab::load(const GgufMetadata& metadata, const VocabDefaults& defaults) {
  Vocab v;
  v.source_ = metadata.source();
  v.read_tokens(metadata);
  v.read_special_ids(metadata, defaults);
  v.detect_special_by_text();
  v.collect_eog();
  v.build_special_cache();
  v.apply_model_fixups(metadata);
  return v;
}

void Vocab::read_tokens(const GgufMetadata& metadata) {
  const GgufValue::Array* texts = metadata.get_array(kTokensKey, GgufValueType::STRING);
  if (texts == nullptr) fail("{}: metadata key '{}' (the vocabulary) is missing", source_, kTokensKey);
  if (texts->empty()) fail("{}: metadata key '{}' is an empty array", source_, kTokensKey);
  if (texts->size() > static_cast<size_t>(std::numeric_limits<TokenId>::max())) {
    fail("{}: metadata key '{}' has {} tokens, more than token ids can address", source_, kTokensKey, texts->size());
  }
  const size_t n = texts->size();

  const std::vector<float> scores = read_scores(metadata);
  if (!scores.empty() && scores.size() != n) {
    fail("{}: metadata key '{}' has {} entries but '{}' has {} tokens", source_, kScoresKey, scores.size(),
         kTokensKey, n);
  }
  const std::vector<int32_t> types = metadata.get_i32_array(kTypesKey);
  if (metadata.has(kTypesKey) && types.size() != n) {
    fail("{}: metadata key '{}' has {} entries but '{}' has {} tokens", source_, kTypesKey, types.size(), kTokensKey,
         n);
  }

  tokens_.resize(n);
  index_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    TokenData& t = tokens_[i];
    t.text = (*texts)[i].string();
    // llama.cpp renames empty tokens so that every token has a distinct, visible text.
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";
    if (!scores.empty()) t.score = scores[i];
    if (!types.empty()) {
      if (types[i] < 0 || types[i] > static_cast<int32_t>(TokenKind::BYTE)) {
        fail("{}: metadata key '{}' entry {} is {}, not a token type (0..6)", source_, kTypesKey, i, types[i]);
      }
      t.attr = attr_from_type(types[i]);
    }
    const auto [it, inserted] = index_.emplace(t.text, static_cast<TokenId>(i));
    if (!inserted) {
      fail("{}: metadata key '{}' has tokens {} and {} with the same text '{}'", source_, kTokensKey, it->second, i,
           t.text);
    }
  }
}

void Vocab::read_special_ids(const GgufMetadata& metadata, const VocabDefaults& defaults) {
  special_.bos = defaults.bos;
  special_.eos = defaults.eos;
  special_.unk = defaults.unk;
  special_.sep = defaults.sep;
  special_.pad = defaults.pad;
  mask_ = defaults.mask;
  struct Slot {
    const char* key;
    TokenId* id;
  };
  // The deprecated prefix/suffix/middle keys come last so they win, as in llama.cpp.
  const Slot slots[] = {
      {"tokenizer.ggml.bos_token_id", &special_.bos},      {"tokenizer.ggml.cls_token_id", &special_.bos},      {"tokenizer.ggml.eos_token_id", &special_.eos},
      {"tokenizer.ggml.eot_token_id", &special_.eot},      {"tokenizer.ggml.eom_token_id", &eom_},
      {"tokenizer.ggml.unknown_token_id", &special_.unk},  {"tokenizer.ggml.seperator_token_id", &special_.sep},
      {"tokenizer.ggml.padding_token_id", &special_.pad},  {"tokenizer.ggml.mask_token_id", &mask_},
      {"tokenizer.ggml.fim_pre_token_id", &fim_pre_},      {"tokenizer.ggml.fim_suf_token_id", &fim_suf_},
      {"tokenizer.ggml.fim_mid_token_id", &fim_mid_},      {"tokenizer.ggml.fim_pad_token_id", &fim_pad_},
      {"tokenizer.ggml.fim_rep_token_id", &fim_rep_},      {"tokenizer.ggml.fim_sep_token_id", &fim_sep_},
      {"tokenizer.ggml.prefix_token_id", &fim_pre_},       {"tokenizer.ggml.suffix_token_id", &fim_suf_},
      {"tokenizer.ggml.middle_token_id", &fim_mid_},
  };
  for (const Slot& slot : slots) {
    // A default beyond a tiny vocabulary simply does not exist.
    if (*slot.id >= size()) *slot.id = -1;
    const std::optional<int64_t> value = metadata.get_int(slot.key);
    if (!value) continue;
    // -1 (often stored as UINT32 0xFFFFFFFF) is how converters write "no such token";
    // like llama.cpp we then keep the default.
    if (*value < 0 || *value == 0xFFFFFFFFll) continue;
    if (*value >= size()) {
      fail("{}: metadata key '{}' is {}, outside the vocabulary of {} tokens", source_, slot.key, *value, size());
    }
    *slot.id = static_cast<TokenId>(*value);
  }

  special_.add_bos = metadata.get_bool("tokenizer.ggml.add_bos_token").value_or(defaults.add_bos);
  special_.add_eos = metadata.get_bool("tokenizer.ggml.add_eos_token").value_or(defaults.add_eos);
  add_space_prefix_ = metadata.get_bool("tokenizer.ggml.add_space_prefix").value_or(defaults.add_space_prefix);
  if (special_.add_bos && special_.bos < 0) {
    fail("{}: tokenizer.ggml.add_bos_token is true but the vocabulary has no BOS token "
         "(tokenizer.ggml.bos_token_id)", source_);
  }
  if (special_.add_eos && special_.eos < 0) {
    fail("{}: tokenizer.ggml.add_eos_token is true but the vocabulary has no EOS token "
         "(tokenizer.ggml.eos_token_id)", source_);
  }
}

void Vocab::detect_special_by_text() {
  const auto detect = [&](TokenId& slot, const std::vector<std::string_view>& texts) {
    if (slot >= 0) return;
    for (std::string_view text : texts) {
      const TokenId id = find(text);
      if (id < 0) continue;
      slot = id;
      // A turn marker that is not a control token would be printed and matched as text.
      tokens_[id].attr |= kAttrControl;
      return;
    }
  };
  detect(special_.eot, kEotTexts);
  detect(eom_, kEomTexts);
  detect(fim_pre_, kFimPreTexts);
  detect(fim_suf_, kFimSufTexts);
  detect(fim_mid_, kFimMidTexts);
  detect(fim_pad_, kFimPadTexts);
  detect(fim_rep_, kFimRepTexts);
  detect(fim_sep_, kFimSepTexts);

  // Converters often leave Gemma's "<unusedN>"-style control tokens untyped.
  for (TokenData& t : tokens_) {
    if ((t.attr & kAttrControl) && t.text.find("unused") != std::string::npos) t.attr |= kAttrUnused;
  }
}

void Vocab::collect_eog() {
  std::vector<TokenId> eog;
  // Fill-in-the-middle padding/repo/separator tokens end generation in FIM use.
  for (TokenId id : {fim_pad_, fim_rep_, fim_sep_}) {
    if (id >= 0) eog.push_back(id);
  }
  for (std::string_view text : kEogTexts) {
    const TokenId id = find(text);
    if (id < 0) continue;
    eog.push_back(id);
    tokens_[id].attr |= kAttrControl;
  }
  for (std::string_view text : kAlwaysRenderedTexts) {
    if (const TokenId id = find(text); id >= 0) tokens_[id].attr = kAttrUserDefined;
  }
  for (TokenId id : {special_.eos, special_.eot, eom_}) {
    if (id >= 0) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  eog_ids_ = std::move(eog);

  const auto eog_has = [&](std::string_view text) {
    const TokenId id = find(text);
    return id >= 0 && is_eog(id) ? id : TokenId{-1};
  };
  const auto drop_eog = [&](TokenId id, uint32_t new_attr) {
    eog_ids_.erase(std::find(eog_ids_.begin(), eog_ids_.end(), id));
    tokens_[id].attr = new_attr;
  };
  // In gpt-oss (o200k_harmony) and Solar Open, "<|end|>" closes a message, not the turn:
  // generation goes on to "<|return|>" / "<|call|>" / "<|calls|>".
  const TokenId end = eog_has("<|end|>");
  const bool has_call = eog_has("<|call|>") >= 0 || eog_has("<|calls|>") >= 0;
  if (end >= 0 && has_call && (eog_has("<|return|>") >= 0 || eog_has("<|flush|>") >= 0)) {
    drop_eog(end, kAttrUserDefined);
  }
  // Gemma 4 and PaddleOCR use "</s>" as ordinary text.
  const TokenId s_close = eog_has("</s>");
  if (s_close >= 0 && eog_has("<|tool_response>") >= 0) drop_eog(s_close, kAttrNormal);
}

void Vocab::build_special_cache() {
  for (TokenId id = 0; id < size(); ++id) {
    if (tokens_[id].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_cache_.push_back(id);
  }
  // Longest first, so that e.g. "<|endoftext|>" is cut out before a shorter token it
  // contains. Ties keep id order (llama.cpp's unstable sort leaves them unspecified).
  std::stable_sort(special_cache_.begin(), special_cache_.end(), [&](TokenId a, TokenId b) {
    return tokens_[a].text.size() > tokens_[b].text.size();
  });
}

void Vocab::apply_model_fixups(const GgufMetadata& metadata) {
  // Attributes that Hugging Face keeps per added token (lstrip/rstrip) and GGUF does not
  // store; llama.cpp restores them for the models where they change tokenization.
  std::string name = metadata.get_string("general.name").value_or("");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  const std::string pre = metadata.get_string("tokenizer.ggml.pre").value_or("");
  const std::string arch = metadata.get_string("general.architecture").value_or("");
  const auto set = [&](std::string_view text, uint32_t attr, bool on) {
    const TokenId id = find(text);
    if (id < 0) return;
    tokens_[id].attr = on ? (tokens_[id].attr | attr) : (tokens_[id].attr & ~attr);
  };

  if (contains_any(pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains_any(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set("<mask>", kAttrLstrip, true);
  } else if (contains_any(name, {"phi-3", "phi3"})) {
    for (TokenId id : special_cache_) tokens_[id].attr |= kAttrRstrip;
    set("</s>", kAttrRstrip, true);
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) set(text, kAttrRstrip, false);
  } else if (contains_any(name, {"modern-bert"})) {
    set("[MASK]", kAttrLstrip, true);
  }
}

const TokenData& Vocab::token(TokenId id) const {
  if (id < 0 || id >= size()) fail("{}: token id {} is outside the vocabulary of {} tokens", source_, id, size());
  return tokens_[static_cast<size_t>(id)];
}

TokenId Vocab::find(std::string_view text) const {
  const auto it = index_.find(text);
  return it == index_.end() ? -1 : it->second;
}

TokenKind Vocab::kind(TokenId id) const {
  const uint32_t attr = token(id).attr;
  if (attr & kAttrControl) return TokenKind::CONTROL;
  if (attr & kAttrUserDefined) return TokenKind::USER_DEFINED;
  if (attr & kAttrUnknown) return TokenKind::UNKNOWN;
  if (attr & kAttrByte) return TokenKind::BYTE;
  if (attr & kAttrUnused) return TokenKind::UNUSED;
  if (attr & kAttrNormal) return TokenKind::NORMAL;
  return TokenKind::UNDEFINED;
}

bool Vocab::is_eog(TokenId id) const { return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id); }

std::vector<Fragment> Vocab::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});

  std::vector<Fragment> next;
  // One pass per special token, longest first: a token claims its occurrences in the text
  // that earlier (longer) tokens left over. Cost is O(special tokens x text length), with
  // the inner search done by string_view::find.
  for (const TokenId id : special_cache_) {
    const TokenData& special = tokens_[id];
    // Control and unknown tokens written as text stay text unless the caller asks.
    if (!parse_special && (special.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = special.text;

    next.clear();
    bool changed = false;
    for (const Fragment& f : fragments) {
      if (!f.is_text()) {
        next.push_back(f);
        continue;
      }
      size_t begin = f.offset;
      size_t end = f.offset + f.length;
      while (true) {
        const size_t hit = text.substr(0, end).find(needle, begin);
        if (hit == std::string_view::npos) {
          if (end > begin) next.push_back({-1, begin, end - begin});
          break;
        }
        changed = true;
        size_t left_end = hit;
        if (special.attr & kAttrLstrip) {
          while (left_end > begin && is_ascii_space(text[left_end - 1])) --left_end;
        }
        if (left_end > begin) next.push_back({-1, begin, left_end - begin});
        next.push_back({id, 0, 0});
        begin = hit + needle.size();
        if (special.attr & kAttrRstrip) {
          while (begin < end && is_ascii_space(text[begin])) ++begin;
        }
      }
    }
    if (changed) fragments.swap(next);
  }
  return fragments;
}

}  // namespace frugal
