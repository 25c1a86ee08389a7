// The auto mode of frugal quantize (no subcommand of its own; see cmd_quantize.cpp).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "cli/common.h"
#include "cli/quantize_auto.h"
#include "tools/quantize_auto.h"

namespace frugal::cli {

void add_auto_quantize_flags(CLI::App& cmd, AutoQuantizeFlags& f) {
  cmd.add_option("--max-kld", f.max_kld, "auto: mean KL divergence to IN allowed on the calibration text (e.g. 0.01)");
  cmd.add_option("-f,--calibration", f.calibration, "auto: calibration text");
  cmd.add_option("--auto-ctx", f.ctx, "auto: tokens per calibration chunk (0: min(512, training context))");
  cmd.add_option("--auto-chunks", f.chunks, "auto: calibration chunks (-1: all)")->capture_default_str();
  cmd.add_option("--auto-rounds", f.rounds, "auto: measured verifications of a full mix")->capture_default_str();
  cmd.add_option("--auto-types", f.types, "auto: candidate types, comma-separated (default Q2_K..Q8_0, F16)");
  cmd.add_option("--auto-report", f.report, "auto: where to write the per-tensor report (default OUT.auto.txt)");
  cmd.add_flag("--auto-no-imatrix", f.no_importance, "auto: quantize without importance (else --imatrix or collected)");
}

void run_auto_quantize(const AutoQuantizeFlags& f, const AutoQuantizeRun& run) {
  if (f.max_kld <= 0) fail("quantize auto: give the KL divergence budget with --max-kld (e.g. --max-kld 0.01)");
  if (f.calibration.empty()) fail("quantize auto: give calibration text with -f FILE (distinct from evaluation text)");
  if (!run.force && !run.dry_run && std::filesystem::exists(run.output)) {
    fail("{} exists; pass --force to overwrite it", run.output);
  }
  AutoQuantizeOptions o;
  o.input = run.input;
  o.output = run.output;
  o.max_kld = f.max_kld;
  o.calibration = f.calibration;
  o.imatrix = run.imatrix;
  o.use_importance = !f.no_importance;
  o.n_ctx = f.ctx;
  o.n_chunks = f.chunks;
  o.max_rounds = f.rounds;
  o.threads = run.threads;
  o.overwrite = run.force;
  o.dry_run = run.dry_run;
  o.cancel = run.cancel;
  if (!f.types.empty()) {
    std::string rest = f.types;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string name = rest.substr(0, comma);
      const auto t = parse_tensor_type(name);
      if (!t) fail("--auto-types: '{}' is not a tensor type (e.g. Q4_K,Q6_K,Q8_0)", name);
      o.candidates.push_back(*t);
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
  }
  o.progress = [](const std::string& stage, size_t done, size_t total) {
    progress_line(fmt::format("auto: {} {}/{}", stage, done, total), done, total);
  };
  const AutoQuantizeReport r = auto_quantize(o);
  const std::string text = format_auto_report(r);
  const std::string report_path = f.report.empty() ? run.output + ".auto.txt" : f.report;
  if (run.dry_run) {
    std::fputs(text.c_str(), stdout);
  } else {
    std::ofstream out(report_path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) fail("{}: cannot write the auto report", report_path);
  }
  int64_t n = 0;
  for (const auto& t : r.tensors) n += t.n_elements;
  std::fprintf(stderr,
               "%s: auto mix, measured KLD %.6g (budget %.6g, p99 %.4g, same top %.2f%%), matrices %.3f bpw, "
               "PPL %.4f -> %.4f on %zu calibration tokens; %zu measurements, %.1f s%s%s\n",
               run.dry_run ? "(dry run)" : run.output.c_str(), r.kld, r.max_kld, r.kld_p99, 100 * r.same_top,
               n ? 8.0 * static_cast<double>(r.matrix_bytes) / static_cast<double>(n) : 0.0, r.base_ppl, r.ppl,
               r.calibration_tokens, r.evaluations, r.seconds, run.dry_run ? "" : "; report: ",
               run.dry_run ? "" : report_path.c_str());
  if (r.kld == 0 && r.rounds.size() > 0 && r.rounds.front().measured > r.max_kld) {
    std::fprintf(stderr, "warning: no mix met the budget; the input's types were kept\n");
  }
}

}  // namespace frugal::cli
