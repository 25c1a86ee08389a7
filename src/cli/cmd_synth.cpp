// frugal synth: write a GGUF with a real model's shapes, tokenizer and random weights.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string_view>

#include "base/error.h"
#include "cli/common.h"
#include "tools/presets.h"

namespace frugal::cli {

namespace {

struct SynthOptions {
  std::string preset;
  std::string type = "Q4_K_M";
  std::string output;
  uint64_t seed = 1;
  int layers = 0;
  int threads = 0;
  bool pure = false;
  bool force = false;
  bool list = false;
  bool dry_run = false;
  std::string testdata;
};

// The shared testdata directory holding the vocabularies: --testdata, $FRUGAL_TESTDATA,
// ../shared/testdata from here, or the one this binary was built against.
std::string testdata_dir(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("FRUGAL_TESTDATA"); env != nullptr && *env != '\0') return env;
  if (fs::is_directory("../shared/testdata/vocab")) return "../shared/testdata";
  return fs::path(FRUGAL_DEFAULT_MODEL).parent_path().parent_path().string();
}

void list_presets() {
  std::printf("%-14s %-6s %6s %6s %6s %5s %4s %5s %7s %7s %10s %-5s  %s\n", "preset", "arch", "layers", "embd", "ff",
              "heads", "kv", "hdim", "vocab", "ctx", "rope_theta", "tied", "config of");
  for (const auto& p : model_presets()) {
    std::printf("%-14s %-6s %6d %6d %6d %5d %4d %5d %7d %7d %10.0f %-5s  %s\n", p.name.c_str(), p.arch.c_str(),
                p.n_layer, p.n_embd, p.n_ff, p.n_head, p.n_head_kv, p.head_dim, p.n_vocab, p.n_ctx, p.rope_theta,
                p.tied_embeddings ? "yes" : "no", p.hf_repo.c_str());
  }
}

// The tensors a file would hold, like `llama-quantize --dry-run` (rope_freqs.weight, a
// small F32 vector written for Llama 3.x, is not listed).
void print_plan(const std::vector<SynthTensor>& plan) {
  uint64_t total = 0;
  for (const auto& t : plan) {
    int64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
    const uint64_t bytes = row_bytes(t.type, t.ne[0]) * static_cast<uint64_t>(rows);
    total += bytes;
    std::string shape;
    for (int64_t d : t.ne) shape += fmt::format("{}{}", shape.empty() ? "" : ", ", d);
    std::printf("%-32s [%-14s] %-6s %12llu\n", t.name.c_str(), shape.c_str(), std::string(type_name(t.type)).c_str(),
                static_cast<unsigned long long>(bytes));
  }
  std::printf("%zu tensors, %.2f MiB of tensor data\n", plan.size(), static_cast<double>(total) / (1024.0 * 1024.0));
}

void synth(const SynthOptions& o) {
  if (o.list) {
    list_presets();
    return;
  }
  if (o.preset.empty()) fail("give a model preset with --preset (see --list)");
  if (o.output.empty() && !o.dry_run) fail("give the output file with -o");
  if (o.layers < 0) fail("--layers {} must be positive", o.layers);
  if (o.threads < 0) fail("--threads {} must be 0 (all cores) or more", o.threads);
  if (!o.dry_run && std::filesystem::exists(o.output) && !o.force) {
    fail("{} exists; pass --force to overwrite it", o.output);
  }
  const ModelPreset& preset = find_preset(o.preset);
  const auto type = parse_file_type(o.type, o.pure);
  if (!type) fail("--type '{}' is not supported (supported: {})", o.type, file_type_names());
  if (o.pure && type->rule == MixRule::KMedium) fail("--pure applies to single types, not the mix {}", o.type);
  SynthSpec spec = preset_spec(preset, *type, o.layers, o.seed);
  spec.n_threads = o.threads;
  const auto plan = synth_tensor_plan(spec, preset.n_vocab);
  if (o.dry_run) {
    print_plan(plan);
    return;
  }
  const GgufMetadata tokenizer = preset_tokenizer(preset, testdata_dir(o.testdata));

  std::map<std::string, int> type_counts;
  for (const auto& t : plan) ++type_counts[std::string(type_name(t.type))];
  std::string mix;
  for (const auto& [name, count] : type_counts) mix += fmt::format("{}{} x{}", mix.empty() ? "" : ", ", name, count);

  const auto t0 = std::chrono::steady_clock::now();
  write_synthetic_model(spec, tokenizer, o.output, [](uint64_t done, uint64_t total) {
    progress_line("writing", static_cast<size_t>(done), static_cast<size_t>(total));
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto bytes = std::filesystem::file_size(o.output);
  std::fprintf(stderr, "%s: %s %s, %d layers, %zu tensors (%s), %.2f MiB, written in %.1f s\n", o.output.c_str(),
               preset.name.c_str(), llama_ftype_name(llama_ftype(*type)).c_str(), spec.n_layer, plan.size(),
               mix.c_str(), static_cast<double>(bytes) / (1024.0 * 1024.0), s);
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto o = std::make_shared<SynthOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synth", "Write a GGUF with a real model's shapes and tokenizer and random weights (for benchmarks)");
  cmd->add_option("--preset", o->preset, "model preset (see --list)");
  cmd->add_option("--type", o->type, "file type: " + file_type_names())->capture_default_str();
  cmd->add_option("-o,--output", o->output, "output GGUF file");
  cmd->add_option("--seed", o->seed, "random seed of the weights")->capture_default_str();
  cmd->add_option("--layers", o->layers, "write only the first N layers (a shallow variant for tests)");
  cmd->add_option("-t,--threads", o->threads, "threads generating weights (0: all cores)");
  cmd->add_flag("--pure", o->pure,
                "every matrix gets --type (default: output and tied embeddings follow llama-quantize)");
  cmd->add_flag("-f,--force", o->force, "overwrite the output file if it exists");
  cmd->add_flag("--list", o->list, "list the presets and their configurations");
  cmd->add_flag("--dry-run", o->dry_run, "print each tensor's shape, type and size instead of writing");
  cmd->add_option("--testdata", o->testdata, "shared testdata directory with the vocabularies");
  cmd->callback([o] { synth(*o); });
}

const CommandRegistration registration{"synth", add_synth_command};

}  // namespace frugal::cli
