#include "server/openai.h"

#include <cmath>
#include <limits>

namespace frugal {

[[noreturn]] void bad_request(const std::string& message, const std::string& param) {
  throw HttpError(400, message, "invalid_request_error", param);
}

std::string error_body(const std::string& message, const std::string& type, const std::string& param) {
  Json e;
  e["message"] = message;
  e["type"] = type;
  e["param"] = param.empty() ? Json(nullptr) : Json(param);
  e["code"] = nullptr;
  return Json{{"error", e}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json parse_json_object(const std::string& body) {
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::exception& e) {
    bad_request(std::string("the body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) bad_request("the body must be a JSON object");
  return j;
}

namespace {

const Json* field(const Json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> number(const Json& body, const char* key, double lo, double hi) {
  const Json* v = field(body, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) bad_request(fmt::format("'{}' must be a number", key), key);
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) bad_request(fmt::format("'{}' must be between {} and {}", key, lo, hi), key);
  return d;
}

std::optional<int64_t> integer(const Json& body, const char* key, int64_t lo, int64_t hi) {
  const Json* v = field(body, key);
  if (v == nullptr) return std::nullopt;
  const bool ok = v->is_number_integer() || (v->is_number_float() && std::isfinite(v->get<double>()) &&
                                             v->get<double>() == std::floor(v->get<double>()) &&
                                             std::fabs(v->get<double>()) < 9e15);
  if (!ok) bad_request(fmt::format("'{}' must be an integer", key), key);
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    bad_request(fmt::format("'{}' must be between {} and {}", key, lo, hi), key);
  }
  const int64_t x = v->is_number_float() ? static_cast<int64_t>(v->get<double>()) : v->get<int64_t>();
  if (x < lo || x > hi) bad_request(fmt::format("'{}' must be between {} and {}", key, lo, hi), key);
  return x;
}

std::optional<bool> boolean(const Json& body, const char* key) {
  const Json* v = field(body, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) bad_request(fmt::format("'{}' must be a boolean", key), key);
  return v->get<bool>();
}

// Message content may be a string or an array of parts; text parts are joined, other
// part types (images, audio) are refused since no multimodal model is supported.
Json flatten_content(const Json& content, size_t index) {
  const std::string param = fmt::format("messages[{}].content", index);
  if (content.is_null() || content.is_string()) return content;
  if (!content.is_array()) bad_request("message content must be a string or an array of content parts", param);
  std::string text;
  for (const auto& part : content) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      bad_request("each content part must be an object with a 'type'", param);
    }
    if (part["type"] != "text") {
      bad_request(fmt::format("content parts of type '{}' are not supported (only 'text')",
                              part["type"].get<std::string>()), param);
    }
    if (!part.contains("text") || !part["text"].is_string()) bad_request("a text part needs a string 'text'", param);
    text += part["text"].get<std::string>();
  }
  return text;
}

void parse_messages(const Json& body, OpenAiRequest& r) {
  const Json* m = field(body, "messages");
  if (m == nullptr) bad_request("'messages' is required", "messages");
  if (!m->is_array() || m->empty()) bad_request("'messages' must be a non-empty array", "messages");
  r.messages = Json::array();
  for (size_t i = 0; i < m->size(); ++i) {
    const Json& msg = (*m)[i];
    const std::string param = fmt::format("messages[{}]", i);
    if (!msg.is_object()) bad_request("each message must be an object", param);
    if (!msg.contains("role") || !msg["role"].is_string()) bad_request("each message needs a string 'role'", param + ".role");
    const std::string role = msg["role"];
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" && role != "developer") {
      bad_request(fmt::format("unknown role '{}' (expected system, developer, user, assistant or tool)", role),
                  param + ".role");
    }
    Json copy = msg;
    copy["role"] = role == "developer" ? "system" : role;
    copy["content"] = flatten_content(msg.contains("content") ? msg["content"] : Json(nullptr), i);
    if (copy["content"].is_null() && role != "assistant") bad_request("message content is required", param + ".content");
    // An assistant turn that only called tools has null content; templates concatenate it.
    if (copy["content"].is_null()) copy["content"] = "";
    // OpenAI clients send tool-call arguments as JSON text; chat templates expect the object
    // (they iterate it or apply tojson). Text that is not JSON stays as it is.
    if (copy.contains("tool_calls") && copy["tool_calls"].is_array()) {
      for (auto& call : copy["tool_calls"]) {
        if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) continue;
        Json& fn = call["function"];
        if (fn.contains("arguments") && fn["arguments"].is_string()) {
          Json parsed = Json::parse(fn["arguments"].get<std::string>(), nullptr, false);
          if (!parsed.is_discarded()) fn["arguments"] = std::move(parsed);
        }
      }
    }
    r.messages.push_back(std::move(copy));
  }
  if (const Json* tools = field(body, "tools")) {
    if (!tools->is_array()) bad_request("'tools' must be an array", "tools");
    if (!tools->empty()) r.tools = *tools;
  }
}

void parse_prompt(const Json& body, OpenAiRequest& r) {
  const Json* p = field(body, "prompt");
  if (p == nullptr) bad_request("'prompt' is required", "prompt");
  if (p->is_string()) {
    r.prompt_text = p->get<std::string>();
    return;
  }
  // A single prompt given as token ids ([1, 2, 3]) or as a one-element batch.
  const Json* ids = p;
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_array() || (*p)[0].is_string())) ids = &(*p)[0];
  if (ids->is_string()) {
    r.prompt_text = ids->get<std::string>();
    return;
  }
  if (!ids->is_array()) bad_request("'prompt' must be a string or an array of token ids", "prompt");
  if (p->is_array() && p->size() > 1 && !(*p)[0].is_number_integer()) {
    bad_request("only one prompt per request is supported", "prompt");
  }
  for (const auto& id : *ids) {
    if (!id.is_number_integer()) bad_request("'prompt' token ids must be integers", "prompt");
    r.prompt_ids.push_back(id.get<int64_t>());
  }
  r.prompt_is_ids = true;
}

}  // namespace

