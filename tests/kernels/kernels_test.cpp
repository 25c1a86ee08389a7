// Every SIMD kernel against its scalar reference on random inputs of awkward sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <random>
#include <utility>

#include "base/half.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/repack.h"
#include "kernels/qdot.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "quant/quant.h"

namespace frugal {
namespace {

const int64_t kSizes[] = {1, 2, 7, 8, 9, 31, 32, 33, 63, 64, 100, 257, 1023, 4096};

std::vector<float> random_floats(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A random rows x cols matrix stored as `type` (rows of row_bytes(type, cols)), and the
// values it holds, dequantized.
void random_matrix(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng, std::vector<uint8_t>& w,
                   std::vector<float>& deq) {
  const size_t rb = row_bytes(type, cols);
  w.assign(rb * static_cast<size_t>(rows), 0);
  deq.assign(static_cast<size_t>(rows * cols), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const auto src = random_floats(static_cast<size_t>(cols), rng);
    quantize_row(type, src.data(), w.data() + static_cast<size_t>(r) * rb, cols);
    dequantize_row(type, w.data() + static_cast<size_t>(r) * rb, deq.data() + r * cols, cols);
  }
}

// Reordered float sums differ by rounding only: bound the difference by the sum of
// magnitudes times a few ulps per term.
void expect_close_sum(float got, float want, float magnitude, int64_t n) {
  const float tol = 4.0f * static_cast<float>(n) * 1.2e-7f * magnitude + 1e-30f;
  EXPECT_NEAR(got, want, tol) << "n=" << n;
}

std::vector<const KernelTable*> simd_tables() {
  std::vector<const KernelTable*> t;
  if (const KernelTable* avx2 = avx2_kernels()) t.push_back(avx2);
  if (const KernelTable* avx512 = avx512_kernels()) t.push_back(avx512);
  if (const KernelTable* neon = neon_kernels()) t.push_back(neon);
  return t;
}

TEST(Kernels, DispatchPicksAvailableIsa) {
  const KernelTable& k = kernels();
  if (avx512_kernels() != nullptr) {
    EXPECT_STREQ(k.isa, "avx512");
  } else if (avx2_kernels() != nullptr) {
    EXPECT_STREQ(k.isa, "avx2");
  } else if (neon_kernels() != nullptr) {
    EXPECT_STREQ(k.isa, "neon");
  } else {
    EXPECT_STREQ(k.isa, "scalar");
  }
  EXPECT_FALSE(cpu_features().to_string().empty());
}

TEST(Kernels, SimdMatchesScalarReference) {
  const auto tables = simd_tables();
  if (tables.empty()) GTEST_SKIP() << "no SIMD kernel table on this CPU: " << cpu_features().to_string();
  const KernelTable& ref = scalar_kernels();
  std::mt19937 rng(42);
  for (const KernelTable* simd : tables) {
    SCOPED_TRACE(simd->isa);
    for (int64_t n : kSizes) {
      const auto a = random_floats(static_cast<size_t>(n), rng);
      const auto b = random_floats(static_cast<size_t>(n), rng);
      std::vector<uint16_t> h(static_cast<size_t>(n)), bf(static_cast<size_t>(n));
      float mag = 0.0f;
      for (size_t i = 0; i < a.size(); ++i) {
        h[i] = fp32_to_fp16(a[i]);
        bf[i] = fp32_to_bf16(a[i]);
        mag += std::fabs(a[i] * b[i]);
      }
      expect_close_sum(simd->dot_f32(a.data(), b.data(), n), ref.dot_f32(a.data(), b.data(), n), mag, n);
      expect_close_sum(simd->dot_f16_f32(h.data(), b.data(), n), ref.dot_f16_f32(h.data(), b.data(), n), mag, n);
      expect_close_sum(simd->dot_bf16_f32(bf.data(), b.data(), n), ref.dot_bf16_f32(bf.data(), b.data(), n), mag, n);

      // Four activation rows (the first is b) against one weight row, strided apart.
      const int64_t stride = n + 3;
      std::vector<float> b4(static_cast<size_t>(4 * stride));
      for (auto& v : b4) v = std::normal_distribution<float>(0.0f, 1.0f)(rng);
      std::copy(b.begin(), b.end(), b4.begin());
      float got[4], want[4];
      for (int kind = 0; kind < 3; ++kind) {
        if (kind == 0) {
          simd->dot4_f32(a.data(), b4.data(), stride, n, got);
          ref.dot4_f32(a.data(), b4.data(), stride, n, want);
        } else if (kind == 1) {
          simd->dot4_f16_f32(h.data(), b4.data(), stride, n, got);
          ref.dot4_f16_f32(h.data(), b4.data(), stride, n, want);
        } else {
          simd->dot4_bf16_f32(bf.data(), b4.data(), stride, n, got);
          ref.dot4_bf16_f32(bf.data(), b4.data(), stride, n, want);
        }
        for (int t = 0; t < 4; ++t) {
          float m = 0.0f;
          for (int64_t i = 0; i < n; ++i) m += std::fabs(a[static_cast<size_t>(i)] * b4[static_cast<size_t>(t * stride + i)]);
          SCOPED_TRACE("dot4 kind " + std::to_string(kind) + " token " + std::to_string(t));
          expect_close_sum(got[t], want[t], m, n);
        }
      }
      // Four and six weight rows (a and more, strided apart) against the four activation rows.
      const int64_t a_stride = n + 5;
      std::vector<float> a6(static_cast<size_t>(6 * a_stride));
      for (auto& v : a6) v = std::normal_distribution<float>(0.0f, 1.0f)(rng);
      std::copy(a.begin(), a.end(), a6.begin());
      std::vector<uint16_t> h6(a6.size()), bf6(a6.size());
      for (size_t i = 0; i < a6.size(); ++i) {
        h6[i] = fp32_to_fp16(a6[i]);
        bf6[i] = fp32_to_bf16(a6[i]);
      }
      for (const int rows : {4, 6}) {
        for (int kind = 0; kind < 3; ++kind) {
          float got24[24], want24[24];
          const bool six = rows == 6;
          if (kind == 0) {
            (six ? simd->dot6x4_f32 : simd->dot4x4_f32)(a6.data(), a_stride, b4.data(), stride, n, got24);
            (six ? ref.dot6x4_f32 : ref.dot4x4_f32)(a6.data(), a_stride, b4.data(), stride, n, want24);
          } else if (kind == 1) {
            (six ? simd->dot6x4_f16_f32 : simd->dot4x4_f16_f32)(h6.data(), a_stride, b4.data(), stride, n, got24);
            (six ? ref.dot6x4_f16_f32 : ref.dot4x4_f16_f32)(h6.data(), a_stride, b4.data(), stride, n, want24);
          } else {
            (six ? simd->dot6x4_bf16_f32 : simd->dot4x4_bf16_f32)(bf6.data(), a_stride, b4.data(), stride, n, got24);
            (six ? ref.dot6x4_bf16_f32 : ref.dot4x4_bf16_f32)(bf6.data(), a_stride, b4.data(), stride, n, want24);
          }
          for (int t = 0; t < 4; ++t) {
            for (int r = 0; r < rows; ++r) {
              float m = 0.0f;
              for (int64_t i = 0; i < n; ++i) {
                m += std::fabs(a6[static_cast<size_t>(r * a_stride + i)] * b4[static_cast<size_t>(t * stride + i)]);
              }
              SCOPED_TRACE("dot" + std::to_string(rows) + "x4 kind " + std::to_string(kind) + " row " +
                           std::to_string(r) + " token " + std::to_string(t));
              expect_close_sum(got24[t * rows + r], want24[t * rows + r], m, n);
            }
          }
        }
      }
      std::vector<float> y1 = b, y2 = b;
      simd->axpy_f32(0.37f, a.data(), y1.data(), n);
      ref.axpy_f32(0.37f, a.data(), y2.data(), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[static_cast<size_t>(i)], y2[static_cast<size_t>(i)], 1e-6f);
      y1 = b;
      y2 = b;
      simd->axpy_f16_f32(-1.5f, h.data(), y1.data(), n);
      ref.axpy_f16_f32(-1.5f, h.data(), y2.data(), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[static_cast<size_t>(i)], y2[static_cast<size_t>(i)], 1e-5f);
      // Q8_0 rows (the KV cache's q8_0 type) over the whole blocks of n.
      if (const int64_t nq = n / 32 * 32; nq > 0) {
        std::vector<uint8_t> q8(row_bytes(TensorType::Q8_0, nq));
        quantize_row(TensorType::Q8_0, a.data(), q8.data(), nq);
        float mq = 0.0f;
        for (int64_t i = 0; i < nq; ++i) mq += std::fabs(a[static_cast<size_t>(i)] * b[static_cast<size_t>(i)]);
        std::vector<float> deq(static_cast<size_t>(nq));
        dequantize_row(TensorType::Q8_0, q8.data(), deq.data(), nq);
        expect_close_sum(ref.dot_q8_0_f32(q8.data(), b.data(), nq), ref.dot_f32(deq.data(), b.data(), nq), mq, nq);
        expect_close_sum(simd->dot_q8_0_f32(q8.data(), b.data(), nq), ref.dot_q8_0_f32(q8.data(), b.data(), nq), mq, nq);
        y1 = b;
        y2 = b;
        simd->axpy_q8_0_f32(0.75f, q8.data(), y1.data(), nq);
        ref.axpy_q8_0_f32(0.75f, q8.data(), y2.data(), nq);
        for (int64_t i = 0; i < nq; ++i) EXPECT_NEAR(y1[static_cast<size_t>(i)], y2[static_cast<size_t>(i)], 1e-5f);
      }
      y1 = b;
      y2 = b;
      simd->scale_f32(y1.data(), 0.5f, n);
      ref.scale_f32(y2.data(), 0.5f, n);
      EXPECT_EQ(y1, y2);
    }
  }
}

// The softmax exponentials: every element within a few ulp of std::exp, including
// arguments that underflow, and the returned sum of them.
TEST(Kernels, ExpSubSumMatchesStdExp) {
  const auto tables = simd_tables();
  if (tables.empty()) GTEST_SKIP() << "no SIMD kernel table on this CPU: " << cpu_features().to_string();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-30.0f, 2.0f);
  for (const KernelTable* simd : tables) {
    SCOPED_TRACE(simd->isa);
    for (int64_t n : kSizes) {
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = dist(rng);
      // Arguments around and below ln(FLT_MIN), zero and exactly representable integers.
      const float special[] = {0.0f, -1.0f, 1.0f, -87.0f, -87.4f, -88.0f, -103.0f, -200.0f, 0.5f};
      for (size_t i = 0; i < x.size() && i < std::size(special); ++i) x[i * 7 % x.size()] = special[i];
      const float m = 1.5f;
      std::vector<float> got(x.size()), want(x.size());
      const float sum_got = simd->exp_sub_sum_f32(x.data(), m, got.data(), n);
      const float sum_want = scalar_kernels().exp_sub_sum_f32(x.data(), m, want.data(), n);
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_NEAR(got[i], want[i], 5e-7f * want[i] + 2e-38f) << "x=" << x[i] << " n=" << n;
      }
      expect_close_sum(sum_got, sum_want, sum_want, n);  // summation order differs
    }
  }
}

// SwiGLU's activation: within a few ulp of the scalar formula with std::exp, for gates far
// out on both sides (where exp(-g) underflows to 0 or clamps) and every tail length.
TEST(Kernels, SwigluMatchesScalarReference) {
  const auto tables = simd_tables();
  if (tables.empty()) GTEST_SKIP() << "no SIMD kernel table on this CPU: " << cpu_features().to_string();
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> dist(-12.0f, 12.0f);
  for (const KernelTable* simd : tables) {
    SCOPED_TRACE(simd->isa);
    for (int64_t n : kSizes) {
      std::vector<float> gate(static_cast<size_t>(n)), up = random_floats(static_cast<size_t>(n), rng);
      for (auto& v : gate) v = dist(rng);
      const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 88.0f, -88.0f, 100.0f, -100.0f, 1e-30f, -200.0f};
      for (size_t i = 0; i < gate.size() && i < std::size(special); ++i) gate[i * 7 % gate.size()] = special[i];
      std::vector<float> got(gate.size()), want(gate.size());
      simd->swiglu_f32(gate.data(), up.data(), got.data(), n);
      scalar_kernels().swiglu_f32(gate.data(), up.data(), want.data(), n);
      for (size_t i = 0; i < gate.size(); ++i) {
        EXPECT_NEAR(got[i], want[i], 1e-6f * std::abs(want[i]) + 1e-30f) << "gate=" << gate[i] << " n=" << n;
      }
    }
  }
}

