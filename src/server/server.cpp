#include <sys/socket.h>

#include <filesystem>
#include <thread>

#include "base/error.h"
#include "server/server_impl.h"

namespace frugal {

namespace {

chat::ChatTemplate pick_template(const Model& model, const std::string& spec, std::string& origin) {
  chat::ModelChatInfo info;
  info.chat_template = model.file().metadata().get_string("tokenizer.chat_template");
  const Tokenizer& tok = model.tokenizer();
  for (TokenId id = 0; id < tok.n_vocab(); ++id) {
    if (tok.token_kind(id) == TokenKind::CONTROL) info.special_tokens.push_back(tok.token_text(id));
  }
  chat::SelectedTemplate selected = chat::select_chat_template(info, spec);
  origin = selected.origin;
  return chat::ChatTemplate(selected.source);
}

}  // namespace

Response json_response(int status, const Json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

Response error_response(const HttpError& e) {
  Response r;
  r.status = e.status;
  r.body = error_body(e.what(), e.type, e.param);
  return r;
}

void Waker::notify() {
  if (pending_.exchange(true)) return;
  asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
}

asio::awaitable<void> Waker::wait(std::chrono::milliseconds limit) {
  timer_.expires_after(limit);
  co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
}

Server::Impl::Impl(Scheduler& s, const std::string& model_path, const ServerConfig& cfg)
    : scheduler(s),
      model(s.model()),
      config(cfg),
      model_id(cfg.model_alias.empty() ? std::filesystem::path(model_path).filename().string() : cfg.model_alias),
      chat_template_origin(),
      chat_template(pick_template(s.model(), cfg.chat_template, chat_template_origin)),
      ioc(std::max(1, cfg.io_threads)),
      acceptor(ioc),
      signals(ioc, SIGINT, SIGTERM) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(cfg.host, ec);
  if (ec) fail("--host '{}' is not an IP address: {}", cfg.host, ec.message());
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(cfg.port));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("cannot listen on {}:{}: {}", cfg.host, cfg.port, ec.message());
}

std::string Server::Impl::keep_alive_value() const {
  // Clients that honour it (undici, browsers) retire an idle connection before the server
  // cuts it, rather than racing a new request against the close.
  return fmt::format("timeout={}", config.read_timeout.count());
}

bool Server::Impl::peer_closed(Stream& stream) {
  char byte;
  const ssize_t n = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

asio::awaitable<bool> Server::Impl::write_response(Stream& stream, const HttpRequest& req, const Response& r) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
  res.set(http::field::server, "frugal");
  res.set(http::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  const bool keep = req.keep_alive() && r.status < 500 && !stopping.load();
  res.keep_alive(keep);
  if (keep) res.set(http::field::keep_alive, keep_alive_value());
  res.body() = r.body;
  res.prepare_payload();
  stream.expires_after(config.write_timeout);
  auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  (void)n;
  co_return !ec && keep;
}

asio::awaitable<void> Server::Impl::session(tcp::socket socket) {
  Stream stream(std::move(socket));
  beast::flat_buffer buffer;
  ++metrics.connections_total;
  ++metrics.connections_open;
  struct Closing {
    Impl* self;
    ~Closing() {
      --self->metrics.connections_open;
      --self->open_connections;
    }
  } closing{this};
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
    parser.body_limit(config.max_body_bytes);
    // One deadline for the whole request: a client sending a byte at a time (slowloris)
    // or sitting idle on a keep-alive connection is cut off, never waited for.
    stream.expires_after(config.read_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) {
      HttpRequest dummy;
      dummy.version(11);
      dummy.keep_alive(false);
      if (ec == http::error::body_limit) {
        metrics.count_request("other", 413);
        co_await write_response(stream, dummy, error_response(HttpError(
            413, fmt::format("the request body exceeds {} bytes", config.max_body_bytes))));
      } else if (ec == http::error::header_limit) {
        metrics.count_request("other", 431);
        co_await write_response(stream, dummy, error_response(HttpError(
            431, fmt::format("the request headers exceed {} bytes", config.max_header_bytes))));
      } else if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::eof &&
                 ec != asio::error::connection_reset && ec != asio::error::operation_aborted &&
                 ec != http::error::partial_message) {
        metrics.count_request("other", 400);
        co_await write_response(stream, dummy, error_response(HttpError(400, "malformed HTTP request: " + ec.message())));
      }
      break;
    }
    stream.expires_never();
    HttpRequest req = parser.release();
    std::string route = "other";
    bool keep = false;
    try {
      keep = co_await handle(stream, req, route);
    } catch (const std::exception&) {
      keep = false;  // the connection failed mid-response; nothing more can be sent
    }
    if (!keep) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> Server::Impl::accept_loop() {
  while (!stopping.load()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping.load()) break;
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    if (open_connections.load() >= config.max_connections) {
      // Refuse with a response rather than a silent close, so the client can back off.
      ++metrics.connections_refused;
      static const std::string busy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
          "Retry-After: 1\r\nContent-Length: 96\r\n\r\n"
          "{\"error\":{\"message\":\"too many open connections\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
      boost::system::error_code ignored;
      asio::write(socket, asio::buffer(busy), ignored);
      socket.close(ignored);
      continue;
    }
    ++open_connections;
    // Streamed tokens are small writes: without TCP_NODELAY, Nagle's algorithm holds each
    // one back until the previous is acknowledged, and delayed ACKs make that ~40 ms.
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, session(std::move(socket)), asio::detached);
  }
}

void Server::Impl::begin_shutdown() {
  if (stopping.exchange(true)) return;
  asio::post(ioc, [this] {
    boost::system::error_code ignored;
    acceptor.close(ignored);
  });
  // Drain on a separate thread: streams still need the I/O threads to deliver their last
  // tokens. When the scheduler is idle and connections have closed, stop the I/O.
  drain_thread = std::thread([this] {
    scheduler.shutdown(true);
    for (int i = 0; i < 100 && open_connections.load() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ioc.stop();
  });
}

Server::Server(Scheduler& scheduler, const std::string& model_path, const ServerConfig& config)
    : impl_(std::make_unique<Impl>(scheduler, model_path, config)) {}

Server::~Server() {
  if (impl_->drain_thread.joinable()) impl_->drain_thread.join();
}

int Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::stop() { impl_->begin_shutdown(); }

void Server::run() {
  Impl& s = *impl_;
  s.signals.async_wait([&s](const boost::system::error_code& ec, int) {
    if (!ec) s.begin_shutdown();
  });
  asio::co_spawn(s.ioc, s.accept_loop(), asio::detached);
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, s.config.io_threads); ++i) threads.emplace_back([&s] { s.ioc.run(); });
  s.ioc.run();
  for (auto& t : threads) t.join();
}

}  // namespace frugal
