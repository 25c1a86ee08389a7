#include "tools/quantize_auto.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <thread>

#include "backend/backend.h"
#include "base/error.h"
#include "base/thread_pool.h"
#include "format/gguf.h"
#include "model/model.h"
#include "quant/quant.h"
#include "tools/imatrix.h"
#include "tools/perplexity.h"

namespace frugal {

namespace {

using Importance = std::map<std::string, std::vector<float>>;

// A quantized copy of one tensor, loaded into the backend. The bytes outlive the weight,
// which may point into them.
struct Trial {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Weight> weight;
};

class AutoQuantizer {
 public:
  AutoQuantizer(const AutoQuantizeOptions& o, AutoQuantizeReport& r) : o_(o), r_(r) {}

  void run();

 private:
  void check_cancel() const {
    if (o_.cancel != nullptr && o_.cancel->load()) fail("{}: interrupted; no output written", o_.output);
  }
  void progress(const std::string& stage, size_t done, size_t total) const {
    if (o_.progress) o_.progress(stage, done, total);
  }
  Trial quantize(const GgufTensor& src, TensorType type);
  KldStats measure();
  void measure_sensitivity();
  std::vector<size_t> choose(double target, double& predicted) const;
  KldStats measure_mix(const std::vector<size_t>& mix);

