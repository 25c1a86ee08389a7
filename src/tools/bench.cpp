#include "tools/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "backend/backend.h"
#include "base/error.h"
#include "format/gguf.h"
#include "runtime/session.h"
#include "tools/quant_mix.h"

namespace frugal {

namespace {

using Clock = std::chrono::steady_clock;

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string params_label(uint64_t n) {
  if (n >= 1000000000ull) return fmt::format("{:.1f}B", static_cast<double>(n) / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.0f}M", static_cast<double>(n) / 1e6);
  return fmt::format("{:.0f}K", static_cast<double>(n) / 1e3);
}

// Files without general.file_type get llama.cpp's treatment: the type most matrices have.
std::string guessed_ftype(const GgufFile& file) {
  std::map<TensorType, int> counts;
  for (const auto& t : file.tensors()) {
    if (t.n_dims >= 2) ++counts[t.type];
  }
  if (counts.empty()) return "unknown";
  const auto best = std::max_element(counts.begin(), counts.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
  return fmt::format("{} (guessed)", best->first == TensorType::F32 ? "all F32" : type_name(best->first));
}

// Floating-point operations of one prompt of n tokens after `depth` context tokens: every
// layer matrix once per token, the output matrix once (only the last token's logits are
// computed), and attention's two products over the causal context (QK^T and PV: 2 *
// head_dim per head per position seen).
double prompt_flops(const Model& model, int n, int depth) {
  double layer_params = 0, output_params = 0;
  for (const auto& t : model.file().tensors()) {
    if (t.n_dims < 2) continue;
    if (t.name.rfind("blk.", 0) == 0) layer_params += static_cast<double>(t.n_elements());
  }
  const ModelConfig& c = model.config();
  output_params = static_cast<double>(c.n_embd) * c.n_vocab;
  const double positions = 0.5 * n * (n + 1.0) + static_cast<double>(n) * depth;
  const double attention = 2.0 * 2.0 * c.n_head * c.head_dim * positions * c.n_layer;
  return 2.0 * layer_params * n + 2.0 * output_params + attention;
}

std::vector<TokenId> random_tokens(std::mt19937_64& rng, const Model& model, int n) {
  std::uniform_int_distribution<int32_t> pick(0, model.config().n_vocab - 1);
  std::vector<TokenId> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = pick(rng);
  // Like llama-bench: a prompt starts with BOS when the vocabulary adds one.
  const SpecialTokens& sp = model.tokenizer().special();
  if (sp.add_bos && sp.bos >= 0 && !ids.empty()) ids[0] = sp.bos;
  return ids;
}

BenchResult run_one(const Model& model, const BenchTest& t, const BenchOptions& o, std::mt19937_64& rng,
                    const std::function<void(int)>& rep_done) {
  BenchResult r;
  r.test = t;
  r.isa = model.backend().name();
  r.test_time = utc_now();
  SessionConfig sc;
  sc.n_ctx = std::max(1, t.n_depth + t.n_prompt + t.n_gen);
  // The whole prompt is one batch; the depth goes in batches of up to 512.
  sc.n_batch = std::max({1, t.n_prompt, std::min(t.n_depth, 512)});
  sc.kv_type = o.kv_type;
  r.n_batch = sc.n_batch;
  Session session(model, sc);

  auto run_prompt = [&](int n) { session.eval(random_tokens(rng, model, n)); };
  auto run_gen = [&](int n) {
    std::vector<TokenId> token = random_tokens(rng, model, 1);
    std::uniform_int_distribution<int32_t> pick(0, model.config().n_vocab - 1);
    for (int i = 0; i < n; ++i) {
      session.eval(token);
      token[0] = pick(rng);
    }
  };
  // Warm-up: one short pass reads every weight once (faulting in the mapping). llama-bench
  // warms up with the full prompt; frugal has no graph or buffer to size on the first
  // full-size batch, so 16 tokens do the same job at a fraction of the time.
  if (o.warmup) {
    if (t.n_prompt > 0) run_prompt(std::min(t.n_prompt, 16));
    if (t.n_gen > 0) run_gen(1);
  }
  // The context is evaluated once; each repetition starts from it (llama-bench evaluates
  // it again before every repetition, untimed, for the same state).
  session.rewind(0);
  if (t.n_depth > 0) run_prompt(t.n_depth);
  for (int rep = 0; rep < o.reps; ++rep) {
    session.rewind(t.n_depth);
    const auto t0 = Clock::now();
    if (t.n_prompt > 0) run_prompt(t.n_prompt);
    if (t.n_gen > 0) run_gen(t.n_gen);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    r.samples_ns.push_back(static_cast<uint64_t>(std::max<int64_t>(ns, 1)));
    if (rep_done) rep_done(rep + 1);
  }
  std::vector<double> ns_d;
  for (uint64_t ns : r.samples_ns) {
    ns_d.push_back(static_cast<double>(ns));
    r.samples_ts.push_back(1e9 * (t.n_prompt + t.n_gen) / static_cast<double>(ns));
  }
  r.avg_ns = mean(ns_d);
  r.stddev_ns = sample_stddev(ns_d);
  r.avg_ts = mean(r.samples_ts);
  r.stddev_ts = sample_stddev(r.samples_ts);
  if (t.n_prompt > 0 && t.n_gen == 0) {
    r.gflops = prompt_flops(model, t.n_prompt, t.n_depth) * r.avg_ts / t.n_prompt / 1e9;
  }
  return r;
}

}  // namespace

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double sample_stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double sq = 0.0;
  for (double x : v) sq += (x - m) * (x - m);
  return std::sqrt(sq / static_cast<double>(v.size() - 1));
}

uint64_t decode_bytes_per_token(const GgufFile& file) {
  const bool tied = file.find_tensor("output.weight") == nullptr;
  uint64_t bytes = 0;
  for (const auto& t : file.tensors()) {
    if (t.name == "token_embd.weight" && !tied) {
      bytes += t.nbytes / static_cast<uint64_t>(std::max<int64_t>(1, t.n_rows()));
    } else {
      bytes += t.nbytes;
    }
  }
  return bytes;
}

BenchModelInfo bench_model_info(const GgufFile& file) {
  BenchModelInfo info;
  for (const auto& t : file.tensors()) {
    info.model_size += t.nbytes;
    info.model_n_params += static_cast<uint64_t>(t.n_elements());
  }
  const auto& md = file.metadata();
  const std::string arch = md.get_string("general.architecture").value_or("unknown");
  const auto ftype = md.get_int("general.file_type");
  info.model_type = fmt::format("{} {} {}", arch, params_label(info.model_n_params),
                                ftype ? llama_ftype_name(static_cast<uint32_t>(*ftype)) : guessed_ftype(file));
  info.decode_bytes = decode_bytes_per_token(file);
  return info;
}

std::vector<BenchResult> run_model_bench(const std::string& path, const std::vector<BenchTest>& tests,
                                         const BenchOptions& options, const BenchProgress& progress) {
  if (options.reps < 1) fail("bench: repetitions {} must be at least 1", options.reps);
  for (const auto& t : tests) {
    if (t.n_threads < 1) fail("bench: thread count {} must be at least 1", t.n_threads);
    if (t.n_depth < 0) fail("bench: depth {} must not be negative", t.n_depth);
    if (t.n_prompt < 0 || t.n_gen < 0 || t.n_prompt + t.n_gen == 0) {
      fail("bench: a test needs a positive prompt or generation length (got -p {} -n {})", t.n_prompt, t.n_gen);
    }
  }
  std::vector<BenchResult> results(tests.size());
  std::mt19937_64 rng(options.seed);
  // One backend (thread pool) and model per thread count, in the order tests name them.
  std::vector<int> thread_counts;
  for (const auto& t : tests) {
    if (std::find(thread_counts.begin(), thread_counts.end(), t.n_threads) == thread_counts.end()) {
      thread_counts.push_back(t.n_threads);
    }
  }
  for (int n_threads : thread_counts) {
    auto backend = make_cpu_backend(n_threads);
    auto model = Model::load(path, *backend);
    for (size_t i = 0; i < tests.size(); ++i) {
      if (tests[i].n_threads != n_threads) continue;
      results[i] = run_one(*model, tests[i], options, rng, [&](int rep) {
        if (progress) progress(i, rep, options.reps);
      });
    }
  }
  return results;
}

}  // namespace frugal