// Four rows of weights times k rows of values, added to four accumulator rows: every
// width (SIMD chunks and scalar tails) and strided operands.
TEST(Kernels, WeightedSum4MatchesScalarReference) {
  const auto tables = simd_tables();
  if (tables.empty()) GTEST_SKIP() << "no SIMD kernel table on this CPU: " << cpu_features().to_string();
  std::mt19937 rng(9);
  for (const KernelTable* simd : tables) {
    SCOPED_TRACE(simd->isa);
    for (int64_t n : {1, 4, 7, 8, 16, 23, 64, 80, 100, 128, 257}) {
      for (int64_t k : {1, 3, 16}) {
        const int64_t lda = k + 2, ldb = n + 5, ldc = n + 3;
        const auto a = random_floats(static_cast<size_t>(4 * lda), rng);
        const auto b = random_floats(static_cast<size_t>(k * ldb), rng);
        const auto c0 = random_floats(static_cast<size_t>(4 * ldc), rng);
        std::vector<float> got = c0, want = c0;
        simd->weighted_sum4_f32(a.data(), lda, b.data(), ldb, k, got.data(), ldc, n);
        scalar_kernels().weighted_sum4_f32(a.data(), lda, b.data(), ldb, k, want.data(), ldc, n);
        for (int64_t i = 0; i < 4; ++i) {
          for (int64_t j = 0; j < ldc; ++j) {
            const size_t at = static_cast<size_t>(i * ldc + j);
            if (j >= n) {
              EXPECT_EQ(got[at], c0[at]) << "wrote past n=" << n;  // padding untouched
              continue;
            }
            float mag = std::fabs(c0[at]);
            for (int64_t t = 0; t < k; ++t) {
              mag += std::fabs(a[static_cast<size_t>(i * lda + t)] * b[static_cast<size_t>(t * ldb + j)]);
            }
            expect_close_sum(got[at], want[at], mag, k + 1);
          }
        }
        // fp16 values (an F16 KV cache): exactly the f32 kernel on the widened values.
        std::vector<uint16_t> bh(b.size());
        std::vector<float> bf(b.size());
        for (size_t i = 0; i < b.size(); ++i) {
          bh[i] = fp32_to_fp16(b[i]);
          bf[i] = fp16_to_fp32(bh[i]);
        }
        for (const KernelTable* table : {simd, &scalar_kernels()}) {
          std::vector<float> from_half = c0, from_float = c0;
          table->weighted_sum4_f16_f32(a.data(), lda, bh.data(), ldb, k, from_half.data(), ldc, n);
          table->weighted_sum4_f32(a.data(), lda, bf.data(), ldb, k, from_float.data(), ldc, n);
          EXPECT_EQ(from_half, from_float) << table->isa << " n=" << n << " k=" << k;
        }
      }
    }
  }
}