OpenAiRequest parse_openai_request(const std::string& text, bool chat) {
  const Json body = parse_json_object(text);
  OpenAiRequest r;
  r.chat = chat;
  if (const Json* m = field(body, "model")) {
    if (!m->is_string()) bad_request("'model' must be a string", "model");
    r.model = m->get<std::string>();
  }
  if (chat) {
    parse_messages(body, r);
  } else {
    parse_prompt(body, r);
  }
  GenerationRequest& g = r.generation;
  constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
  if (auto n = integer(body, "n", 1, kMaxInt); n && *n != 1) bad_request("only n = 1 is supported", "n");
  const auto max_tokens = integer(body, "max_tokens", 1, kMaxInt);
  const auto max_completion = integer(body, "max_completion_tokens", 1, kMaxInt);
  if (max_completion) g.max_tokens = static_cast<int>(*max_completion);
  else if (max_tokens) g.max_tokens = static_cast<int>(*max_tokens);
  if (auto t = number(body, "temperature", 0.0, 100.0)) g.sampling.temperature = static_cast<float>(*t);
  if (auto p = number(body, "top_p", 0.0, 1.0)) {
    if (*p == 0.0) bad_request("'top_p' must be greater than 0", "top_p");
    g.sampling.top_p = static_cast<float>(*p);
  }
  if (auto k = integer(body, "top_k", 0, kMaxInt)) g.sampling.top_k = static_cast<int>(*k);
  if (auto p = number(body, "min_p", 0.0, 1.0)) g.sampling.min_p = static_cast<float>(*p);
  if (auto p = number(body, "presence_penalty", -2.0, 2.0)) g.sampling.presence_penalty = static_cast<float>(*p);
  if (auto p = number(body, "frequency_penalty", -2.0, 2.0)) g.sampling.frequency_penalty = static_cast<float>(*p);
  if (auto p = number(body, "repeat_penalty", 0.0, 10.0)) {
    if (*p == 0.0) bad_request("'repeat_penalty' must be greater than 0", "repeat_penalty");
    g.sampling.repeat_penalty = static_cast<float>(*p);
  }
  if (auto s = integer(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
    g.sampling.seed = static_cast<uint64_t>(*s);
    r.seed_given = true;
  }
  if (const Json* stop = field(body, "stop")) {
    auto add = [&](const Json& s) {
      if (!s.is_string()) bad_request("'stop' must be a string or an array of strings", "stop");
      if (s.get<std::string>().empty()) bad_request("stop strings must not be empty", "stop");
      g.stop.push_back(s.get<std::string>());
    };
    if (stop->is_array()) {
      if (stop->size() > 16) bad_request("at most 16 stop strings are supported", "stop");
      for (const auto& s : *stop) add(s);
    } else {
      add(*stop);
    }
  }
  if (chat) {
    r.logprobs = boolean(body, "logprobs").value_or(false);
    if (auto k = integer(body, "top_logprobs", 0, 20)) {
      if (!r.logprobs) bad_request("'top_logprobs' requires 'logprobs': true", "top_logprobs");
      r.top_logprobs = static_cast<int>(*k);
    }
  } else if (const Json* lp = field(body, "logprobs")) {
    // Completions: logprobs is the number of alternatives (0..5 in the OpenAI API).
    if (lp->is_boolean()) {
      r.logprobs = lp->get<bool>();
    } else {
      const auto k = integer(body, "logprobs", 0, 20);
      r.logprobs = true;
      r.top_logprobs = static_cast<int>(*k);
    }
  }
  g.logprobs = r.logprobs;
  g.top_logprobs = r.top_logprobs;
  r.stream = boolean(body, "stream").value_or(false);
  if (const Json* so = field(body, "stream_options")) {
    if (!so->is_object()) bad_request("'stream_options' must be an object", "stream_options");
    r.include_usage = boolean(*so, "include_usage").value_or(false);
  }
  if (auto ignore = boolean(body, "ignore_eos")) g.stop_at_eog = !*ignore;
  return r;
}

const RouteSpec* find_route(std::string_view target) {
  static const RouteSpec routes[] = {
      {"/health", "health", false},           {"/v1/models", "models", false},
      {"/models", "models", false},            {"/metrics", "metrics", false},
      {"/v1/chat/completions", "chat", true},  {"/chat/completions", "chat", true},
      {"/v1/completions", "completions", true}, {"/completions", "completions", true},
      {"/tokenize", "tokenize", true},         {"/detokenize", "detokenize", true},
  };
  for (const auto& r : routes) {
    if (target == r.path) return &r;
  }
  return nullptr;
}

std::vector<TokenId> build_prompt(const OpenAiRequest& r, const chat::ChatTemplate& chat_template,
                                  const Tokenizer& tok) {
  const SpecialTokens& sp = tok.special();
  std::vector<TokenId> ids;
  if (r.chat) {
    chat::RenderOptions opt;
    opt.add_generation_prompt = true;
    if (sp.bos >= 0) opt.bos_token = tok.token_text(sp.bos);
    if (sp.eos >= 0) opt.eos_token = tok.token_text(sp.eos);
    opt.tools = r.tools;
    std::string text;
    try {
      text = chat_template.render(r.messages, opt);
    } catch (const Error& e) {
      bad_request(std::string("the chat template cannot render these messages: ") + e.what(), "messages");
    }
    // Templates usually spell BOS themselves; add it only when the text does not start with it.
    ids = tok.encode(text, false, true);
    if (sp.add_bos && sp.bos >= 0 && (ids.empty() || ids.front() != sp.bos)) ids.insert(ids.begin(), sp.bos);
  } else if (r.prompt_is_ids) {
    for (int64_t id : r.prompt_ids) {
      if (id < 0 || id >= tok.n_vocab()) {
        bad_request(fmt::format("token id {} is outside the vocabulary (0..{})", id, tok.n_vocab() - 1), "prompt");
      }
      ids.push_back(static_cast<TokenId>(id));
    }
  } else {
    ids = tok.encode(r.prompt_text, true, true);
  }
  if (ids.empty()) bad_request("the prompt is empty", r.chat ? "messages" : "prompt");
  return ids;
}

Json tokenize_body(const std::string& text, const Tokenizer& tok) {
  const Json body = parse_json_object(text);
  const Json* content = field(body, "content");
  if (content == nullptr || !content->is_string()) bad_request("'content' must be a string", "content");
  const bool add_special = boolean(body, "add_special").value_or(false);
  const bool parse_special = boolean(body, "parse_special").value_or(true);
  const bool with_pieces = boolean(body, "with_pieces").value_or(false);
  const auto ids = tok.encode(content->get<std::string>(), add_special, parse_special);
  Json tokens = Json::array();
  for (TokenId id : ids) {
    if (with_pieces) {
      tokens.push_back(Json{{"id", id}, {"piece", tok.token_to_piece(id, true)}});
    } else {
      tokens.push_back(id);
    }
  }
  return Json{{"tokens", tokens}};
}

Json detokenize_body(const std::string& text, const Tokenizer& tok) {
  const Json body = parse_json_object(text);
  const Json* tokens = field(body, "tokens");
  if (tokens == nullptr || !tokens->is_array()) bad_request("'tokens' must be an array", "tokens");
  std::vector<TokenId> ids;
  for (const auto& t : *tokens) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= tok.n_vocab()) {
      bad_request(fmt::format("token ids must be integers in 0..{}", tok.n_vocab() - 1), "tokens");
    }
    ids.push_back(static_cast<TokenId>(t.get<int64_t>()));
  }
  return Json{{"content", tok.decode(ids, false)}};
}

}  // namespace frugal
