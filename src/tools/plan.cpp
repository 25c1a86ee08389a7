#include "tools/plan.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace frugal {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// The first of `keys` the calibration has, else its default.
double lookup(const std::map<std::string, double>& m, std::initializer_list<std::string> keys, std::string& used) {
  for (const std::string& key : keys) {
    if (const auto it = m.find(key); it != m.end()) {
      used = key;
      return it->second;
    }
  }
  used = "default";
  return m.at("default");
}

// Tensor parallelism: every layer ends its attention and its feed-forward block with an
// all-reduce of the activations (fp16, n_embd per token). A ring moves 2 (k - 1) / k of
// the data through each chip's link.
double allreduce_seconds(const ModelProfile& m, const ChipRates& r, int chips, double tokens) {
  if (chips <= 1) return 0.0;
  const double bytes = tokens * m.n_embd * 2.0;
  const double per = 2.0 * (chips - 1) / chips * bytes / r.link_bytes_per_s + r.allreduce_latency_s;
  return 2.0 * m.n_layer * per;
}

StepTime combine(double memory_s, double compute_s, double comm_s) {
  StepTime t;
  t.memory_s = memory_s;
  t.compute_s = compute_s;
  t.comm_s = comm_s;
  t.compute_bound = compute_s > memory_s;
  t.seconds = std::max(memory_s, compute_s) + comm_s;
  return t;
}

}  // namespace

ChipRates chip_rates(const Hardware& hw, const HardwareClass& cls, const ModelProfile& model,
                     const Calibration* calibration, const std::string& dtype_override) {
  ChipRates r;
  r.dtype = cls.compute_dtype;
  if (!dtype_override.empty()) {
    if (hw.peak_tflops.count(dtype_override) != 0) {
      r.dtype = dtype_override;
    } else {
      r.note = fmt::format("no {} peak in the catalog; computes in {}", dtype_override, r.dtype);
    }
  }
  if (hw.peak_tflops.count(r.dtype) == 0) {
    fail("hardware '{}' has no {} peak (class '{}' computes in {})", hw.name, r.dtype, cls.name, cls.compute_dtype);
  }
  // A measured entry's numbers already are what the probe reads; datasheet numbers are
  // converted into probe terms first (cpu class), then the engine's efficiency applies.
  const double bw_probe = hw.memory_bandwidth_gbps * 1e9 * (hw.measured ? 1.0 : cls.probe_bandwidth_fraction);
  const double flops_probe = hw.peak_tflops.at(r.dtype) * 1e12 * (hw.measured ? 1.0 : cls.probe_compute_fraction);
  r.memory_efficiency = cls.memory_efficiency;
  r.compute_efficiency = cls.compute_efficiency;
  r.efficiency_source = fmt::format("class {} (catalog)", cls.name);
  if (calibration != nullptr && cls.name == "cpu") {
    std::string mem_key, comp_key;
    r.memory_efficiency = lookup(calibration->memory_efficiency, {model.matmul_type, model.file_type}, mem_key);
    r.compute_efficiency = lookup(calibration->compute_efficiency, {model.matmul_type, model.file_type}, comp_key);
    r.efficiency_source = fmt::format("calibration {} ({})", calibration->path, mem_key);
  }
  r.bandwidth = bw_probe * r.memory_efficiency;
  r.flops = flops_probe * r.compute_efficiency;
  r.usable_bytes = hw.memory_gib * kGiB * cls.usable_memory_fraction;
  r.link_bytes_per_s = std::max(1.0, hw.interconnect_gbps * 1e9 / 2.0);  // catalog figures are bidirectional
  r.allreduce_latency_s = cls.allreduce_latency_us * 1e-6;
  return r;
}

StepTime decode_step(const ModelProfile& m, const ChipRates& r, int chips, int batch, double ctx, TensorType kv_type) {
  // Weights are read once per step whatever the batch; each stream reads its own cache.
  const double bytes = static_cast<double>(m.decode_bytes) + batch * ctx * static_cast<double>(m.kv_bytes_per_token(kv_type));
  const double flops = batch * m.decode_flops(ctx);
  return combine(bytes / (chips * r.bandwidth), flops / (chips * r.flops), allreduce_seconds(m, r, chips, batch));
}

StepTime prefill_time(const ModelProfile& m, const ChipRates& r, int chips, int n) {
  const double bytes = static_cast<double>(m.decode_bytes);
  return combine(bytes / (chips * r.bandwidth), m.prefill_flops(n) / (chips * r.flops), allreduce_seconds(m, r, chips, n));
}

double memory_needed(const ModelProfile& m, int ctx, int users, TensorType kv_type) {
  return static_cast<double>(m.weight_bytes) +
         static_cast<double>(users) * ctx * static_cast<double>(m.kv_bytes_per_token(kv_type));
}

int max_concurrency(const ModelProfile& m, const ChipRates& r, int chips, int ctx, TensorType kv_type) {
  const double room = chips * r.usable_bytes - static_cast<double>(m.weight_bytes);
  if (room <= 0) return 0;
  const double per_user = static_cast<double>(ctx) * static_cast<double>(m.kv_bytes_per_token(kv_type));
  return static_cast<int>(std::min(1e9, std::floor(room / per_user)));
}