// matmul_rows over every weight type equals a plain dequantize-then-dot in double.
TEST(Kernels, MatmulRowsMatchesDequantizedReference) {
  std::mt19937 rng(7);
  const TensorType types[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                              TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                              TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                              TensorType::Q6_K};
  for (TensorType type : types) {
    SCOPED_TRACE(std::string(type_name(type)));
    // 70 tokens: a block of 64 and one of 6 (float weights go in token blocks of at most
    // 64), each with 4-token tiles and tokens left alone; 29 rows: a block of 24 in 6-row
    // tiles, then one of 5 (a 4-row tile and a row alone).
    const int64_t cols = 512, rows = 29, tokens = 70;
    const size_t rb = row_bytes(type, cols);
    std::vector<uint8_t> w;
    std::vector<float> deq;
    random_matrix(type, rows, cols, rng, w, deq);
    const auto x = random_floats(static_cast<size_t>(tokens * cols), rng);
    WeightMatrix m{type, w.data(), rows, cols, rb};
    std::vector<float> y(static_cast<size_t>(tokens * rows)), scratch(static_cast<size_t>(cols));
    matmul_rows(m, x.data(), cols, tokens, y.data(), rows, 0, rows, scratch.data());
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        double want = 0.0, mag = 0.0;
        for (int64_t k = 0; k < cols; ++k) {
          want += static_cast<double>(deq[static_cast<size_t>(r * cols + k)]) * x[static_cast<size_t>(t * cols + k)];
          mag += std::fabs(static_cast<double>(deq[static_cast<size_t>(r * cols + k)]) * x[static_cast<size_t>(t * cols + k)]);
        }
        EXPECT_NEAR(y[static_cast<size_t>(t * rows + r)], want, 1e-5 * mag + 1e-6);
      }
    }
  }
}

