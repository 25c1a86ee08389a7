// The OpenAI request format: validating request bodies into generation parameters, and
// the error shape every failure is reported in.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "chat/chat_template.h"
#include "runtime/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

using Json = nlohmann::ordered_json;

// An error that becomes an HTTP response: {"error": {"message", "type", "param", "code"}}.
class HttpError : public Error {
 public:
  HttpError(int status_code, const std::string& message, std::string error_type = "invalid_request_error",
            std::string parameter = "")
      : Error(message), status(status_code), type(std::move(error_type)), param(std::move(parameter)) {}
  int status;
  std::string type;
  std::string param;
};

[[noreturn]] void bad_request(const std::string& message, const std::string& param = "");
std::string error_body(const std::string& message, const std::string& type, const std::string& param);

// What a /v1/chat/completions or /v1/completions body asks for. The prompt is left for
// the caller to build (chat template or tokenizer), everything else is validated here.
struct OpenAiRequest {
  bool chat = false;
  bool stream = false;
  bool include_usage = false;
  std::string model;
  Json messages;              // chat: the conversation, content parts flattened to text
  Json tools;                 // chat: tool definitions or null
  std::string prompt_text;    // completions with a string prompt
  std::vector<int64_t> prompt_ids;  // completions with token ids
  bool prompt_is_ids = false;
  bool logprobs = false;
  int top_logprobs = 0;
  GenerationRequest generation;  // sampling, max_tokens, stop, logprobs (prompt empty)
  bool seed_given = false;
};

// Parses and validates a request body. Throws HttpError(400) naming the parameter for
// malformed JSON, wrong types, out-of-range values and unsupported options.
OpenAiRequest parse_openai_request(const std::string& body, bool chat);

// Parses a body that must be a JSON object (for /tokenize and /detokenize).
Json parse_json_object(const std::string& body);

// The routes the server answers. `target` is the request target without its query string;
// nullptr for an unknown one.
struct RouteSpec {
  const char* path;
  const char* name;  // also the route label in /metrics
  bool post;         // POST (else GET)
};
const RouteSpec* find_route(std::string_view target);

// The prompt a validated request asks for: the chat template rendered and tokenized, the
// completion prompt tokenized, or its token ids checked against the vocabulary. Throws
// HttpError(400) naming the parameter.
std::vector<TokenId> build_prompt(const OpenAiRequest& r, const chat::ChatTemplate& chat_template,
                                  const Tokenizer& tok);

// /tokenize {"content", "add_special", "parse_special", "with_pieces"} -> {"tokens": [...]}
// and /detokenize {"tokens": [...]} -> {"content"}. Throw HttpError(400) naming the field.
Json tokenize_body(const std::string& body, const Tokenizer& tok);
Json detokenize_body(const std::string& body, const Tokenizer& tok);

}  // namespace frugal
