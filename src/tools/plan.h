// `frugal plan`: will a model fit on a chip, how fast will it answer, how many users can
// it serve, and how many chips does a load need? A roofline per chip: each decode step
// reads the weights once plus every stream's KV cache, and does 2 flops per weight per
// stream plus attention; its time is the slower of memory and arithmetic at the rates the
// catalog's efficiency factors (or a local calibration) allow, plus the all-reduces of
// tensor parallelism when a model instance spans several chips.
#pragma once

#include <string>
#include <vector>

#include "base/tensor_type.h"
#include "tools/plan_catalog.h"
#include "tools/plan_model.h"

namespace frugal {

struct PlanOptions {
  int ctx = 4096;           // tokens of KV each user holds (reserved)
  int decode_ctx = 0;       // context the decode estimates run at (0: ctx, every user at full context)
  int concurrency = 1;      // users served at once
  int prompt = 512;         // prompt length for prefill speed and time to first token
  double target_tokens_per_s = 0;  // aggregate decode tokens/s the load needs (0: none)
  double ttft_ms = 0;       // time-to-first-token target for a lone request (0: none)
  TensorType kv_type = TensorType::F16;
  std::string dtype;        // overrides the hardware classes' compute dtype ("": the class's)
  int max_chips_per_instance = 64;  // tensor parallelism beyond this is not considered
};

// The effective rates of one chip for one model.
struct ChipRates {
  double bandwidth = 0;       // bytes/s decode can stream
  double flops = 0;           // flop/s matrix products reach
  double usable_bytes = 0;    // memory the weights and KV cache may use
  double link_bytes_per_s = 0;  // one direction of the chip's interconnect
  double allreduce_latency_s = 0;
  std::string dtype;          // the peak `flops` derives from
  double memory_efficiency = 0, compute_efficiency = 0;
  std::string efficiency_source;  // "class gpu (catalog)", "calibration FILE (Q4_K_M)", ...
  std::string note;               // set when the --dtype asked for has no peak on this chip
};

// calibration may be null (then the class's factors apply).
ChipRates chip_rates(const Hardware& hw, const HardwareClass& cls, const ModelProfile& model, const Calibration* calibration,
                     const std::string& dtype_override);

struct StepTime {
  double seconds = 0;
  double memory_s = 0, compute_s = 0, comm_s = 0;
  bool compute_bound = false;
};

// One decode step of `batch` streams, each at context `ctx`, on `chips` chips (tensor parallel).
StepTime decode_step(const ModelProfile& m, const ChipRates& r, int chips, int batch, double ctx, TensorType kv_type);
// A whole prompt of n tokens from an empty cache (one request; time to first token).
StepTime prefill_time(const ModelProfile& m, const ChipRates& r, int chips, int n);

// Bytes a model instance needs: all weights plus `users` x ctx tokens of KV.
double memory_needed(const ModelProfile& m, int ctx, int users, TensorType kv_type);
// Users whose ctx-token KV fits next to the weights on `chips` chips (0: the weights alone
// do not fit, or not even one user does).
int max_concurrency(const ModelProfile& m, const ChipRates& r, int chips, int ctx, TensorType kv_type);
// Fewest chips an instance needs for the weights and `users` users (0: more than `limit`).
int min_chips(const ModelProfile& m, const ChipRates& r, int ctx, int users, TensorType kv_type, int limit);

struct BatchPoint {
  int batch = 0;
  double stream_tps = 0;     // tokens/s each stream sees
  double aggregate_tps = 0;  // tokens/s of the whole instance
  bool compute_bound = false;
};

struct HardwarePlan {
  Hardware hw;
  std::string hw_class;
  ChipRates rates;
  // On one chip, for `concurrency` users at ctx.
  double need_bytes = 0;
  double usable_bytes = 0;  // of one chip
  bool fits_one_chip = false;
  int max_concurrency_one_chip = 0;
  // One model instance (tensor-parallel group).
  int instance_chips = 0;   // 0: does not fit within max_chips_per_instance
  int instance_max_users = 0;
  std::vector<BatchPoint> curve;  // decode vs batch size on one instance
  double decode_tps_single = 0;   // one stream alone
  double prefill_tps = 0;
  double ttft_ms = 0;
  // The load: concurrency users (and the throughput target) over instances.
  int instances = 0;
  int chips = 0;
  int servers = 0;
  int users_per_instance = 0;
  double stream_tps_at_load = 0;
  double aggregate_tps_at_load = 0;
  double power_kw = 0;
  std::vector<std::string> notes;  // unmet targets and assumptions that bit
};

HardwarePlan plan_for(const ModelProfile& m, const Hardware& hw, const HardwareClass& cls, const Calibration* calibration,
                      const PlanOptions& o);

}  // namespace frugal