// 16-bit float panels (F16, BF16): every SIMD panel kernel equals the scalar reference for
// each token count it takes, awkward column counts, storing or accumulating.
TEST(Kernels, PanelKernelsMatchScalarReference) {
  const KernelTable& ref = scalar_kernels();
  std::mt19937 rng(11);
  int checked = 0;
  for (const KernelTable* simd : simd_tables()) {
    SCOPED_TRACE(simd->isa);
    if (simd->panel_f16_f32 == nullptr) continue;
    for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{17}, int64_t{64}, int64_t{257}}) {
      const auto w = random_floats(static_cast<size_t>(n * kPanelRows), rng);
      std::vector<uint16_t> h(w.size()), bf(w.size());
      for (size_t i = 0; i < w.size(); ++i) {
        h[i] = fp32_to_fp16(w[i]);
        bf[i] = fp32_to_bf16(w[i]);
      }
      const int64_t xs = n + 5, ys = kPanelRows + 3;
      const auto x = random_floats(static_cast<size_t>(kPanelTokens * xs), rng);
      for (int nt = 1; nt <= kPanelTokens; ++nt) {
        for (const bool accumulate : {false, true}) {
          for (const bool f16 : {true, false}) {
            const auto start = random_floats(static_cast<size_t>(kPanelTokens * ys), rng);
            std::vector<float> got = start, want = start;
            (f16 ? simd->panel_f16_f32 : simd->panel_bf16_f32)(f16 ? h.data() : bf.data(), x.data(), xs, nt, n,
                                                               got.data(), ys, accumulate);
            (f16 ? ref.panel_f16_f32 : ref.panel_bf16_f32)(f16 ? h.data() : bf.data(), x.data(), xs, nt, n,
                                                           want.data(), ys, accumulate);
            for (int t = 0; t < kPanelTokens; ++t) {
              for (int64_t i = 0; i < ys; ++i) {
                const auto at = static_cast<size_t>(t * ys + i);
                if (t >= nt || i >= kPanelRows) {
                  EXPECT_EQ(got[at], start[at]) << "wrote outside the tile: t=" << t << " i=" << i;
                  continue;
                }
                float mag = accumulate ? std::fabs(start[at]) : 0.0f;
                for (int64_t k = 0; k < n; ++k) {
                  mag += std::fabs(w[static_cast<size_t>(k * kPanelRows + i)] * x[static_cast<size_t>(t * xs + k)]);
                }
                expect_close_sum(got[at], want[at], mag, n + 1);
              }
            }
            ++checked;
          }
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD panel kernels on this CPU: " << cpu_features().to_string();
}

// matmul_rows over panel-repacked F16/BF16 weights equals the same product over the
// row-major data: decode-sized and prefill-sized token counts (the latter through the token
// and column blocks, with columns past one column block), row ranges that start and end
// inside a panel, and rows past the last whole panel.
TEST(Kernels, PanelMatmulMatchesRowMajorMatmul) {
  if (kernels().panel_f16_f32 == nullptr) GTEST_SKIP() << "the dispatched kernels keep float weights row-major";
  std::mt19937 rng(12);
  for (const TensorType type : {TensorType::F16, TensorType::BF16}) {
    SCOPED_TRACE(std::string(type_name(type)));
    const int64_t cols = 2048 + 40, rows = 3 * kPanelRows + 7;
    const size_t rb = row_bytes(type, cols);
    std::vector<uint8_t> w;
    std::vector<float> deq;
    random_matrix(type, rows, cols, rng, w, deq);
    const int64_t panels = rows / kPanelRows;
    std::vector<uint8_t> packed(float_panel_bytes(cols) * static_cast<size_t>(panels));
    for (int64_t p = 0; p < panels; ++p) {
      repack_float_panel(w.data() + static_cast<size_t>(p * kPanelRows) * rb, rb, cols,
                         packed.data() + static_cast<size_t>(p) * float_panel_bytes(cols));
    }
    WeightMatrix plain{type, w.data(), rows, cols, rb};
    WeightMatrix panel = plain;
    panel.packed = packed.data();
    panel.group_bytes = float_panel_bytes(cols);
    std::vector<float> scratch(static_cast<size_t>(cols));
    for (const int64_t tokens : {int64_t{1}, int64_t{5}, int64_t{12}, int64_t{13}, int64_t{131}}) {
      const auto x = random_floats(static_cast<size_t>(tokens * cols), rng);
      for (const auto& [r0, r1] : {std::pair<int64_t, int64_t>{0, rows}, {kPanelRows, 2 * kPanelRows}, {5, rows - 2}}) {
        SCOPED_TRACE("tokens " + std::to_string(tokens) + " rows " + std::to_string(r0) + ".." + std::to_string(r1));
        std::vector<float> got(static_cast<size_t>(tokens * rows), -1.0f), want = got;
        matmul_rows(panel, x.data(), cols, tokens, got.data(), rows, r0, r1, scratch.data());
        matmul_rows(plain, x.data(), cols, tokens, want.data(), rows, r0, r1, scratch.data());
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            const auto at = static_cast<size_t>(t * rows + r);
            if (r < r0 || r >= r1) {
              EXPECT_EQ(got[at], -1.0f);
              continue;
            }
            float mag = 0.0f;
            for (int64_t k = 0; k < cols; ++k) {
              mag += std::fabs(deq[static_cast<size_t>(r * cols + k)] * x[static_cast<size_t>(t * cols + k)]);
            }
            expect_close_sum(got[at], want[at], mag, cols);
          }
        }
      }
    }
  }
}

