// frugal quantize IN OUT auto --max-kld X: the smallest file whose KL divergence to IN on
// calibration text stays under X.
//
// 1. The base model's log-probabilities on the calibration text are kept in memory.
// 2. Sensitivity: every weight matrix is quantized alone to every candidate type its rows
//    allow (in memory, swapped into the loaded model) and the KL divergence of the whole
//    model to the base is measured. Types that are no smaller and no better than another
//    are dropped, leaving each tensor a ladder of (bytes, KLD) steps.
// 3. Choice: starting from the input's types, the step with the least KLD added per byte
//    saved is taken, over and over, while the sum of the tensors' KLDs stays under a
//    target (KL divergences of small independent perturbations add, to first order).
// 4. Verification: the chosen mix is measured for real. The target is searched (a few
//    rounds, starting at X) so the measured KLD stays under X with the fewest bytes; the
//    best mix that met the budget is written with quantize_model.
// Importance: an --imatrix file, else one collected on the same calibration text.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/tensor_type.h"
#include "tools/quantize.h"

namespace frugal {

struct AutoQuantizeOptions {
  std::string input;        // GGUF (F32/F16/BF16 weights)
  std::string output;       // GGUF to write
  double max_kld = 0.0;     // mean KL divergence budget (nats per token) on the calibration text
  std::string calibration;  // text file
  std::string imatrix;      // importance file; empty: collected on the calibration text
  bool use_importance = true;
  std::vector<TensorType> candidates;  // empty: default_auto_candidates()
  int n_ctx = 0;            // tokens per chunk; 0: min(512, the model's training context)
  int n_chunks = 16;        // calibration chunks (< 0: all of the text)
  int max_rounds = 8;       // verifications of a full mix
  int threads = 0;
  bool overwrite = false;
  bool dry_run = false;     // choose and measure, write nothing
  // (stage, done, total): "sensitivity", "verify", "writing".
  std::function<void(const std::string& stage, size_t done, size_t total)> progress;
  const std::atomic<bool>* cancel = nullptr;
};

// Q2_K Q3_K Q4_0 Q4_1 Q4_K Q5_0 Q5_1 Q5_K Q6_K Q8_0 F16.
std::vector<TensorType> default_auto_candidates();

struct AutoStep {
  TensorType type;
  uint64_t bytes = 0;
  double kld = 0;  // measured with only this tensor quantized
};

struct AutoTensor {
  std::string name;
  std::vector<int64_t> ne;
  int64_t n_elements = 0;
  TensorType source_type = TensorType::F32;
  std::vector<AutoStep> measured;  // every candidate its rows allow, as measured
  TensorType type = TensorType::F32;  // chosen
  uint64_t bytes = 0;
  double kld = 0;  // sensitivity at the chosen type
  double bits_per_weight() const { return n_elements ? 8.0 * static_cast<double>(bytes) / n_elements : 0.0; }
};

struct AutoRound {
  double target = 0;        // sum-of-sensitivities budget the greedy choice used
  double predicted = 0;     // that sum for the mix chosen
  double measured = 0;      // real KLD of the mix
  uint64_t bytes = 0;       // matrix bytes of the mix
};

struct AutoQuantizeReport {
  std::vector<AutoTensor> tensors;  // weight matrices, in file order
  std::vector<AutoRound> rounds;
  double max_kld = 0;
  double kld = 0;            // measured KLD of the written mix (calibration text)
  double kld_p99 = 0;
  double same_top = 0;
  double predicted_kld = 0;
  double base_ppl = 0, ppl = 0;
  uint64_t matrix_bytes = 0;  // of the chosen mix
  size_t calibration_tokens = 0;  // scored
  int n_ctx = 0;
  size_t evaluations = 0;    // KLD measurements run
  bool used_importance = false;
  QuantizeReport written;    // from quantize_model (empty for a dry run)
  double seconds = 0;
};

AutoQuantizeReport auto_quantize(const AutoQuantizeOptions& options);

// The per-tensor report as text: name, shape, chosen type, bits per weight, sensitivity,
// and the rounds of verification.
std::string format_auto_report(const AutoQuantizeReport& report);

}  // namespace frugal
