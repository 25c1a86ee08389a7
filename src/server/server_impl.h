// Internals shared by the server's files: the connection machinery (server.cpp), the
// simple routes (routes.cpp) and the generation routes (generation.cpp).
#pragma once

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "chat/builtin_templates.h"
#include "chat/chat_template.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/server.h"

namespace frugal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using HttpRequest = http::request<http::string_body>;
using Stream = beast::tcp_stream;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

Response json_response(int status, const Json& body);
Response error_response(const HttpError& e);

// Wakes a connection's coroutine from the scheduler thread: the coroutine sleeps on a timer
// that notify() cancels. The cancel is posted to the connection's strand, so it is ordered
// with the coroutine's own steps and a notification between "took events" and "started
// waiting" is never lost.
class Waker : public std::enable_shared_from_this<Waker> {
 public:
  explicit Waker(asio::any_io_executor executor) : timer_(executor) {}
  void notify();
  void rearm() { pending_.store(false); }
  // Sleeps until notified or `limit` passes.
  asio::awaitable<void> wait(std::chrono::milliseconds limit);

 private:
  asio::steady_timer timer_;
  std::atomic<bool> pending_{false};
};

struct Server::Impl {
  Impl(Scheduler& scheduler, const std::string& model_path, const ServerConfig& config);

  // server.cpp
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(tcp::socket socket);
  asio::awaitable<bool> write_response(Stream& stream, const HttpRequest& req, const Response& r);
  void begin_shutdown();
  // Has the client closed its end? (a non-blocking peek; data waiting counts as open)
  static bool peer_closed(Stream& stream);
  // The Keep-Alive header of responses on kept connections: how long an idle one stays.
  std::string keep_alive_value() const;

  // routes.cpp: dispatches one request; returns whether to keep the connection open.
  asio::awaitable<bool> handle(Stream& stream, HttpRequest& req, std::string& route);
  Response models() const;
  Response metrics_text() const;
  Response tokenize(const HttpRequest& req) const;
  Response detokenize(const HttpRequest& req) const;

  // generation.cpp
  asio::awaitable<bool> generate(Stream& stream, HttpRequest& req, bool chat);

  Scheduler& scheduler;
  const Model& model;
  ServerConfig config;
  std::string model_id;
  std::string chat_template_origin;  // before chat_template: its initialiser writes this
  chat::ChatTemplate chat_template;
  ServerMetrics metrics;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  std::atomic<bool> stopping{false};
  std::atomic<int> open_connections{0};
  std::thread drain_thread;
};

}  // namespace frugal
