// Matmul throughput on one thread: the path prefill and batched decode take (repacked
// weights; activations quantized once and matmul_rows_quantized, or for F16 and BF16 float
// activations and float panels through matmul_rows), on random weights of one type. Prints
// one line: multiply-adds per second and weight bytes read per second.
//
//   bench_kernels [--type Q4_0] [--rows 8192] [--cols 2048] [--tokens 16] [--copies 1]
//                 [--seconds 2] [--row-major 1]
//
// --copies N keeps N copies of the matrix and cycles through them, so with enough copies
// (more than the last-level cache holds) every pass streams the weights from memory; with
// 1 copy and a small matrix they stay in L2. FRUGAL_ISA=avx2|scalar caps the kernels as
// everywhere else. Timings on shared machines drift: alternate the runs you compare.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mman.h>

#include "base/tensor_type.h"
#include "kernels/kernels.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "quant/quant.h"

namespace {

[[noreturn]] void usage(const char* msg) {
  if (msg != nullptr) std::fprintf(stderr, "bench_kernels: %s\n\n", msg);
  std::fprintf(stderr,
               "usage: bench_kernels [--type T] [--rows N] [--cols N] [--tokens N] [--copies N] [--seconds S]\n"
               "                     [--row-major 1]\n"
               "  --type     repackable block type (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K) or F16, BF16\n"
               "             (default Q4_0)\n"
               "  --rows     weight rows, a multiple of 32 (default 8192)\n"
               "  --cols     columns, a multiple of 256 (default 2048)\n"
               "  --tokens   activation rows (default 16)\n"
               "  --copies   copies of the matrix cycled through (default 1)\n"
               "  --seconds  measuring time (default 2)\n"
               "  --row-major 1  F16/BF16 weights in the file's row-major layout (no panels), for A/B\n");
  std::exit(msg != nullptr ? 2 : 0);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace frugal;
  TensorType type = TensorType::Q4_0;
  int64_t rows = 8192, cols = 2048, tokens = 16, copies = 1;
  double seconds = 2.0;
  bool row_major = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") usage(nullptr);
    if (i + 1 >= argc) usage("every option takes a value");
    const char* v = argv[++i];
    if (a == "--type") {
      const auto t = parse_tensor_type(v);
      if (!t || !(can_repack(*t) || *t == TensorType::F16 || *t == TensorType::BF16)) {
        usage("--type: not a repackable block type, F16 or BF16");
      }
      type = *t;
    } else if (a == "--rows") {
      rows = std::atoll(v);
    } else if (a == "--cols") {
      cols = std::atoll(v);
    } else if (a == "--tokens") {
      tokens = std::atoll(v);
    } else if (a == "--copies") {
      copies = std::atoll(v);
    } else if (a == "--row-major") {
      row_major = std::string_view(v) == "1";
    } else if (a == "--seconds") {
      seconds = std::atof(v);
    } else {
      usage("unknown option");
    }
  }
  if (rows < 32 || rows % 32 != 0) usage("--rows must be a positive multiple of 32");
  if (cols < 256 || cols % 256 != 0) usage("--cols must be a positive multiple of 256");
  if (tokens < 1 || copies < 1 || !(seconds > 0)) usage("--tokens, --copies and --seconds must be positive");

  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(cols));
  const size_t rb = row_bytes(type, cols);
  std::vector<uint8_t> weights(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : x) v = normal(rng);
    quantize_row(type, x.data(), weights.data() + static_cast<size_t>(r) * rb, cols);
  }
  const bool is_float = type == TensorType::F16 || type == TensorType::BF16;
  if (is_float && !row_major && (type == TensorType::F16 ? kernels().panel_f16_f32 : kernels().panel_bf16_f32) == nullptr) {
    usage("these kernels keep 16-bit float weights row-major (no panel products)");
  }
  const int64_t group_rows = is_float ? kPanelRows : 8;
  const size_t gb = is_float ? float_panel_bytes(cols) : repacked_group_bytes(type, cols);
  const size_t matrix_bytes = gb * static_cast<size_t>(rows / group_rows);
  std::vector<uint8_t*> packed(static_cast<size_t>(copies));
  for (auto& p : packed) {
    // 2 MiB-aligned and huge-page-backed, as the backend keeps repacked weights.
    constexpr size_t kHuge = size_t{2} << 20;
    p = static_cast<uint8_t*>(std::aligned_alloc(kHuge, (matrix_bytes + kHuge - 1) / kHuge * kHuge));
    if (p == nullptr) usage("cannot allocate the weight copies");
    ::madvise(p, matrix_bytes, MADV_HUGEPAGE);
    for (int64_t g = 0; g < rows / group_rows; ++g) {
      const uint8_t* src = weights.data() + static_cast<size_t>(group_rows * g) * rb;
      uint8_t* dst = p + static_cast<size_t>(g) * gb;
      if (is_float && row_major) {
        std::memcpy(dst, src, gb);
      } else if (is_float) {
        repack_float_panel(src, rb, cols, dst);
      } else {
        repack_group(type, src, rb, cols, dst);
      }
    }
  }
  // Float weights meet float activations (matmul_rows), rows activation_stride() apart as
  // the CPU backend keeps them; the others int8 ones.
  const int64_t xs = activation_stride(cols);
  std::vector<float> xf(static_cast<size_t>(tokens * xs));
  for (auto& v : xf) v = normal(rng);
  std::vector<float> scratch(static_cast<size_t>(cols));
  const ActFormat format = is_float ? ActFormat::A32 : act_format(type);
  const size_t ab = act_row_bytes(format, cols);
  std::vector<uint8_t> act(ab * static_cast<size_t>(tokens) + 64);
  uint8_t* act0 = act.data() + (64 - reinterpret_cast<uintptr_t>(act.data()) % 64) % 64;  // 64-byte aligned
  for (int64_t t = 0; t < tokens; ++t) {
    for (auto& v : x) v = normal(rng);
    qdot().quantize(format)(x.data(), cols, act0 + static_cast<size_t>(t) * ab);
  }
  std::vector<float> out(static_cast<size_t>(tokens * rows));

  WeightMatrix m;
  m.type = type;
  m.rows = rows;
  m.cols = cols;
  m.row_bytes = rb;
  m.data = weights.data();
  m.group_bytes = gb;
  int64_t passes = 0;
  double elapsed = 0.0;
  const auto start = std::chrono::steady_clock::now();
  do {
    m.packed = packed[static_cast<size_t>(passes % copies)];
    if (row_major) {
      m.data = m.packed;
      m.packed = nullptr;
    }
    if (is_float) {
      matmul_rows(m, xf.data(), xs, tokens, out.data(), rows, 0, rows, scratch.data());
    } else {
      matmul_rows_quantized(m, act0, ab, tokens, out.data(), rows, 0, rows);
    }
    ++passes;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  const double macs = static_cast<double>(passes) * static_cast<double>(rows * cols * tokens);
  std::printf("%s %s rows %lld cols %lld tokens %lld copies %lld: %.2f G MAC/s, %.1f GB/s of weights\n",
              is_float ? kernels().isa : qdot().isa, std::string(type_name(type)).c_str(),
              static_cast<long long>(rows),
              static_cast<long long>(cols), static_cast<long long>(tokens), static_cast<long long>(copies),
              macs / elapsed / 1e9, static_cast<double>(passes) * static_cast<double>(matrix_bytes) / elapsed / 1e9);
  for (uint8_t* p : packed) std::free(p);
  return 0;
}