  const AutoQuantizeOptions& o_;
  AutoQuantizeReport& r_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<ThreadPool> pool_;
  MemoryLogits base_;
  PerplexityOptions po_;
  Importance importance_;
  std::vector<const GgufTensor*> sources_;          // per AutoTensor
  std::vector<std::vector<AutoStep>> ladders_;       // per tensor: bytes falling, KLD rising
};

Trial AutoQuantizer::quantize(const GgufTensor& src, TensorType type) {
  Trial t;
  const int64_t n0 = src.ne[0], rows = src.n_rows();
  const size_t in_row = row_bytes(src.type, n0), out_row = row_bytes(type, n0);
  t.bytes.resize(out_row * static_cast<size_t>(rows));
  const auto it = importance_.find(src.name);
  const float* imp = it != importance_.end() && static_cast<int64_t>(it->second.size()) == n0 ? it->second.data()
                                                                                            : nullptr;
  pool_->parallel_for(static_cast<size_t>(rows), 1, [&](size_t b, size_t e) {
    std::vector<float> row(static_cast<size_t>(n0));
    for (size_t r = b; r < e; ++r) {
      dequantize_row(src.type, src.data + r * in_row, row.data(), n0);
      quantize_row(type, row.data(), t.bytes.data() + r * out_row, n0, imp);
    }
  });
  GgufTensor view = src;
  view.type = type;
  view.nbytes = t.bytes.size();
  view.data = t.bytes.data();
  t.weight = backend_->load_weight(view);
  return t;
}

KldStats AutoQuantizer::measure() {
  check_cancel();
  ++r_.evaluations;
  const PerplexityResult p = compute_perplexity(*model_, {}, po_, nullptr, &base_);
  return *p.kld;
}

void AutoQuantizer::measure_sensitivity() {
  std::vector<TensorType> candidates = o_.candidates.empty() ? default_auto_candidates() : o_.candidates;
  std::vector<std::vector<TensorType>> per_tensor;
  size_t total = 0;
  for (const AutoTensor& t : r_.tensors) {
    const GgufTensor& src = *model_->file().find_tensor(t.name);
    std::vector<TensorType> types;
    for (TensorType c : candidates) {
      const auto& tr = traits(c);
      if (c == src.type || !tr.compute || !can_quantize(c) || src.ne[0] % tr.block_size != 0) continue;
      if (row_bytes(c, src.ne[0]) >= row_bytes(src.type, src.ne[0])) continue;  // no smaller
      types.push_back(c);
    }
    total += types.size();
    per_tensor.push_back(std::move(types));
  }
  size_t done = 0;
  for (size_t i = 0; i < r_.tensors.size(); ++i) {
    AutoTensor& t = r_.tensors[i];
    const GgufTensor& src = *sources_[i];
    for (TensorType c : per_tensor[i]) {
      Trial trial = quantize(src, c);
      const uint64_t bytes = trial.bytes.size();
      std::unique_ptr<Weight> original = model_->replace_weight(std::move(trial.weight));
      const KldStats k = measure();
      trial.weight = model_->replace_weight(std::move(original));
      t.measured.push_back({c, bytes, k.mean});
      progress("sensitivity", ++done, total);
    }
    // The ladder: the input type first, then every measured type that no other type
    // beats on both size and KLD, by bytes falling.
    std::vector<AutoStep> steps = t.measured;
    std::sort(steps.begin(), steps.end(), [](const AutoStep& a, const AutoStep& b) {
      return a.bytes != b.bytes ? a.bytes > b.bytes : a.kld < b.kld;
    });
    std::vector<AutoStep> ladder{{src.type, src.nbytes, 0.0}};
    for (const AutoStep& s : steps) {
      bool dominated = false;
      for (const AutoStep& other : steps) {
        if (&other != &s && other.bytes <= s.bytes && other.kld <= s.kld && (other.bytes < s.bytes || other.kld < s.kld)) {
          dominated = true;
          break;
        }
      }
      if (!dominated && s.bytes < ladder.back().bytes) ladder.push_back(s);
    }
    ladders_.push_back(std::move(ladder));
  }
}

// Greedy: take the step with the least KLD per byte saved while the sum stays <= target.
std::vector<size_t> AutoQuantizer::choose(double target, double& predicted) const {
  std::vector<size_t> at(ladders_.size(), 0);
  double sum = 0;
  for (;;) {
    size_t best_t = 0, best_j = 0;
    double best_ratio = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < ladders_.size(); ++i) {
      const AutoStep& cur = ladders_[i][at[i]];
      for (size_t j = at[i] + 1; j < ladders_[i].size(); ++j) {
        const AutoStep& s = ladders_[i][j];
        const double dk = s.kld - cur.kld;
        if (sum + dk > target) continue;
        const double ratio = std::max(dk, 0.0) / static_cast<double>(cur.bytes - s.bytes);
        if (ratio < best_ratio) {
          best_ratio = ratio;
          best_t = i;
          best_j = j;
        }
      }
    }
    if (!std::isfinite(best_ratio)) break;
    sum += ladders_[best_t][best_j].kld - ladders_[best_t][at[best_t]].kld;
    at[best_t] = best_j;
  }
  predicted = sum;
  return at;
}

KldStats AutoQuantizer::measure_mix(const std::vector<size_t>& mix) {
  std::vector<Trial> trials;
  std::vector<std::unique_ptr<Weight>> originals;
  for (size_t i = 0; i < mix.size(); ++i) {
    if (mix[i] == 0) continue;
    trials.push_back(quantize(*sources_[i], ladders_[i][mix[i]].type));
    originals.push_back(model_->replace_weight(std::move(trials.back().weight)));
  }
  KldStats k;
  try {
    k = measure();
  } catch (...) {
    for (auto& w : originals) model_->replace_weight(std::move(w));
    throw;
  }
  for (auto& w : originals) model_->replace_weight(std::move(w));
  return k;
}

void AutoQuantizer::run() {
  if (!(o_.max_kld > 0) || !std::isfinite(o_.max_kld)) {
    fail("--max-kld {} must be a positive number (mean KL divergence in nats, e.g. 0.01)", o_.max_kld);
  }
  if (o_.calibration.empty()) fail("quantize auto: give calibration text with -f/--calibration");
  if (o_.max_rounds < 1) fail("quantize auto: max_rounds {} must be at least 1", o_.max_rounds);
  const int threads = o_.threads > 0 ? o_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  backend_ = make_cpu_backend(threads);
  pool_ = std::make_unique<ThreadPool>(threads);
  model_ = Model::load(o_.input, *backend_);

  std::ifstream in(o_.calibration, std::ios::binary);
  if (!in) fail("{}: cannot read the calibration text", o_.calibration);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<TokenId> tokens = perplexity_tokens(*model_, text);
  const int train = model_->config().n_ctx_train;
  po_.n_ctx = o_.n_ctx > 0 ? o_.n_ctx : std::min(512, train > 0 ? train : 512);
  po_.n_chunks = o_.n_chunks;
  po_.kv_type = TensorType::F32;
  r_.n_ctx = po_.n_ctx;
  const PerplexityResult base = compute_perplexity(*model_, tokens, po_, &base_);
  r_.base_ppl = base.ppl;
  r_.calibration_tokens = base.n_scored;
  po_.n_chunks = -1;  // the base holds exactly the chunks to use

  if (o_.use_importance) {
    if (!o_.imatrix.empty()) {
      importance_ = read_imatrix(o_.imatrix).means();
    } else {
      ImatrixOptions io;
      io.n_ctx = po_.n_ctx;
      io.n_chunks = static_cast<int>(base.n_chunks);
      importance_ = collect_imatrix(*model_, tokens, io).means();
    }
    r_.used_importance = true;
  }

  for (const GgufTensor& t : model_->file().tensors()) {
    if (t.n_dims < 2) continue;  // norms and other vectors stay as they are
    if (!can_dequantize(t.type) || (t.type != TensorType::F32 && t.type != TensorType::F16 &&
                                    t.type != TensorType::BF16)) {
      fail("{}: tensor '{}' is {}; auto needs F32, F16 or BF16 weights to choose from", o_.input, t.name,
           type_name(t.type));
    }
    AutoTensor a;
    a.name = t.name;
    a.ne.assign(t.ne.begin(), t.ne.begin() + t.n_dims);
    a.n_elements = t.n_elements();
    a.source_type = t.type;
    r_.tensors.push_back(std::move(a));
    sources_.push_back(&t);
  }
  if (r_.tensors.empty()) fail("{}: no weight matrices to quantize", o_.input);
  measure_sensitivity();

  // Search the greedy target so the measured KLD meets the budget with the fewest bytes.
  std::vector<size_t> best(ladders_.size(), 0);
  uint64_t best_bytes = std::numeric_limits<uint64_t>::max();
  KldStats best_k;
  double best_predicted = 0;
  double lo = 0, hi = std::numeric_limits<double>::infinity(), target = o_.max_kld;
  std::map<std::vector<size_t>, KldStats> seen;
  for (int round = 0; round < o_.max_rounds; ++round) {
    double predicted = 0;
    const std::vector<size_t> mix = choose(target, predicted);
    uint64_t bytes = 0;
    for (size_t i = 0; i < mix.size(); ++i) bytes += ladders_[i][mix[i]].bytes;
    auto it = seen.find(mix);
    if (it == seen.end()) it = seen.emplace(mix, measure_mix(mix)).first;
    const KldStats& k = it->second;
    r_.rounds.push_back({target, predicted, k.mean, bytes});
    progress("verify", static_cast<size_t>(round) + 1, static_cast<size_t>(o_.max_rounds));
    if (k.mean <= o_.max_kld) {
      if (bytes < best_bytes) {
        best = mix;
        best_bytes = bytes;
        best_k = k;
        best_predicted = predicted;
      }
      lo = target;
      target = std::isinf(hi) ? target * std::clamp(o_.max_kld / std::max(k.mean, 1e-12), 1.25, 4.0)
                              : std::sqrt(lo * hi);
    } else {
      hi = target;
      target = lo > 0 ? std::sqrt(lo * hi) : target * std::min(0.9, o_.max_kld / k.mean);
    }
  }
  if (best_bytes == std::numeric_limits<uint64_t>::max()) {
    // Nothing met the budget: the input's own types (KLD 0).
    best.assign(ladders_.size(), 0);
    best_bytes = 0;
    for (const auto& l : ladders_) best_bytes += l[0].bytes;
    best_k = KldStats{};
  }
  std::map<std::string, TensorType> exact;
  for (size_t i = 0; i < r_.tensors.size(); ++i) {
    AutoTensor& t = r_.tensors[i];
    const AutoStep& s = ladders_[i][best[i]];
    t.type = s.type;
    t.bytes = s.bytes;
    t.kld = s.kld;
    exact[t.name] = s.type;
  }
  r_.max_kld = o_.max_kld;
  r_.kld = best_k.mean;
  r_.kld_p99 = best_k.p99;
  r_.same_top = best_k.same_top;
  r_.predicted_kld = best_predicted;
  r_.ppl = best_k.n > 0 ? best_k.ppl_base * std::exp(best_k.ln_ppl_ratio) : r_.base_ppl;
  r_.matrix_bytes = best_bytes;

  if (o_.dry_run) return;
  QuantizeOptions q;
  q.input = o_.input;
  q.output = o_.output;
  q.type = "auto";
  q.exact_types = std::move(exact);
  q.importance = importance_;
  q.threads = threads;
  q.overwrite = o_.overwrite;
  q.cancel = o_.cancel;
  q.progress = [this](size_t done, size_t total) { progress("writing", done, total); };
  // The pool and the model are no longer needed; free their memory before writing.
  model_.reset();
  r_.written = quantize_model(q);
}

}  // namespace