int min_chips(const ModelProfile& m, const ChipRates& r, int ctx, int users, TensorType kv_type, int limit) {
  const double need = memory_needed(m, ctx, users, kv_type);
  const double k = std::ceil(need / r.usable_bytes);
  return k <= limit ? std::max(1, static_cast<int>(k)) : 0;
}

HardwarePlan plan_for(const ModelProfile& m, const Hardware& hw, const HardwareClass& cls, const Calibration* calibration,
                      const PlanOptions& o) {
  if (o.ctx < 1) fail("--ctx {} must be at least 1", o.ctx);
  if (o.concurrency < 1) fail("--concurrency {} must be at least 1", o.concurrency);
  if (o.prompt < 1) fail("--prompt {} must be at least 1", o.prompt);
  if (o.decode_ctx < 0 || o.decode_ctx > o.ctx) fail("--decode-ctx {} must be in 0..--ctx ({})", o.decode_ctx, o.ctx);
  HardwarePlan p;
  p.hw = hw;
  p.hw_class = cls.name;
  p.rates = chip_rates(hw, cls, m, calibration, o.dtype);
  const ChipRates& r = p.rates;
  if (!r.note.empty()) p.notes.push_back(r.note);
  const TensorType kv = o.kv_type;
  const double dctx = o.decode_ctx > 0 ? o.decode_ctx : o.ctx;
  p.need_bytes = memory_needed(m, o.ctx, o.concurrency, kv);
  p.usable_bytes = r.usable_bytes;
  p.fits_one_chip = p.need_bytes <= r.usable_bytes;
  p.max_concurrency_one_chip = max_concurrency(m, r, 1, o.ctx, kv);

  // The smallest instance that holds the weights and one user, grown until a lone
  // request's time to first token meets the target.
  int k = min_chips(m, r, o.ctx, 1, kv, o.max_chips_per_instance);
  if (k == 0) {
    p.notes.push_back(fmt::format("the weights and one {}-token context do not fit in {} chips", o.ctx,
                                  o.max_chips_per_instance));
    return p;
  }
  if (o.ttft_ms > 0) {
    while (k < o.max_chips_per_instance && prefill_time(m, r, k, o.prompt).seconds * 1e3 > o.ttft_ms) ++k;
    if (prefill_time(m, r, k, o.prompt).seconds * 1e3 > o.ttft_ms) {
      p.notes.push_back(fmt::format("time to first token {:.0f} ms exceeds the {:.0f} ms target even with {} chips",
                                    prefill_time(m, r, k, o.prompt).seconds * 1e3, o.ttft_ms, k));
    }
  }
  p.instance_chips = k;
  p.instance_max_users = max_concurrency(m, r, k, o.ctx, kv);
  const StepTime pf = prefill_time(m, r, k, o.prompt);
  p.ttft_ms = pf.seconds * 1e3;
  p.prefill_tps = o.prompt / pf.seconds;
  p.decode_tps_single = 1.0 / decode_step(m, r, k, 1, dctx, kv).seconds;
  for (int b = 1;; b = std::min(b * 2, p.instance_max_users)) {
    const StepTime s = decode_step(m, r, k, b, dctx, kv);
    p.curve.push_back({b, 1.0 / s.seconds, b / s.seconds, s.compute_bound});
    if (b >= p.instance_max_users) break;
  }

  // Users spread evenly over instances; more instances when the users do not fit or the
  // aggregate falls short of the target.
  const int users = o.concurrency;
  auto aggregate = [&](int instances, int per_instance) {
    return instances * per_instance / decode_step(m, r, k, per_instance, dctx, kv).seconds;
  };
  int n = (users + p.instance_max_users - 1) / p.instance_max_users;
  if (o.target_tokens_per_s > 0 && users == 1) {
    // No user count given: as many streams per instance as fit.
    const double per = aggregate(1, p.instance_max_users);
    n = std::max(1, static_cast<int>(std::ceil(o.target_tokens_per_s / per)));
    p.users_per_instance = p.instance_max_users;
  } else {
    auto per_instance = [&](int inst) { return (users + inst - 1) / inst; };
    if (o.target_tokens_per_s > 0) {
      while (n < users && users / decode_step(m, r, k, per_instance(n), dctx, kv).seconds < o.target_tokens_per_s) ++n;
      if (users / decode_step(m, r, k, per_instance(n), dctx, kv).seconds < o.target_tokens_per_s) {
        p.notes.push_back(fmt::format(
            "{:.0f} tokens/s is out of reach for {} users: one stream alone decodes {:.1f} tokens/s at {} tokens of "
            "context",
            o.target_tokens_per_s, users, p.decode_tps_single, static_cast<int>(dctx)));
      }
    }
    p.users_per_instance = per_instance(n);
  }
  p.instances = n;
  p.chips = n * k;
  p.servers = (p.chips + hw.per_server - 1) / hw.per_server;
  const StepTime load = decode_step(m, r, k, p.users_per_instance, dctx, kv);
  p.stream_tps_at_load = 1.0 / load.seconds;
  p.aggregate_tps_at_load =
      (o.target_tokens_per_s > 0 && users == 1 ? n * p.users_per_instance : users) / load.seconds;
  p.power_kw = p.chips * hw.power_w / 1000.0;
  return p;
}

}  // namespace frugal