// The quantized matmul over repacked weights (what prefill and batched decode run): any
// token count and row range, through whichever multi-token kernels this CPU has (16-row,
// 8-row, single-token), equals the scalar reference dot of every row and token.
TEST(Kernels, PackedQuantizedMatmulMatchesScalarDots) {
  std::mt19937 rng(11);
  for (TensorType type : {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::Q5_0}) {
    SCOPED_TRACE(std::string(type_name(type)));
    // 11 groups of 8: decode batches (1-3 tokens) go in 4 or 2 far-apart streams of 2 or 5
    // groups with groups left over; 4 and more tokens in 32-, 16- and 8-row passes.
    const int64_t cols = 512, rows = 88;
    const size_t rb = row_bytes(type, cols);
    std::vector<uint8_t> w(rb * rows);
    for (int64_t r = 0; r < rows; ++r) {
      const auto src = random_floats(static_cast<size_t>(cols), rng);
      quantize_row(type, src.data(), w.data() + static_cast<size_t>(r) * rb, cols);
    }
    WeightMatrix m{type, w.data(), rows, cols, rb};
    m.group_bytes = repacked_group_bytes(type, cols);
    std::vector<uint8_t> packed(m.group_bytes * static_cast<size_t>(rows / 8));
    for (int64_t g = 0; g < rows / 8; ++g) {
      repack_group(type, w.data() + static_cast<size_t>(g * 8) * rb, rb, cols, packed.data() + g * m.group_bytes);
    }
    m.packed = packed.data();
    const ActFormat f = act_format(type);
    for (int64_t tokens : {1, 2, 3, 4, 13}) {
      const size_t stride = act_row_bytes(f, cols);
      std::vector<uint8_t> act(stride * static_cast<size_t>(tokens) + 64);
      uint8_t* base = act.data() + (64 - reinterpret_cast<uintptr_t>(act.data()) % 64) % 64;
      const auto x = random_floats(static_cast<size_t>(tokens * cols), rng);
      for (int64_t t = 0; t < tokens; ++t) qdot().quantize(f)(x.data() + t * cols, cols, base + t * stride);
      for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, rows}, {16, 80}, {8, 24}}) {
        std::vector<float> y(static_cast<size_t>(tokens * rows), -7.0f);
        matmul_rows_quantized(m, base, stride, tokens, y.data(), rows, r0, r1);
        for (int64_t t = 0; t < tokens; ++t) {
          const ActRow a = act_row_view(f, base + t * stride, cols);
          for (int64_t r = 0; r < rows; ++r) {
            const float got = y[static_cast<size_t>(t * rows + r)];
            if (r < r0 || r >= r1) {
              EXPECT_EQ(got, -7.0f);
              continue;
            }
            const float want = scalar_qdot().dot(type)(w.data() + static_cast<size_t>(r) * rb, a, cols);
            EXPECT_NEAR(got, want, 1e-4f * std::fabs(want) + 1e-4f) << "tokens=" << tokens << " r=" << r;
          }
        }
      }
    }
  }
}

