// frugal quantize IN OUT TYPE: a GGUF or Hugging Face directory to a quantized GGUF.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>

#include "base/error.h"
#include "cli/common.h"
#include "cli/quantize_auto.h"
#include "tools/quant_mix.h"
#include "tools/quantize.h"

namespace frugal::cli {

namespace {

struct QuantizeFlags {
  std::string input, output, type;
  std::string imatrix;
  std::vector<std::string> tensor_types;  // REGEX=TYPE
  std::string output_tensor_type, token_embedding_type;
  int threads = 0;
  bool pure = false;
  bool force = false;
  bool allow_requantize = false;
  bool dry_run = false;
  AutoQuantizeFlags auto_flags;  // TYPE auto
};

// Ctrl-C asks the quantizer to stop; it then removes its temporary file. A signal handler
// can only touch a lock-free atomic, hence this one process-wide flag.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);
extern "C" void on_interrupt(int) { g_interrupted.store(true); }

std::string mib(uint64_t bytes) { return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0)); }

void print_plan(const QuantizeReport& r) {
  for (const auto& t : r.tensors) {
    std::string shape;
    for (int64_t d : t.ne) shape += fmt::format("{}{}", shape.empty() ? "" : ", ", d);
    std::printf("%-36s [%-14s] %-5s -> %-5s %6.2f bpw %12llu%s\n", t.name.c_str(), shape.c_str(),
                std::string(type_name(t.source_type)).c_str(), std::string(type_name(t.type)).c_str(),
                t.bits_per_weight(), static_cast<unsigned long long>(t.bytes), t.used_importance ? "  (imatrix)" : "");
  }
}

void print_summary(const QuantizeFlags& f, const QuantizeReport& r) {
  std::string mix;
  for (const auto& [name, count] : r.type_counts()) mix += fmt::format("{}{} x{}", mix.empty() ? "" : ", ", name, count);
  const double in_bpw = r.n_elements ? 8.0 * static_cast<double>(r.source_bytes) / static_cast<double>(r.n_elements) : 0;
  std::fprintf(stderr, "%s: %s (%s), %zu tensors (%s)\n", f.output.c_str(), r.file_type.c_str(), r.architecture.c_str(),
               r.tensors.size(), mix.c_str());
  std::fprintf(stderr, "  tensor data %s (%.2f bpw) -> %s (%.2f bpw), %.1f%% of the input; file %s\n",
               mib(r.source_bytes).c_str(), in_bpw, mib(r.bytes).c_str(), r.bits_per_weight(),
               r.source_bytes ? 100.0 * static_cast<double>(r.bytes) / static_cast<double>(r.source_bytes) : 0.0,
               mib(r.file_bytes).c_str());
  std::fprintf(stderr, "  %.1f s, %.1f MiB/s of input\n", r.seconds,
               r.seconds > 0 ? static_cast<double>(r.source_bytes) / (1024.0 * 1024.0) / r.seconds : 0.0);
}

// The one place TYPE is interpreted: a llama-quantize file type, or "auto" (chosen per
// tensor from measured sensitivity: quantize_auto() below, tools/quantize_auto.h).
QuantizeOptions options_from(const QuantizeFlags& f) {
  if (f.auto_flags.max_kld != 0 || !f.auto_flags.calibration.empty()) {
    fail("quantize: --max-kld and -f/--calibration apply to TYPE auto only (TYPE is '{}')", f.type);
  }
  QuantizeOptions o;
  o.input = f.input;
  o.output = f.output;
  o.type = f.type;
  if (!parse_file_type(f.type, f.pure)) {
    fail("quantize: TYPE '{}' is not supported (supported: {})", f.type, file_type_names());
  }
  o.imatrix = f.imatrix;
  for (const auto& spec : f.tensor_types) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      fail("--tensor-type '{}': expected REGEX=TYPE, e.g. 'attn_v=Q6_K'", spec);
    }
    o.tensor_types.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
  }
  if (!f.output_tensor_type.empty()) o.output_tensor_type = f.output_tensor_type;
  if (!f.token_embedding_type.empty()) o.token_embedding_type = f.token_embedding_type;
  if (f.threads < 0) fail("-t {}: threads must be 0 (all cores) or more", f.threads);
  o.threads = f.threads;
  o.pure = f.pure;
  o.overwrite = f.force;
  o.allow_requantize = f.allow_requantize;
  o.dry_run = f.dry_run;
  return o;
}

