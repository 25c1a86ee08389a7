// frugal perplexity: perplexity of a model on a text, and KL divergence to a base model's
// saved logits, reported the way llama-perplexity reports them.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "base/error.h"
#include "cli/common.h"
#include "model/model.h"
#include "tools/perplexity.h"

namespace frugal::cli {

namespace {

struct PerplexityCliOptions {
  std::string model;
  std::string text_file;
  int ctx = 512;
  int chunks = -1;
  int batch = 512;
  int threads = 0;
  std::string cache_type = "f16";
  std::string save_logits;
  std::string kld_base;
  bool force = false;
  bool json = false;
};

void print_kld(const KldStats& k, const PerplexityResult& r) {
  std::printf("====== Perplexity statistics ======\n");
  std::printf("Mean PPL(Q)                   : %10.6f +/- %.6f\n", r.ppl, r.ppl_err);
  std::printf("Mean PPL(base)                : %10.6f\n", k.ppl_base);
  std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f +/- %.6f\n", k.ln_ppl_ratio, k.ln_ppl_ratio_err);
  std::printf("\n====== KL divergence statistics ======\n");
  std::printf("Mean    KLD: %10.6f +/- %.6f\n", k.mean, k.mean_err);
  std::printf("Maximum KLD: %10.6f\n", k.max);
  std::printf("99.0%%   KLD: %10.6f\n", k.p99);
  std::printf("90.0%%   KLD: %10.6f\n", k.p90);
  std::printf("Median  KLD: %10.6f\n", k.median);
  std::printf("10.0%%   KLD: %10.6f\n", k.p10);
  std::printf(" 1.0%%   KLD: %10.6f\n", k.p01);
  std::printf("Minimum KLD: %10.6f\n", k.min);
  std::printf("\n====== Token probability statistics ======\n");
  std::printf("RMS Δp    : %7.3f %%\n", 100 * k.rms_dp);
  std::printf("Same top p: %7.3f +/- %.3f %%\n", 100 * k.same_top, 100 * k.same_top_err);
}

void perplexity(const PerplexityCliOptions& o) {
  if (o.threads < 0) fail("--threads {} must be 0 (all cores) or more", o.threads);
  if (o.text_file.empty() && o.kld_base.empty()) fail("give the text with -f (or base logits with --kld-base)");
  if (!o.save_logits.empty() && !o.kld_base.empty()) fail("give either --save-logits or --kld-base, not both");
  if (!o.save_logits.empty() && std::filesystem::exists(o.save_logits) && !o.force) {
    fail("{} exists; pass --force to overwrite it", o.save_logits);
  }
  const TensorType kv_type = parse_cache_type(o.cache_type);
  auto backend = make_cpu_backend(o.threads > 0 ? o.threads : default_threads());
  const std::string path = resolve_model_path(o.model);
  auto model = Model::load(path, *backend, [](size_t done, size_t total) { progress_line("loading", done, total); });

  std::vector<TokenId> tokens;
  if (!o.text_file.empty()) tokens = perplexity_tokens(*model, read_text_file(o.text_file));
  std::unique_ptr<LogitsFileReader> base;
  if (!o.kld_base.empty()) base = std::make_unique<LogitsFileReader>(o.kld_base);
  std::unique_ptr<LogitsFileWriter> save;
  if (!o.save_logits.empty()) save = std::make_unique<LogitsFileWriter>(o.save_logits);

  PerplexityOptions po;
  po.n_ctx = base ? static_cast<int>(base->header().n_ctx) : o.ctx;
  po.n_chunks = o.chunks;
  po.n_batch = o.batch;
  po.kv_type = kv_type;
  if (!o.json) {
    const size_t available = base ? base->header().n_chunks : tokens.size() / static_cast<size_t>(std::max(po.n_ctx, 1));
    std::fprintf(stderr, "%s: %zu tokens, %zu chunks of %d (scoring the second half of each), %s, %d threads\n",
                 path.c_str(), base ? base->header().tokens.size() : tokens.size(),
                 o.chunks >= 0 ? std::min(available, static_cast<size_t>(o.chunks)) : available, po.n_ctx,
                 backend->name().c_str(), backend->n_threads());
  }
  const PerplexityResult r =
      compute_perplexity(*model, tokens, po, save.get(), base.get(), [&](uint32_t done, uint32_t, double ppl) {
        if (o.json) return;
        std::printf("[%u]%.4f,", done, ppl);
        std::fflush(stdout);
      });
  if (o.json) {
    nlohmann::json j = {{"model", path},         {"n_ctx", po.n_ctx}, {"chunks", r.n_chunks},
                        {"scored_tokens", r.n_scored}, {"ppl", r.ppl},     {"ppl_err", r.ppl_err}};
    if (r.kld) {
      const KldStats& k = *r.kld;
      j["kld"] = {{"mean", k.mean},     {"mean_err", k.mean_err}, {"median", k.median},     {"p90", k.p90},
                  {"p99", k.p99},       {"max", k.max},           {"min", k.min},           {"same_top", k.same_top},
                  {"same_top_err", k.same_top_err}, {"ppl_base", k.ppl_base}, {"ln_ppl_ratio", k.ln_ppl_ratio},
                  {"rms_dp", k.rms_dp}};
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f  (%zu tokens scored in %u chunks)\n", r.ppl, r.ppl_err,
              r.n_scored, r.n_chunks);
  if (save) std::printf("saved base logits to %s\n", o.save_logits.c_str());
  if (r.kld) {
    std::printf("\n");
    print_kld(*r.kld, r);
  }
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto o = std::make_shared<PerplexityCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "Perplexity on a text (second half of each chunk scored), and KL divergence to saved base logits");
  cmd->add_option("-m,--model", o->model, "GGUF model file (default: $FRUGAL_MODEL, else the stories260K test model)");
  cmd->add_option("-f,--file", o->text_file, "text to evaluate (with --kld-base: optional, checked against the base)");
  cmd->add_option("-c,--ctx", o->ctx, "tokens per chunk")->capture_default_str();
  cmd->add_option("--chunks", o->chunks, "chunks to evaluate (-1: all)")->capture_default_str();
  cmd->add_option("-b,--batch-size", o->batch, "tokens per forward pass")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads (0: all cores)");
  cmd->add_option("--cache-type", o->cache_type, kCacheTypeHelp)->capture_default_str();
  cmd->add_option("--save-logits", o->save_logits, "write this (base) model's log-probabilities to FILE");
  cmd->add_option("--kld-base", o->kld_base, "KL divergence to the base log-probabilities in FILE");
  cmd->add_flag("--force", o->force, "overwrite the --save-logits file");
  cmd->add_flag("--json", o->json, "print the results as one JSON object");
  cmd->callback([o] { perplexity(*o); });
}

const CommandRegistration registration{"perplexity", add_perplexity_command};

}  // namespace frugal::cli