TEST(Ops, RmsNormNormalisesAndScales) {
  std::vector<float> x = {3.0f, -4.0f, 0.0f, 0.0f}, w = {1.0f, 2.0f, 1.0f, 1.0f}, out(4);
  rms_norm_row(x.data(), w.data(), 0.0f, 4, out.data());
  const float rms = std::sqrt(25.0f / 4.0f);
  EXPECT_FLOAT_EQ(out[0], 3.0f / rms);
  EXPECT_FLOAT_EQ(out[1], -8.0f / rms);
  EXPECT_FLOAT_EQ(out[2], 0.0f);
}

TEST(Ops, SwiGlu) {
  std::vector<float> g = {0.0f, 1.0f, -2.0f}, u = {5.0f, 2.0f, 3.0f}, out(3);
  swiglu_row(g.data(), u.data(), 3, out.data());
  EXPECT_FLOAT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 1.0f / (1.0f + std::exp(-1.0f)) * 2.0f, 1e-6f);
  EXPECT_NEAR(out[2], -2.0f / (1.0f + std::exp(2.0f)) * 3.0f, 1e-6f);
}

// RoPE rotates pairs: normal ordering pairs (0,1),(2,3); NeoX pairs (0,2),(1,3). Position 0
// is the identity; norms of each pair are preserved; frequency i is base^(-2i/d).
TEST(Ops, RopePairOrderingAndAngles) {
  RopeParams p;
  p.n_dims = 4;
  p.freq_base = 100.0f;
  std::vector<float> x = {1.0f, 0.0f, 1.0f, 0.0f};
  rope_row(x.data(), 1, 4, 0, p);
  EXPECT_EQ(x, (std::vector<float>{1.0f, 0.0f, 1.0f, 0.0f}));
  rope_row(x.data(), 1, 4, 3, p);
  EXPECT_NEAR(x[0], std::cos(3.0f), 1e-6f);
  EXPECT_NEAR(x[1], std::sin(3.0f), 1e-6f);
  EXPECT_NEAR(x[2], std::cos(3.0f * 0.1f), 1e-6f);  // 100^(-2/4) = 0.1
  EXPECT_NEAR(x[3], std::sin(3.0f * 0.1f), 1e-6f);

  p.neox = true;
  std::vector<float> y = {1.0f, 1.0f, 0.0f, 0.0f};
  rope_row(y.data(), 1, 4, 3, p);
  EXPECT_NEAR(y[0], std::cos(3.0f), 1e-6f);
  EXPECT_NEAR(y[2], std::sin(3.0f), 1e-6f);
  EXPECT_NEAR(y[1], std::cos(0.3f), 1e-6f);
  EXPECT_NEAR(y[3], std::sin(0.3f), 1e-6f);

  // Linear scaling divides positions; freq factors divide each frequency.
  p.neox = false;
  p.freq_scale = 0.5f;
  const float factors[2] = {1.0f, 4.0f};
  p.freq_factors = factors;
  std::vector<float> z = {1.0f, 0.0f, 1.0f, 0.0f};
  rope_row(z.data(), 1, 4, 8, p);
  EXPECT_NEAR(z[0], std::cos(4.0f), 1e-5f);
  EXPECT_NEAR(z[2], std::cos(8.0f * 0.1f / 4.0f * 0.5f), 1e-5f);
}

}  // namespace
}  // namespace frugal
