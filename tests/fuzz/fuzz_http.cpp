// The server's front door: the input is the byte stream a client sends on one connection.
// It is parsed into requests by the same Boost.Beast parser, with the same header and body
// limits, as `frugal serve` reads them (pipelined requests one after another, the end of
// the input as the client closing), and each complete request goes through the server's
// route lookup and the validation its route does before any generation: OpenAI chat and
// completion bodies (then the prompt is built: chat template rendered, text tokenized, ids
// checked), /tokenize and /detokenize. Results and errors are serialized as the server
// would send them. Request errors are HttpError/Error; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "chat/chat_template.h"
#include "format/gguf.h"
#include "server/openai.h"
#include "server/server.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace http = boost::beast::http;
using frugal::Json;

std::string testdata() {
  if (const char* env = std::getenv("FRUGAL_TESTDATA")) return env;
  return FRUGAL_TESTDATA_DIR;
}

struct Fixture {
  std::unique_ptr<frugal::Tokenizer> tokenizer;
  std::unique_ptr<frugal::chat::ChatTemplate> chat_template;
};

// stories260K's tokenizer (small and fast) and Qwen3's chat template (tools, reasoning,
// many branches) stand in for a loaded model.
Fixture load() {
  Fixture f;
  const std::string dir = testdata();
  auto gguf = frugal::GgufFile::open(dir + "/stories260K/stories260K.gguf");
  f.tokenizer = frugal::Tokenizer::from_gguf(gguf->metadata());
  std::ifstream in(dir + "/hf-tok-qwen3/tokenizer_config.json");
  std::stringstream text;
  text << in.rdbuf();
  const Json config = Json::parse(text.str());
  f.chat_template = std::make_unique<frugal::chat::ChatTemplate>(config.at("chat_template").get<std::string>());
  return f;
}

std::string serialize(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void handle(const Fixture& f, const http::request<http::string_body>& req) {
  std::string target(req.target());
  if (const size_t q = target.find('?'); q != std::string::npos) target.resize(q);
  try {
    const frugal::RouteSpec* route = frugal::find_route(target);
    if (route == nullptr) throw frugal::HttpError(404, "unknown route '" + target + "'", "not_found_error");
    const std::string name = route->name;
    if (name == "chat" || name == "completions") {
      const frugal::OpenAiRequest r = frugal::parse_openai_request(req.body(), name == "chat");
      (void)frugal::build_prompt(r, *f.chat_template, *f.tokenizer);
    } else if (name == "tokenize") {
      (void)serialize(frugal::tokenize_body(req.body(), *f.tokenizer));
    } else if (name == "detokenize") {
      (void)serialize(frugal::detokenize_body(req.body(), *f.tokenizer));
    }
  } catch (const frugal::HttpError& e) {
    (void)frugal::error_body(e.what(), e.type, e.param);
  } catch (const frugal::Error& e) {
    (void)frugal::error_body(e.what(), "invalid_request_error", "");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture fixture = load();
  static const frugal::ServerConfig limits;
  boost::asio::const_buffer rest(data, size);
  for (int n = 0; n < 64; ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done() && rest.size() > 0) {
      const size_t used = parser.put(rest, ec);
      rest += used;
      if (ec == http::error::need_more) {
        ec = {};
        if (used == 0) break;  // the rest is an incomplete line: wait for bytes that never come
        continue;
      }
      if (ec) return 0;  // the server answers 400/413/431 and closes the connection
    }
    if (!parser.is_done()) {
      parser.put_eof(ec);  // the client closed its end
      if (ec || !parser.is_done()) return 0;
    }
    handle(fixture, parser.get());
    if (!parser.get().keep_alive() || rest.size() == 0) return 0;
  }
  return 0;
}
