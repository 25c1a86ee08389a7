// Request dispatch and the routes that do not generate: health, models, metrics, tokenize.
#include <chrono>

#include "server/server_impl.h"

namespace frugal {

namespace {

bool authorized(const HttpRequest& req, const std::string& key) {
  if (key.empty()) return true;
  const auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  const std::string_view value = it->value();
  return value == "Bearer " + key;
}

int64_t unix_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

asio::awaitable<bool> Server::Impl::handle(Stream& stream, HttpRequest& req, std::string& route) {
  std::string target(req.target());
  if (const size_t q = target.find('?'); q != std::string::npos) target.resize(q);
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  const RouteSpec* found = find_route(target);
  Response response;
  bool generating = false;
  try {
    if (found == nullptr) throw HttpError(404, fmt::format("unknown route '{}'", target), "not_found_error");
    route = found->name;
    if ((found->post && !post) || (!found->post && !get)) {
      response = error_response(HttpError(405, fmt::format("{} is not allowed on {}", std::string(req.method_string()), target)));
      response.headers.emplace_back("Allow", found->post ? "POST" : "GET");
    } else if (route != "health" && !authorized(req, config.api_key)) {
      throw HttpError(401, "a valid API key is required (Authorization: Bearer <key>)", "invalid_api_key");
    } else if (route == "chat" || route == "completions") {
      generating = true;
    } else if (route == "health") {
      response = json_response(stopping.load() ? 503 : 200, Json{{"status", stopping.load() ? "stopping" : "ok"}});
    } else if (route == "models") {
      response = models();
    } else if (route == "metrics") {
      response = metrics_text();
    } else if (route == "tokenize") {
      response = tokenize(req);
    } else {
      response = detokenize(req);
    }
  } catch (const HttpError& e) {
    response = error_response(e);
  } catch (const Error& e) {
    response = error_response(HttpError(400, e.what()));
  }
  if (generating) co_return co_await generate(stream, req, route == "chat");
  metrics.count_request(route, response.status);
  co_return co_await write_response(stream, req, response);
}

Response Server::Impl::models() const {
  const ModelConfig& c = model.config();
  Json meta;
  meta["architecture"] = c.arch_name;
  meta["n_params"] = model.n_params();
  meta["size"] = model.weight_bytes();
  meta["n_vocab"] = c.n_vocab;
  meta["n_ctx"] = scheduler.n_ctx();
  meta["n_ctx_train"] = c.n_ctx_train;
  meta["chat_template"] = chat_template_origin;
  Json m;
  m["id"] = model_id;
  m["object"] = "model";
  m["created"] = unix_time();
  m["owned_by"] = "frugal";
  m["meta"] = meta;
  return json_response(200, Json{{"object", "list"}, {"data", Json::array({m})}});
}

Response Server::Impl::metrics_text() const {
  const Scheduler::Stats s = scheduler.stats();
  std::string out = metrics.render_requests();
  auto line = [&](const char* name, const char* type, const char* help, double value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  line("frugal_prompt_tokens_total", "counter", "Prompt tokens received.", static_cast<double>(s.prompt_tokens));
  line("frugal_prompt_tokens_cached_total", "counter", "Prompt tokens served from the prefix cache.",
       static_cast<double>(s.cached_prompt_tokens));
  line("frugal_generated_tokens_total", "counter", "Tokens generated.", static_cast<double>(s.generated_tokens));
  line("frugal_forward_passes_total", "counter", "Batched forward passes run.", static_cast<double>(s.forward_passes));
  line("frugal_queue_depth", "gauge", "Requests waiting for admission.", s.queued);
  line("frugal_running_sequences", "gauge", "Sequences in the running batch.", s.running);
  line("frugal_kv_blocks_total", "gauge", "KV cache blocks in the pool.", static_cast<double>(s.kv_blocks_total));
  line("frugal_kv_blocks_used", "gauge", "KV cache blocks held by sequences.", static_cast<double>(s.kv_blocks_used));
  line("frugal_kv_blocks_free", "gauge", "KV cache blocks available (free or evictable).",
       static_cast<double>(s.kv_blocks_available));
  line("frugal_kv_blocks_cached", "gauge", "KV cache blocks kept only for prefix reuse.",
       static_cast<double>(s.kv_blocks_cached));
  line("frugal_connections_open", "gauge", "Open client connections.", static_cast<double>(metrics.connections_open.load()));
  line("frugal_connections_total", "counter", "Client connections accepted.",
       static_cast<double>(metrics.connections_total.load()));
  line("frugal_connections_refused_total", "counter", "Connections refused over --max-connections.",
       static_cast<double>(metrics.connections_refused.load()));
  metrics.queue_time.render(out, "frugal_queue_time_seconds", "Time from arrival to admission into the batch.");
  metrics.time_to_first_token.render(out, "frugal_time_to_first_token_seconds", "Time from arrival to the first token.");
  metrics.inter_token_latency.render(out, "frugal_inter_token_latency_seconds", "Time between consecutive tokens.");
  metrics.request_duration.render(out, "frugal_request_duration_seconds", "Time from arrival to the last token.");
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(out);
  return r;
}

Response Server::Impl::tokenize(const HttpRequest& req) const {
  return json_response(200, tokenize_body(req.body(), model.tokenizer()));
}

Response Server::Impl::detokenize(const HttpRequest& req) const {
  return json_response(200, detokenize_body(req.body(), model.tokenizer()));
}

}  // namespace frugal
