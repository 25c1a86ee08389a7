// frugal imatrix: collect per-column activation importance on calibration text, written
// in llama.cpp's imatrix formats for `frugal quantize --imatrix` (or llama-quantize).
#include <cstdio>
#include <filesystem>

#include "backend/backend.h"
#include "base/error.h"
#include "cli/common.h"
#include "model/model.h"
#include "tools/imatrix.h"
#include "tools/perplexity.h"

namespace frugal::cli {

namespace {

struct ImatrixCliOptions {
  std::string model;
  std::string text_file;
  std::string output;
  int ctx = 512;
  int chunks = -1;
  int batch = 512;
  int threads = 0;
  bool force = false;
};

void imatrix(const ImatrixCliOptions& o) {
  if (o.text_file.empty()) fail("give the calibration text with -f");
  if (o.output.empty()) fail("give the output file with -o (.dat: llama.cpp's legacy format, .gguf: its GGUF form)");
  if (o.threads < 0) fail("--threads {} must be 0 (all cores) or more", o.threads);
  if (std::filesystem::exists(o.output) && !o.force) fail("{} exists; pass --force to overwrite it", o.output);
  auto backend = make_cpu_backend(o.threads > 0 ? o.threads : default_threads());
  const std::string path = resolve_model_path(o.model);
  auto model = Model::load(path, *backend, [](size_t done, size_t total) { progress_line("loading", done, total); });
  const std::vector<TokenId> tokens = perplexity_tokens(*model, read_text_file(o.text_file));

  ImatrixOptions io;
  io.n_ctx = o.ctx;
  io.n_chunks = o.chunks;
  io.n_batch = o.batch;
  Imatrix m = collect_imatrix(*model, tokens, io, [](uint32_t done, uint32_t total, double ppl) {
    progress_line(fmt::format("chunk {}/{} ppl {:.4f}", done, total, ppl), done, total);
  });
  m.dataset = o.text_file;
  write_imatrix(m, o.output);
  int64_t tokens_seen = 0;
  for (const auto& [name, e] : m.entries) tokens_seen = std::max(tokens_seen, e.count);
  std::printf("%s: %zu matrices, %d chunks of %d tokens (%lld tokens per matrix) from %s\n", o.output.c_str(),
              m.entries.size(), m.chunks, m.chunk_size, static_cast<long long>(tokens_seen), o.text_file.c_str());
}

}  // namespace

void add_imatrix_command(CLI::App& app) {
  auto o = std::make_shared<ImatrixCliOptions>();
  CLI::App* cmd = app.add_subcommand("imatrix", "Collect activation importance for quantization (llama.cpp imatrix)");
  cmd->add_option("-m,--model", o->model, "GGUF model file (default: $FRUGAL_MODEL, else the stories260K test model)");
  cmd->add_option("-f,--file", o->text_file, "calibration text")->required();
  cmd->add_option("-o,--output", o->output, "imatrix file to write (.gguf: GGUF form, else legacy .dat)")->required();
  cmd->add_option("-c,--ctx", o->ctx, "tokens per chunk")->capture_default_str();
  cmd->add_option("--chunks", o->chunks, "chunks to evaluate (-1: all)")->capture_default_str();
  cmd->add_option("-b,--batch-size", o->batch, "tokens per forward pass")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads (0: all cores)");
  cmd->add_flag("--force", o->force, "overwrite the output file");
  cmd->callback([o] { imatrix(*o); });
}

const CommandRegistration registration{"imatrix", add_imatrix_command};

}  // namespace frugal::cli
