// bench_attention: the CPU backend's attention for decode (one query row per sequence)
// over a KV cache of --keys positions, timed alone. With --layers L the cache has L layers
// and the runs cycle through them, so with enough layers the keys and values come from
// memory, as in a model's decode step; one layer keeps them in cache.
//
//   bench_attention [--keys 2048] [--heads 32] [--kv-heads 8] [--head-dim 64] [--layers 16]
//                   [--seqs 1] [--cache-type f16|f32|q8_0] [--threads 1] [--seconds 2]
//
// Prints the time per call and the KV bytes it reads per second.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace {

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "bench_attention: %s\n"
               "usage: bench_attention [--keys N] [--heads N] [--kv-heads N] [--head-dim N] [--layers N] [--seqs N]\n"
               "                       [--cache-type f16|f32|q8_0] [--threads N] [--seconds S]\n",
               msg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace frugal;
  int keys = 2048, heads = 32, kv_heads = 8, hd = 64, layers = 16, seqs = 1, threads = 1;
  double seconds = 2;
  std::string cache = "f16";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--keys") keys = std::atoi(v);
    else if (a == "--heads") heads = std::atoi(v);
    else if (a == "--kv-heads") kv_heads = std::atoi(v);
    else if (a == "--head-dim") hd = std::atoi(v);
    else if (a == "--layers") layers = std::atoi(v);
    else if (a == "--seqs") seqs = std::atoi(v);
    else if (a == "--threads") threads = std::atoi(v);
    else if (a == "--seconds") seconds = std::atof(v);
    else if (a == "--cache-type") cache = v;
    else usage(("unknown option " + a).c_str());
  }
  if (keys < 1 || heads < 1 || kv_heads < 1 || heads % kv_heads != 0 || hd < 1 || layers < 1 || seqs < 1 ||
      threads < 1 || !(seconds > 0)) {
    usage("sizes must be positive and --heads a multiple of --kv-heads");
  }
  const TensorType type = cache == "f32" ? TensorType::F32 : cache == "q8_0" ? TensorType::Q8_0 : TensorType::F16;
  constexpr int kBlock = 16;
  const int blocks_per_seq = (keys + kBlock - 1) / kBlock;
  const int64_t cells = int64_t{blocks_per_seq} * kBlock * seqs;
  const int width = kv_heads * hd;

  auto backend = make_cpu_backend(threads);
  auto storage = backend->new_kv_storage(layers, cells, width, type, hd);
  // Sequence s owns blocks s, s + seqs, s + 2 seqs, ... (interleaved, as a server's are).
  std::vector<std::vector<int32_t>> tables(static_cast<size_t>(seqs));
  for (int s = 0; s < seqs; ++s) {
    for (int b = 0; b < blocks_per_seq; ++b) tables[static_cast<size_t>(s)].push_back(b * seqs + s);
  }
  std::vector<std::span<const int32_t>> spans(tables.begin(), tables.end());
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  {
    std::vector<int32_t> pos(static_cast<size_t>(keys)), cell(pos.size()), seq(pos.size());
    std::vector<float> k(static_cast<size_t>(keys) * width), v(k.size());
    for (int s = 0; s < seqs; ++s) {
      for (int32_t p = 0; p < keys; ++p) {
        pos[static_cast<size_t>(p)] = p;
        cell[static_cast<size_t>(p)] = tables[static_cast<size_t>(s)][static_cast<size_t>(p / kBlock)] * kBlock + p % kBlock;
        seq[static_cast<size_t>(p)] = s;
      }
      for (int l = 0; l < layers; ++l) {
        for (auto& x : k) x = dist(rng);
        for (auto& x : v) x = dist(rng);
        auto kt = upload_rows(*backend, k, keys, width);
        auto vt = upload_rows(*backend, v, keys, width);
        backend->store_kv(*storage, l, *kt, *vt, BatchLayout{pos, cell, seq, spans, kBlock});
      }
    }
  }
  // One query row per sequence at its last position.
  std::vector<int32_t> q_pos(static_cast<size_t>(seqs), keys - 1), q_cell(q_pos.size(), 0), q_seq(q_pos.size());
  for (int s = 0; s < seqs; ++s) q_seq[static_cast<size_t>(s)] = s;
  std::vector<float> q(static_cast<size_t>(seqs) * heads * hd);
  for (auto& x : q) x = dist(rng);
  auto qt = upload_rows(*backend, q, seqs, int64_t{heads} * hd);
  auto out = backend->new_tensor(seqs, int64_t{heads} * hd);
  const BatchLayout layout{q_pos, q_cell, q_seq, spans, kBlock};
  const AttentionConfig cfg{heads, kv_heads, hd, 1.0f / std::sqrt(static_cast<float>(hd))};

  using Clock = std::chrono::steady_clock;
  int64_t calls = 0;
  for (int l = 0; l < layers; ++l) backend->attention(*qt, *storage, l, layout, cfg, *out);  // warm-up
  const auto t0 = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int l = 0; l < layers; ++l, ++calls) backend->attention(*qt, *storage, l, layout, cfg, *out);
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  const double kv_bytes = 2.0 * static_cast<double>(row_bytes(type, width)) * keys * seqs;
  std::printf("%s attention keys %d heads %d/%d dim %d seqs %d layers %d %s threads %d: %.1f us per call, %.1f GB/s of KV\n",
              backend->name().c_str(), keys, heads, kv_heads, hd, seqs, layers, std::string(type_name(type)).c_str(), threads,
              1e6 * elapsed / static_cast<double>(calls), kv_bytes * static_cast<double>(calls) / elapsed / 1e9);
  return 0;
}