std::vector<TensorType> default_auto_candidates() {
  using T = TensorType;
  return {T::Q2_K, T::Q3_K, T::Q4_0, T::Q4_1, T::Q4_K, T::Q5_0, T::Q5_1, T::Q5_K, T::Q6_K, T::Q8_0, T::F16};
}

AutoQuantizeReport auto_quantize(const AutoQuantizeOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  AutoQuantizeReport report;
  AutoQuantizer(options, report).run();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

std::string format_auto_report(const AutoQuantizeReport& r) {
  std::string s;
  int64_t n = 0;
  for (const auto& t : r.tensors) n += t.n_elements;
  s += fmt::format("# frugal quantize auto: mean KLD budget {:.6g}, measured {:.6g} (p99 {:.6g}, same top {:.2f}%)\n",
                   r.max_kld, r.kld, r.kld_p99, 100 * r.same_top);
  s += fmt::format("# calibration: {} scored tokens in chunks of {}; PPL {:.4f} -> {:.4f}; importance: {}\n",
                   r.calibration_tokens, r.n_ctx, r.base_ppl, r.ppl, r.used_importance ? "yes" : "no");
  s += fmt::format("# matrices: {:.2f} MiB, {:.3f} bits per weight; {} KLD measurements, {:.1f} s\n",
                   static_cast<double>(r.matrix_bytes) / (1024.0 * 1024.0),
                   n ? 8.0 * static_cast<double>(r.matrix_bytes) / static_cast<double>(n) : 0.0, r.evaluations,
                   r.seconds);
  s += fmt::format("{:<32} {:<16} {:<6} {:>7} {:>12}   measured alone (type:KLD)\n", "tensor", "shape", "type", "bpw",
                   "KLD alone");
  for (const auto& t : r.tensors) {
    std::string shape, alone;
    for (int64_t d : t.ne) shape += fmt::format("{}{}", shape.empty() ? "" : "x", d);
    for (const auto& m : t.measured) alone += fmt::format(" {}:{:.3g}", type_name(m.type), m.kld);
    s += fmt::format("{:<32} {:<16} {:<6} {:>7.3f} {:>12.4g}  {}\n", t.name, shape, type_name(t.type),
                     t.bits_per_weight(), t.kld, alone);
  }
  s += "# rounds: target (sum of KLDs allowed) -> predicted sum, measured KLD, matrix bytes\n";
  for (const auto& x : r.rounds) {
    s += fmt::format("#   {:.6g} -> {:.6g}, {:.6g}, {}{}\n", x.target, x.predicted, x.measured, x.bytes,
                     x.measured <= r.max_kld ? "" : "  (over budget)");
  }
  return s;
}

}  // namespace frugal
