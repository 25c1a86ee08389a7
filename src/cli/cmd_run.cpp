// frugal run: load a model, generate a continuation of a prompt, stream it to stdout.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "backend/backend.h"
#include "base/error.h"
#include "cli/common.h"
#include "runtime/session.h"

namespace frugal::cli {

namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int n_predict = 128;
  int threads = 0;
  int ctx_size = 0;
  int batch_size = 512;
  std::string cache_type = "f16";
  bool json = false;
  int top_logprobs = 0;
  bool ignore_eos = false;
  bool no_bos = false;
  bool mlock = false;
  std::vector<std::string> stop;
  int64_t seed = -1;
  SamplerConfig sampling;
};

std::string json_safe(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

void run(const RunOptions& o) {
  if (!o.prompt_file.empty() && !o.prompt.empty()) fail("give either -p or -f, not both");
  if (o.threads < 0) fail("--threads {} must be 0 (all cores) or more", o.threads);
  const std::string prompt_text = o.prompt_file.empty() ? o.prompt : read_text_file(o.prompt_file);
  const TensorType kv_type = parse_cache_type(o.cache_type);

  auto backend = make_cpu_backend(o.threads > 0 ? o.threads : default_threads());
  const std::string path = resolve_model_path(o.model);
  auto model = Model::load(path, *backend, [](size_t done, size_t total) { progress_line("loading", done, total); });

  SessionConfig sc;
  sc.n_ctx = o.ctx_size;
  sc.n_batch = o.batch_size;
  sc.kv_type = kv_type;
  Session session(*model, sc);
  if (o.mlock) lock_memory();

  const Tokenizer& tok = model->tokenizer();
  std::vector<TokenId> prompt = tok.encode(prompt_text, !o.no_bos, true);
  if (prompt.empty()) fail("the prompt is empty after tokenization; give some text with -p");

  GenerateOptions go;
  go.max_tokens = o.n_predict;
  go.sampling = o.sampling;
  go.sampling.seed = o.seed >= 0 ? static_cast<uint64_t>(o.seed) : std::random_device{}();
  go.top_logprobs = o.top_logprobs;
  go.stop_at_eog = !o.ignore_eos;
  go.stop = o.stop;

  GenerationResult r;
  if (o.json) {
    r = generate(session, prompt, go);
  } else {
    r = generate(session, prompt, go, [](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return true;
    });
  }

  const double prompt_tps = r.prompt_ms > 0 ? 1000.0 * static_cast<double>(r.prompt_ids.size()) / r.prompt_ms : 0.0;
  // The first generated token comes from the prompt's logits, so decode speed counts the
  // forward passes actually run for generation.
  const size_t decode_passes = r.generated_ids.empty() ? 0 : r.generated_ids.size() - 1;
  const double gen_tps = r.generate_ms > 0 ? 1000.0 * static_cast<double>(decode_passes) / r.generate_ms : 0.0;
  if (o.json) {
    nlohmann::json j;
    j["model"] = path;
    j["prompt_ids"] = r.prompt_ids;
    j["generated_ids"] = r.generated_ids;
    j["text"] = r.text;
    j["finish_reason"] = r.finish_reason;
    j["seed"] = go.sampling.seed;
    j["timings"] = {{"prompt_ms", r.prompt_ms},
                    {"prompt_tokens_per_s", prompt_tps},
                    {"generate_ms", r.generate_ms},
                    {"generate_tokens_per_s", gen_tps}};
    if (o.top_logprobs > 0) {
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& step : r.logprobs) {
        nlohmann::json s = nlohmann::json::array();
        for (const auto& t : step) {
          s.push_back({{"id", t.id}, {"logprob", t.logprob}, {"token", tok.token_to_piece(t.id, true)}});
        }
        steps.push_back(std::move(s));
      }
      j["top_logprobs"] = std::move(steps);
    }
    std::printf("%s\n", json_safe(j).c_str());
  } else {
    std::printf("\n");
    std::fprintf(stderr,
                 "prompt: %zu tokens, %.1f ms (%.1f tok/s) | generated: %zu tokens, %.1f ms (%.1f tok/s) | "
                 "finish: %s | seed: %llu | %s, %d threads\n",
                 r.prompt_ids.size(), r.prompt_ms, prompt_tps, r.generated_ids.size(), r.generate_ms, gen_tps,
                 r.finish_reason.c_str(), static_cast<unsigned long long>(go.sampling.seed), backend->name().c_str(),
                 backend->n_threads());
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate a continuation of a prompt");
  cmd->add_option("-m,--model", o->model, "GGUF model file (default: $FRUGAL_MODEL, else the stories260K test model)");
  cmd->add_option("-p,--prompt", o->prompt, "prompt text");
  cmd->add_option("-f,--file", o->prompt_file, "read the prompt from a file");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate (-1: until the context is full)")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads (0: all cores)");
  cmd->add_option("-c,--ctx-size", o->ctx_size, "context size (default: the model's, at most 4096)");
  cmd->add_option("-b,--batch-size", o->batch_size, "prompt tokens per forward pass")->capture_default_str();
  cmd->add_option("--cache-type", o->cache_type, kCacheTypeHelp)->capture_default_str();
  cmd->add_option("--temp", o->sampling.temperature, "temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", o->sampling.top_k, "top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", o->sampling.top_p, "top-p (1: off)")->capture_default_str();
  cmd->add_option("--min-p", o->sampling.min_p, "min-p (0: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", o->sampling.repeat_penalty, "repetition penalty (1: off)")->capture_default_str();
  cmd->add_option("--repeat-last-n", o->sampling.repeat_last_n, "tokens the penalties look at (-1: all)")->capture_default_str();
  cmd->add_option("--presence-penalty", o->sampling.presence_penalty, "presence penalty")->capture_default_str();
  cmd->add_option("--frequency-penalty", o->sampling.frequency_penalty, "frequency penalty")->capture_default_str();
  cmd->add_option("--seed", o->seed, "random seed (default: random, printed in the summary)");
  cmd->add_option("--stop", o->stop, "stop string (repeatable)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "do not stop at end-of-generation tokens");
  cmd->add_flag("--no-bos", o->no_bos, "do not add the BOS token");
  cmd->add_flag("--mlock", o->mlock, "lock the process's memory (weights, KV cache, the file mapping) in RAM");
  cmd->add_flag("--json", o->json, "print one JSON object (ids, text, timings) instead of streaming");
  cmd->add_option("--top-logprobs", o->top_logprobs, "with --json: the K most likely tokens at every step");
  cmd->callback([o] { run(*o); });
}

const CommandRegistration registration{"run", add_run_command};

}  // namespace frugal::cli
