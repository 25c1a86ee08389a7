// frugal serve: the OpenAI-compatible HTTP server.
#include <cstdio>

#include "backend/backend.h"
#include "base/error.h"
#include "cli/common.h"
#include "runtime/scheduler.h"
#include "server/server.h"

namespace frugal::cli {

void add_serve_command(CLI::App& app) {
  struct Options {
    std::string model;
    int threads = 0;
    std::string cache_type = "f16";
    SchedulerConfig sched;
    ServerConfig server;
    int timeout_s = 600;
    int read_timeout_s = 30;
    bool no_prefix_cache = false;
    bool mlock = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  cmd->add_option("-m,--model", o->model, "GGUF model file (default: $FRUGAL_MODEL, else the stories260K test model)");
  cmd->add_option("--host", o->server.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", o->server.port, "port (0: any free port)")->capture_default_str();
  cmd->add_option("--parallel,--np", o->sched.n_parallel, "sequences decoded together")->capture_default_str();
  cmd->add_option("-c,--ctx-size", o->sched.n_ctx, "context per sequence (default: the model's, at most 4096)");
  cmd->add_option("-b,--batch-size", o->sched.n_batch, "tokens per forward pass")->capture_default_str();
  cmd->add_option("--kv-cells", o->sched.kv_cells, "KV cache positions in total (default: parallel x ctx-size)");
  cmd->add_option("--cache-type", o->cache_type, kCacheTypeHelp)->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "inference threads (0: all cores)");
  cmd->add_option("--api-key", o->server.api_key, "require Authorization: Bearer KEY");
  cmd->add_option("--max-queue", o->sched.max_queue, "requests waiting at most (then 429)")->capture_default_str();
  cmd->add_option("--timeout", o->timeout_s, "seconds a request may take, queue time included")->capture_default_str();
  cmd->add_option("--read-timeout", o->read_timeout_s,
                  "seconds a client may take to send one whole request (slow or idle clients are cut off)")
      ->capture_default_str();
  cmd->add_option("-n,--max-tokens", o->server.max_tokens,
                  "tokens one request may generate at most (0: until the context is full)")
      ->capture_default_str();
  cmd->add_option("--max-connections", o->server.max_connections, "open connections at most")->capture_default_str();
  cmd->add_option("--max-body", o->server.max_body_bytes, "request body bytes at most (then 413)")->capture_default_str();
  cmd->add_option("--io-threads", o->server.io_threads, "threads serving HTTP")->capture_default_str();
  cmd->add_option("--alias", o->server.model_alias, "model id reported to clients (default: the file name)");
  cmd->add_option("--chat-template", o->server.chat_template, "built-in template name or a Jinja file (default: the model's)");
  cmd->add_flag("--no-prefix-cache", o->no_prefix_cache, "do not reuse KV blocks of shared prompt prefixes");
  cmd->add_flag("--mlock", o->mlock, "lock the process's memory (weights, KV cache, the file mapping) in RAM");
  cmd->callback([o] {
    if (o->threads < 0) fail("--threads {} must be 0 (all cores) or more", o->threads);
    if (o->timeout_s < 1) fail("--timeout {} must be at least 1 second", o->timeout_s);
    if (o->read_timeout_s < 1) fail("--read-timeout {} must be at least 1 second", o->read_timeout_s);
    if (o->server.max_tokens < 0) fail("--max-tokens {} must be 0 (no limit) or more", o->server.max_tokens);
    if (o->server.max_connections < 1) fail("--max-connections {} must be at least 1", o->server.max_connections);
    if (o->server.port < 0 || o->server.port > 65535) fail("--port {} is out of range", o->server.port);
    o->sched.kv_type = parse_cache_type(o->cache_type);
    o->sched.prefix_cache = !o->no_prefix_cache;
    o->server.request_timeout = std::chrono::seconds(o->timeout_s);
    o->server.read_timeout = std::chrono::seconds(o->read_timeout_s);
    auto backend = make_cpu_backend(o->threads > 0 ? o->threads : default_threads());
    const std::string path = resolve_model_path(o->model);
    auto model = Model::load(path, *backend, [](size_t done, size_t total) { progress_line("loading", done, total); });
    Scheduler scheduler(*model, o->sched);
    Server server(scheduler, path, o->server);
    if (o->mlock) lock_memory();
    const Scheduler::Stats st = scheduler.stats();
    std::fprintf(stderr,
                 "frugal serve: %s (%s), %d parallel x %d context, KV pool %lld blocks, %s, %d threads\n"
                 "listening on http://%s:%d\n",
                 path.c_str(), model->config().arch_name.c_str(), o->sched.n_parallel, scheduler.n_ctx(),
                 static_cast<long long>(st.kv_blocks_total), backend->name().c_str(), backend->n_threads(),
                 o->server.host.c_str(), server.port());
    std::fflush(stderr);
    server.run();
    std::fprintf(stderr, "frugal serve: stopped\n");
  });
}

const CommandRegistration registration{"serve", add_serve_command};

}  // namespace frugal::cli
