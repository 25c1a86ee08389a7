// /v1/chat/completions and /v1/completions: build the prompt, hand the request to the
// scheduler, and deliver its tokens as one JSON response or as server-sent events.
#include <chrono>
#include <random>

#include "base/build_info.h"
#include "server/server_impl.h"

namespace frugal {

namespace {

int64_t unix_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string request_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}-{:016x}{:04x}", prefix, rng(), (counter++) & 0xffff);
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

Json usage_json(const GenerationStatus& s) {
  return Json{{"prompt_tokens", s.prompt_tokens},
              {"completion_tokens", s.completion_tokens},
              {"total_tokens", s.prompt_tokens + s.completion_tokens},
              {"prompt_tokens_details", Json{{"cached_tokens", s.cached_tokens}}}};
}

Json bytes_of(const std::string& s) {
  Json b = Json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

// Chat logprobs: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
Json chat_logprob_entry(const Tokenizer& tok, const TokenEvent& e) {
  const std::string piece = tok.token_to_piece(e.id, true);
  Json top = Json::array();
  for (const auto& t : e.top) {
    const std::string p = tok.token_to_piece(t.id, true);
    top.push_back(Json{{"token", p}, {"logprob", t.logprob}, {"bytes", bytes_of(p)}});
  }
  return Json{{"token", piece}, {"logprob", e.logprob}, {"bytes", bytes_of(piece)}, {"top_logprobs", top}};
}

// Completions logprobs: parallel arrays, as the legacy OpenAI API has them.
void add_completion_logprobs(Json& lp, const Tokenizer& tok, const TokenEvent& e, size_t& offset) {
  const std::string piece = tok.token_to_piece(e.id, true);
  lp["tokens"].push_back(piece);
  lp["token_logprobs"].push_back(e.logprob);
  Json top = Json::object();
  for (const auto& t : e.top) top[tok.token_to_piece(t.id, true)] = t.logprob;
  lp["top_logprobs"].push_back(top);
  lp["text_offset"].push_back(offset);
  offset += e.text.size();
}

Json empty_completion_logprobs() {
  return Json{{"tokens", Json::array()}, {"token_logprobs", Json::array()}, {"top_logprobs", Json::array()},
              {"text_offset", Json::array()}};
}

std::string sse(const Json& j) { return "data: " + j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n"; }

}  // namespace

asio::awaitable<bool> Server::Impl::generate(Stream& stream, HttpRequest& req, bool chat) {
  const char* route = chat ? "chat" : "completions";
  const auto arrived = Clock::now();
  OpenAiRequest r;
  std::shared_ptr<RequestStream> rs;
  auto waker = std::make_shared<Waker>(co_await asio::this_coro::executor);
  // co_await is not allowed inside a catch block, so failures become a response first.
  std::optional<Response> refused;
  try {
    r = parse_openai_request(req.body(), chat);
    r.generation.prompt = build_prompt(r, chat_template, model.tokenizer());
    int& max_tokens = r.generation.max_tokens;
    if (config.max_tokens > 0 && (max_tokens < 0 || max_tokens > config.max_tokens)) max_tokens = config.max_tokens;
    if (!r.seed_given) r.generation.sampling.seed = std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
    r.generation.timeout = config.request_timeout;
    if (stopping.load()) throw HttpError(503, "the server is shutting down", "server_error");
    rs = scheduler.submit(r.generation, [waker] { waker->notify(); });
  } catch (const HttpError& e) {
    refused = error_response(e);
  } catch (const QueueFullError& e) {
    refused = error_response(HttpError(429, e.what(), "rate_limit_error"));
    refused->headers.emplace_back("Retry-After", "1");
  } catch (const RequestTooLargeError& e) {
    refused = error_response(HttpError(400, e.what(), "invalid_request_error", chat ? "messages" : "prompt"));
  } catch (const Error& e) {
    refused = error_response(HttpError(400, e.what()));
  }
  if (refused) {
    metrics.count_request(route, refused->status);
    co_return co_await write_response(stream, req, *refused);
  }

  const Tokenizer& tok = model.tokenizer();
  const std::string id = request_id(chat ? "chatcmpl" : "cmpl");
  const int64_t created = unix_time();
  Json base;
  base["id"] = id;
  base["object"] = chat ? "chat.completion.chunk" : "text_completion";
  base["created"] = created;
  base["model"] = model_id;
  base["system_fingerprint"] = std::string("frugal-") + build_commit();

  std::string text;
  Json chat_logprobs = Json::array();
  Json completion_logprobs = empty_completion_logprobs();
  size_t text_offset = 0;
  std::optional<GenerationStatus> status;
  std::optional<Clock::time_point> last_token;
  std::vector<TokenEvent> events;
  bool client_gone = false;

  // Streaming: headers now, then one event per token.
  std::optional<http::response<http::empty_body>> head;
  std::optional<http::response_serializer<http::empty_body>> serializer;
  auto send = [&](const std::string& data) -> asio::awaitable<bool> {
    stream.expires_after(config.write_timeout);
    auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(data)),
                                              asio::as_tuple(asio::use_awaitable));
    (void)n;
    co_return !ec;
  };
  if (r.stream) {
    head.emplace(http::status::ok, req.version());
    head->set(http::field::server, "frugal");
    head->set(http::field::content_type, "text/event-stream");
    head->set(http::field::cache_control, "no-cache");
    head->chunked(true);
    head->keep_alive(req.keep_alive());
    if (req.keep_alive()) head->set(http::field::keep_alive, keep_alive_value());
    serializer.emplace(*head);
    stream.expires_after(config.write_timeout);
    auto [ec, n] = co_await http::async_write_header(stream, *serializer, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) client_gone = true;
    if (chat && !client_gone) {
      Json first = base;
      first["choices"] = Json::array({Json{{"index", 0}, {"delta", Json{{"role", "assistant"}, {"content", ""}}},
                                           {"logprobs", nullptr}, {"finish_reason", nullptr}}});
      client_gone = !co_await send(sse(first));
    }
  }

