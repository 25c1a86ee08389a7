// The OpenAI-compatible HTTP server: Boost.Beast on Asio with C++20 coroutines, so every
// connection is a cheap coroutine and a slow or idle client never holds a thread. Requests
// become scheduler requests; inference runs on the scheduler's own thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "runtime/scheduler.h"

namespace frugal {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port (see Server::port())
  std::string api_key;              // non-empty: Authorization: Bearer <key> required
  std::string model_alias;          // the model id clients see; default: the file name
  std::string chat_template;        // --chat-template NAME|FILE, or empty for the model's
  int io_threads = 2;
  int max_connections = 512;
  int max_tokens = 0;               // > 0: generated tokens per request at most (larger asks are cut)
  size_t max_body_bytes = 8u << 20;
  size_t max_header_bytes = 16u << 10;
  std::chrono::seconds read_timeout{30};      // to receive one whole request (slowloris bound)
  std::chrono::seconds write_timeout{60};     // for one write to a client (stalled readers)
  std::chrono::seconds request_timeout{600};  // for one generation, queue time included
};

class Server {
 public:
  // Binds the listening socket (throws frugal::Error naming the address on failure).
  Server(Scheduler& scheduler, const std::string& model_path, const ServerConfig& config);
  ~Server();
  int port() const;
  // Serves until SIGINT/SIGTERM or stop(): then stops accepting, lets running requests
  // finish (bounded by their timeouts), and returns.
  void run();
  // Asks a running server to shut down as on SIGTERM (any thread).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace frugal