void quantize_auto(const QuantizeFlags& f) {
  if (!f.tensor_types.empty() || !f.output_tensor_type.empty() || !f.token_embedding_type.empty() || f.pure) {
    fail("quantize auto chooses every tensor's type; --tensor-type, --output-tensor-type, --token-embedding-type "
         "and --pure do not apply");
  }
  g_interrupted.store(false);
  auto previous = std::signal(SIGINT, on_interrupt);
  auto previous_term = std::signal(SIGTERM, on_interrupt);
  try {
    run_auto_quantize(f.auto_flags, {f.input, f.output, f.imatrix, f.threads, f.force, f.dry_run, &g_interrupted});
  } catch (...) {
    std::signal(SIGINT, previous);
    std::signal(SIGTERM, previous_term);
    throw;
  }
  std::signal(SIGINT, previous);
  std::signal(SIGTERM, previous_term);
}

void quantize(const QuantizeFlags& f) {
  if (f.type == "auto" || f.type == "AUTO") return quantize_auto(f);
  QuantizeOptions o = options_from(f);
  const auto t0 = std::chrono::steady_clock::now();
  o.progress = [t0](size_t done, size_t total) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double speed = s > 0 ? static_cast<double>(done) / (1024.0 * 1024.0) / s : 0.0;
    progress_line(fmt::format("quantizing {:7.1f} MiB/s", speed), done, total);
  };
  g_interrupted.store(false);
  o.cancel = &g_interrupted;
  auto previous = std::signal(SIGINT, on_interrupt);
  auto previous_term = std::signal(SIGTERM, on_interrupt);
  QuantizeReport r;
  try {
    r = quantize_model(o);
  } catch (...) {
    std::signal(SIGINT, previous);
    std::signal(SIGTERM, previous_term);
    throw;
  }
  std::signal(SIGINT, previous);
  std::signal(SIGTERM, previous_term);
  for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (f.dry_run) {
    print_plan(r);
    std::printf("%zu tensors, %s -> %s, %.2f bits per weight (%s)\n", r.tensors.size(), mib(r.source_bytes).c_str(),
                mib(r.bytes).c_str(), r.bits_per_weight(), r.file_type.c_str());
    return;
  }
  print_summary(f, r);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto f = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a GGUF or Hugging Face model directory into a GGUF");
  cmd->add_option("IN", f->input, "GGUF file (F32/F16/BF16) or Hugging Face directory")->required();
  cmd->add_option("OUT", f->output, "GGUF file to write (atomically; never the input)")->required();
  cmd->add_option("TYPE", f->type, "file type: " + file_type_names() + ", or auto (with --max-kld and -f)")->required();
  cmd->add_option("--imatrix", f->imatrix, "importance matrix (llama.cpp imatrix GGUF or .dat)");
  cmd->add_option("--tensor-type", f->tensor_types,
                  "REGEX=TYPE: matrices whose name matches REGEX get TYPE (first match wins; repeatable)");
  cmd->add_option("--output-tensor-type", f->output_tensor_type, "type of output.weight");
  cmd->add_option("--token-embedding-type", f->token_embedding_type, "type of token_embd.weight");
  cmd->add_option("-t,--threads", f->threads, "threads (0: all cores)");
  cmd->add_flag("--pure", f->pure, "every matrix gets TYPE (no mix rules for output, attn_v, ffn_down...)");
  cmd->add_flag("--force", f->force, "overwrite OUT if it exists");
  add_auto_quantize_flags(*cmd, f->auto_flags);
  cmd->add_flag("--allow-requantize", f->allow_requantize, "accept already quantized input tensors (loses quality)");
  cmd->add_flag("--dry-run", f->dry_run, "print each tensor's type and size; write nothing");
  cmd->callback([f] { quantize(*f); });
}

const CommandRegistration registration{"quantize", add_quantize_command};

}  // namespace frugal::cli