  while (!client_gone) {
    waker->rearm();
    events.clear();
    rs->take(events, status);
    for (const TokenEvent& e : events) {
      if (last_token) metrics.inter_token_latency.observe(seconds(e.time - *last_token));
      last_token = e.time;
      if (r.logprobs) {
        if (chat) chat_logprobs.push_back(chat_logprob_entry(tok, e));
        else add_completion_logprobs(completion_logprobs, tok, e, text_offset);
      }
      if (!r.stream) {
        text += e.text;
        continue;
      }
      Json chunk = base;
      Json choice{{"index", 0}};
      if (chat) {
        choice["delta"] = Json{{"content", e.text}};
        choice["logprobs"] = r.logprobs ? Json{{"content", Json::array({chat_logprob_entry(tok, e)})}} : Json(nullptr);
      } else {
        choice["text"] = e.text;
        if (r.logprobs) {
          Json lp = empty_completion_logprobs();
          size_t off = text_offset - e.text.size();
          add_completion_logprobs(lp, tok, e, off);
          choice["logprobs"] = lp;
        } else {
          choice["logprobs"] = nullptr;
        }
      }
      choice["finish_reason"] = nullptr;
      chunk["choices"] = Json::array({choice});
      if (!co_await send(sse(chunk))) {
        client_gone = true;
        break;
      }
    }
    if (client_gone || status) break;
    if (peer_closed(stream)) {
      client_gone = true;
      break;
    }
    // Sleep only after a take that found nothing: events pushed while we were writing
    // (whose notifications found the waker already pending) are picked up first.
    if (events.empty()) co_await waker->wait(std::chrono::milliseconds(250));
  }
  if (client_gone) {
    // The client left: stop generating now so its KV blocks return to the pool.
    rs->cancel();
    metrics.count_request(route, 499);
    co_return false;
  }

  const GenerationStatus& st = *status;
  if (st.started > st.submitted) metrics.queue_time.observe(seconds(st.started - st.submitted));
  if (st.first_token > st.submitted) metrics.time_to_first_token.observe(seconds(st.first_token - arrived));
  metrics.request_duration.observe(seconds(st.finished - arrived));

  std::optional<HttpError> failure;
  if (st.finish_reason == "timeout") {
    failure = HttpError(504, fmt::format("generation exceeded the request timeout of {} s",
                                         config.request_timeout.count()), "timeout_error");
  } else if (st.finish_reason == "error" || st.finish_reason == "cancelled") {
    failure = HttpError(503, st.error.empty() ? "the request was cancelled (server shutting down)" : st.error,
                        "server_error");
  }
  const std::string finish = st.finish_reason;

  if (r.stream) {
    if (failure) {
      metrics.count_request(route, failure->status);
      co_await send(sse(Json::parse(error_body(failure->what(), failure->type, ""))));
    } else {
      metrics.count_request(route, 200);
      Json chunk = base;
      Json choice{{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}};
      if (chat) choice["delta"] = Json::object();
      else choice["text"] = "";
      chunk["choices"] = Json::array({choice});
      if (r.include_usage) chunk["usage"] = nullptr;
      if (!co_await send(sse(chunk))) co_return false;
      if (r.include_usage) {
        Json usage = base;
        usage["choices"] = Json::array();
        usage["usage"] = usage_json(st);
        if (!co_await send(sse(usage))) co_return false;
      }
    }
    if (!co_await send("data: [DONE]\n\n")) co_return false;
    stream.expires_after(config.write_timeout);
    auto [ec, n] = co_await asio::async_write(stream, http::make_chunk_last(), asio::as_tuple(asio::use_awaitable));
    (void)n;
    co_return !ec && req.keep_alive() && !stopping.load();
  }

  if (failure) {
    metrics.count_request(route, failure->status);
    co_return co_await write_response(stream, req, error_response(*failure));
  }
  Json body = base;
  body["object"] = chat ? "chat.completion" : "text_completion";
  Json choice{{"index", 0}, {"finish_reason", finish}};
  if (chat) {
    choice["message"] = Json{{"role", "assistant"}, {"content", text}};
    choice["logprobs"] = r.logprobs ? Json{{"content", chat_logprobs}} : Json(nullptr);
  } else {
    choice["text"] = text;
    choice["logprobs"] = r.logprobs ? completion_logprobs : Json(nullptr);
  }
  body["choices"] = Json::array({choice});
  body["usage"] = usage_json(st);
  metrics.count_request(route, 200);
  co_return co_await write_response(stream, req, json_response(200, body));
}

}  // namespace frugal
