// Model benchmarks in the manner of llama.cpp's llama-bench, so the two can be compared
// on the same file: "pp" evaluates a prompt of P random token ids in one batch, "tg"
// decodes N tokens one at a time, both after D context tokens (--n-depth, untimed; 0 by
// default: from an empty context); each test is repeated after a warm-up and reported as
// tokens/s samples, mean and standard deviation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/tensor_type.h"

namespace frugal {

class GgufFile;

struct BenchTest {
  int n_prompt = 0;  // > 0: a pp test
  int n_gen = 0;     // > 0: a tg test
  int n_threads = 1;
  int n_depth = 0;   // context tokens evaluated (untimed) before the test
};

struct BenchOptions {
  int reps = 5;
  bool warmup = true;
  TensorType kv_type = TensorType::F16;
  uint64_t seed = 42;  // of the random token ids
};

struct BenchResult {
  BenchTest test;
  std::string isa;                 // Backend::name()
  int n_batch = 0;
  std::vector<uint64_t> samples_ns;
  std::vector<double> samples_ts;  // tokens/s of each repetition
  double avg_ns = 0, stddev_ns = 0, avg_ts = 0, stddev_ts = 0;
  double gflops = 0;               // pp: arithmetic rate of the matmuls + attention (at avg_ts)
  std::string test_time;           // ISO 8601, UTC, when the test started
};

// What llama-bench reports about a model file: "llama 1.2B Q4_K - Medium", the bytes and
// the element count of all its tensors.
struct BenchModelInfo {
  std::string model_type;
  uint64_t model_size = 0;
  uint64_t model_n_params = 0;
  uint64_t decode_bytes = 0;  // weight bytes one decode step reads (see decode_bytes_per_token)
};
BenchModelInfo bench_model_info(const GgufFile& file);

// Bytes of weights one decode step reads: every tensor once, except the token embeddings
// of which only one row is read (unless they are tied to the output, then all of them).
uint64_t decode_bytes_per_token(const GgufFile& file);

// Called after each repetition: (test index, repetition done, repetitions).
using BenchProgress = std::function<void(size_t test, int rep, int reps)>;

// Runs the tests in order on `path`, loading the model once per thread count.
std::vector<BenchResult> run_model_bench(const std::string& path, const std::vector<BenchTest>& tests,
                                         const BenchOptions& options, const BenchProgress& progress = nullptr);

double mean(const std::vector<double>& v);
double sample_stddev(const std::vector<double>& v);  // n - 1 in the denominator, 0 for n < 2

}  // namespace frugal
