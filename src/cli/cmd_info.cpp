// frugal info: what a GGUF file holds (metadata, tensors), or what this CPU can do.
#include <cstdio>

#include "base/error.h"
#include "cli/common.h"
#include "format/gguf.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/qdot.h"

namespace frugal::cli {

namespace {

std::string value_string(const GgufValue& v, size_t max_items) {
  switch (v.type) {
    case GgufValueType::STRING: {
      std::string s = v.string();
      if (s.size() > 120) s = s.substr(0, 117) + "...";
      std::string out = "\"";
      for (char c : s) {
        if (c == '\n') out += "\\n";
        else if (c == '"') out += "\\\"";
        else out += c;
      }
      return out + "\"";
    }
    case GgufValueType::BOOL: return std::get<bool>(v.data) ? "true" : "false";
    case GgufValueType::FLOAT32: case GgufValueType::FLOAT64: return fmt::format("{}", v.as_float());
    case GgufValueType::ARRAY: {
      std::string out = fmt::format("[{} x {}] [", v.items().size(), value_type_name(v.element_type));
      for (size_t i = 0; i < v.items().size() && i < max_items; ++i) {
        out += (i ? ", " : "") + value_string(v.items()[i], max_items);
      }
      return out + (v.items().size() > max_items ? ", ...]" : "]");
    }
    default:
      if (const auto* u = std::get_if<uint64_t>(&v.data)) return std::to_string(*u);
      return std::to_string(std::get<int64_t>(v.data));
  }
}

void print_cpu() {
  const CpuFeatures& f = cpu_features();
  std::printf("cpu features: %s\n", f.to_string().c_str());
  std::printf("kernels:      %s%s\n", kernels().isa,
              avx2_kernels() == nullptr ? " (AVX2+FMA+F16C not available, using the scalar reference)" : "");
  std::printf("int8 dots:    %s%s\n", qdot().isa,
              avx512_qdot() == nullptr ? " (no AVX-512 VNNI)" : "");
}

void print_file(const std::string& path) {
  auto f = GgufFile::open(path);
  std::printf("file:      %s\n", path.c_str());
  std::printf("gguf:      version %u, %zu metadata entries, %zu tensors, alignment %zu, data at byte %zu\n",
              f->version(), f->metadata().entries().size(), f->tensors().size(), f->alignment(), f->data_offset());
  std::printf("\nmetadata:\n");
  for (const auto& [key, value] : f->metadata().entries()) {
    std::printf("  %-45s %s\n", key.c_str(), value_string(value, 8).c_str());
  }
  std::printf("\ntensors:\n  %-36s %-8s %-22s %12s\n", "name", "type", "shape", "bytes");
  size_t total = 0;
  int64_t params = 0;
  for (const auto& t : f->tensors()) {
    std::printf("  %-36s %-8s %-22s %12zu\n", t.name.c_str(), std::string(type_name(t.type)).c_str(),
                t.shape_string().c_str(), t.nbytes);
    total += t.nbytes;
    params += t.n_elements();
  }
  std::printf("\n%zu tensors, %lld parameters, %.2f MiB of weights (%.2f bits per weight)\n", f->tensors().size(),
              static_cast<long long>(params), static_cast<double>(total) / (1024.0 * 1024.0),
              params ? 8.0 * static_cast<double>(total) / static_cast<double>(params) : 0.0);
}

}  // namespace

void add_info_command(CLI::App& app) {
  struct Options {
    std::string model;
    bool cpu = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("info", "Show a GGUF file's metadata and tensors, or this CPU's features");
  cmd->add_option("-m,--model", o->model, "GGUF file");
  cmd->add_flag("--cpu", o->cpu, "show the CPU features and the kernels dispatch chose");
  cmd->callback([o] {
    if (o->cpu) {
      print_cpu();
      if (o->model.empty()) return;
      std::printf("\n");
    }
    print_file(resolve_model_path(o->model));
  });
}

const CommandRegistration registration{"info", add_info_command};

}  // namespace frugal::cli
