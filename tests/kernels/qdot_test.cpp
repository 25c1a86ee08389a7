// Integer dot products: the scalar reference against dequantize-then-multiply (it computes
// the right thing), and every SIMD table against the scalar reference (on awkward sizes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "quant/quant.h"

namespace frugal {
namespace {

const TensorType kTypes[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                             TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                             TensorType::Q5_K, TensorType::Q6_K};

std::vector<float> gaussian(size_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Quantized {
  std::vector<uint8_t> bytes;
  ActRow row;
};

Quantized quantize_act(const QDotTable& t, ActFormat f, const std::vector<float>& x) {
  Quantized q;
  q.bytes.assign(act_row_bytes(f, static_cast<int64_t>(x.size())) + 64, 0);
  // 64-byte alignment as the backend provides.
  auto* base = q.bytes.data() + (64 - reinterpret_cast<uintptr_t>(q.bytes.data()) % 64) % 64;
  t.quantize(f)(x.data(), static_cast<int64_t>(x.size()), base);
  q.row = act_row_view(f, base, static_cast<int64_t>(x.size()));
  return q;
}

// Dequantized activation value i.
float act_value(const ActRow& a, ActFormat f, size_t i) {
  return a.q[i] * a.d[f == ActFormat::A32 ? i / 32 : i / 256];
}

TEST(QDot, ScalarReferenceEqualsDequantizedProduct) {
  std::mt19937 rng(3);
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const ActFormat f = act_format(type);
    for (int64_t n : {256, 512, 2048}) {
      const auto wf = gaussian(static_cast<size_t>(n), rng, 0.05f);
      std::vector<uint8_t> w(row_bytes(type, n));
      quantize_row(type, wf.data(), w.data(), n);
      std::vector<float> wd(static_cast<size_t>(n));
      dequantize_row(type, w.data(), wd.data(), n);
      const auto x = gaussian(static_cast<size_t>(n), rng, 1.0f);
      const Quantized a = quantize_act(scalar_qdot(), f, x);
      double want = 0.0, mag = 0.0;
      for (size_t i = 0; i < x.size(); ++i) {
        want += static_cast<double>(wd[i]) * act_value(a.row, f, i);
        mag += std::fabs(static_cast<double>(wd[i]) * act_value(a.row, f, i));
      }
      const float got = scalar_qdot().dot(type)(w.data(), a.row, n);
      EXPECT_NEAR(got, want, 1e-5 * mag + 1e-7) << "n=" << n;
    }
  }
}

// The table used at run time is the last (most capable) one this CPU can run: AVX-512
// VNNI over AVX2 on x86, the dot-product extension on AArch64.
TEST(QDot, DispatchPicksTheMostCapableTable) {
  const std::vector<const QDotTable*> tables = available_qdot_tables();
  ASSERT_FALSE(tables.empty());
  EXPECT_STREQ(tables.front()->isa, "scalar");
  if (std::getenv("FRUGAL_ISA") == nullptr) {
    EXPECT_STREQ(qdot().isa, tables.back()->isa);
  }
#if defined(__aarch64__)
  EXPECT_STREQ(tables.back()->isa, "neon-dotprod");
#endif
}

TEST(QDot, ActivationQuantizationIsExactInt8) {
  std::mt19937 rng(5);
  const auto x = gaussian(512, rng, 3.0f);
  for (ActFormat f : {ActFormat::A32, ActFormat::A256}) {
    const Quantized a = quantize_act(scalar_qdot(), f, x);
    const size_t block = f == ActFormat::A32 ? 32 : 256;
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_LE(std::fabs(act_value(a.row, f, i) - x[i]), a.row.d[i / block] * 0.5f + 1e-6f);
    }
  }
  // All zeros quantize to zeros with a zero scale (no division by zero).
  std::vector<float> zeros(256, 0.0f);
  const Quantized z = quantize_act(scalar_qdot(), ActFormat::A256, zeros);
  EXPECT_EQ(z.row.d[0], 0.0f);
  EXPECT_EQ(z.row.q[17], 0);
}

TEST(QDot, SimdMatchesScalarReference) {
  std::vector<const QDotTable*> tables = available_qdot_tables();
  tables.erase(tables.begin());  // the reference itself
  if (tables.empty()) GTEST_SKIP() << "no SIMD integer dot table on this CPU";
  const QDotTable& ref = scalar_qdot();
  std::mt19937 rng(11);
  for (const QDotTable* simd : tables) {
    SCOPED_TRACE(simd->isa);
    for (TensorType type : kTypes) {
      SCOPED_TRACE(std::string(type_name(type)));
      const ActFormat f = act_format(type);
      for (int64_t n : {256, 768, 4096}) {
        const auto x = gaussian(static_cast<size_t>(n), rng, 2.0f);
        // Quantized activations are bit-identical between implementations.
        const Quantized a_ref = quantize_act(ref, f, x);
        const Quantized a_simd = quantize_act(*simd, f, x);
        const size_t q_bytes = static_cast<size_t>(n);
        ASSERT_EQ(0, std::memcmp(a_ref.row.q, a_simd.row.q, q_bytes));
        const size_t blocks = static_cast<size_t>(n) / (f == ActFormat::A32 ? 32 : 256);
        ASSERT_EQ(0, std::memcmp(a_ref.row.d, a_simd.row.d, blocks * sizeof(float)));
        if (f == ActFormat::A32) {
          ASSERT_EQ(0, std::memcmp(a_ref.row.sum, a_simd.row.sum, blocks * sizeof(float)));
        } else {
          ASSERT_EQ(0, std::memcmp(a_ref.row.bsums, a_simd.row.bsums, static_cast<size_t>(n) / 16 * 2));
        }
        // Random weight bytes (any bit pattern is a valid block, scales included) and
        // properly quantized weights.
        for (int variant = 0; variant < 2; ++variant) {
          std::vector<uint8_t> w(row_bytes(type, n));
          if (variant == 0) {
            const auto wf = gaussian(static_cast<size_t>(n), rng, 0.1f);
            quantize_row(type, wf.data(), w.data(), n);
          } else {
            for (auto& b : w) b = static_cast<uint8_t>(rng());
            // Keep fp16 scales finite so the sums are comparable.
            std::vector<float> probe(static_cast<size_t>(n));
            dequantize_row(type, w.data(), probe.data(), n);
            bool finite = true;
            for (float v : probe) finite = finite && std::isfinite(v) && std::fabs(v) < 1e4f;
            if (!finite) continue;
          }
          const float want = ref.dot(type)(w.data(), a_ref.row, n);
          const float got = simd->dot(type)(w.data(), a_ref.row, n);
          EXPECT_NEAR(got, want, 1e-4f * std::fabs(want) + 1e-3f) << "n=" << n << " variant " << variant;
        }
      }
    }
  }
}

}  // namespace
}  // namespace frugal

namespace frugal {
namespace {

// Repacked groups of 8 rows give each row's dot product, in the reference and in SIMD.
TEST(QDot, RepackedGroupsMatchRowDots) {
  std::mt19937 rng(17);
  const std::vector<const QDotTable*> tables = available_qdot_tables();
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    ASSERT_TRUE(can_repack(type));
    const ActFormat f = act_format(type);
    for (int64_t n : {256, 1280}) {
      const size_t rb = row_bytes(type, n);
      std::vector<uint8_t> rows(rb * 8);
      for (int r = 0; r < 8; ++r) {
        const auto wf = gaussian(static_cast<size_t>(n), rng, 0.02f * (r + 1));
        quantize_row(type, wf.data(), rows.data() + r * rb, n);
      }
      std::vector<uint8_t> group(repacked_group_bytes(type, n));
      repack_group(type, rows.data(), rb, n, group.data());
      const auto x = gaussian(static_cast<size_t>(n), rng, 1.5f);
      const Quantized a = quantize_act(scalar_qdot(), f, x);
      for (const QDotTable* t : tables) {
        SCOPED_TRACE(t->isa);
        float out[8];
        t->gemv8(type)(group.data(), a.row, n, out);
        for (int r = 0; r < 8; ++r) {
          const float want = scalar_qdot().dot(type)(rows.data() + r * rb, a.row, n);
          EXPECT_NEAR(out[r], want, 1e-4f * std::fabs(want) + 1e-4f) << "row " << r << " n=" << n;
        }
      }
    }
  }
  EXPECT_FALSE(can_repack(TensorType::F16));
}

}  // namespace
}  // namespace frugal

namespace frugal {
namespace {

// A row whose every quant has its largest unsigned value (every quant bit set; -128 for
// Q8_0) with fp16 scales of 1: the inputs that drive int16 sums in the SIMD kernels to
// their limits. Offsets are those of the fp16 fields in each block (quant/blocks.h).
std::vector<uint8_t> extreme_row(TensorType type, int64_t n) {
  std::vector<uint8_t> w(row_bytes(type, n), type == TensorType::Q8_0 ? 0x80 : 0xFF);
  std::vector<size_t> halves;  // offsets of fp16 fields within a block
  switch (type) {
    case TensorType::Q4_1: case TensorType::Q5_1: case TensorType::Q4_K: case TensorType::Q5_K:
      halves = {0, 2};
      break;
    case TensorType::Q2_K: halves = {80, 82}; break;
    case TensorType::Q3_K: halves = {108}; break;
    case TensorType::Q6_K: halves = {208}; break;
    default: halves = {0}; break;
  }
  const size_t block = row_bytes(type, act_format(type) == ActFormat::A32 ? 32 : 256);
  for (size_t b = 0; b < w.size(); b += block) {
    for (size_t off : halves) {
      w[b + off] = 0x00;
      w[b + off + 1] = 0x3C;  // 1.0
    }
  }
  return w;
}

TEST(QDot, ExtremeValuesDoNotOverflowInt16) {
  const std::vector<const QDotTable*> tables = available_qdot_tables();
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const ActFormat f = act_format(type);
    const int64_t n = 512;
    const auto w = extreme_row(type, n);
    const size_t rb = w.size();
    std::vector<uint8_t> rows(rb * 8);
    for (int r = 0; r < 8; ++r) std::memcpy(rows.data() + r * rb, w.data(), rb);
    std::vector<uint8_t> group(repacked_group_bytes(type, n));
    repack_group(type, rows.data(), rb, n, group.data());
    for (float sign : {1.0f, -1.0f}) {
      const Quantized a = quantize_act(scalar_qdot(), f, std::vector<float>(static_cast<size_t>(n), sign));
      ASSERT_EQ(a.row.q[0], sign > 0 ? 127 : -127);
      const float want = scalar_qdot().dot(type)(w.data(), a.row, n);
      for (const QDotTable* t : tables) {
        SCOPED_TRACE(t->isa);
        EXPECT_NEAR(t->dot(type)(w.data(), a.row, n), want, 1e-5f * std::fabs(want)) << "sign " << sign;
        float out[8];
        t->gemv8(type)(group.data(), a.row, n, out);
        for (int r = 0; r < 8; ++r) EXPECT_NEAR(out[r], want, 1e-5f * std::fabs(want)) << "row " << r << " sign " << sign;
      }
    }
  }
}

}  // namespace
}  // namespace frugal

namespace frugal {
namespace {

// `count` quantized weight rows of n values: Gaussian with a growing scale per row, or
// extreme rows (where any int16 overflow in a kernel would show).
std::vector<uint8_t> weight_rows(TensorType type, int64_t n, int count, bool extreme, std::mt19937& rng) {
  const size_t rb = row_bytes(type, n);
  std::vector<uint8_t> rows(rb * static_cast<size_t>(count));
  for (int r = 0; r < count; ++r) {
    if (extreme) {
      const auto w = extreme_row(type, n);
      std::memcpy(rows.data() + r * rb, w.data(), rb);
    } else {
      const auto wf = gaussian(static_cast<size_t>(n), rng, 0.02f * (r + 1));
      quantize_row(type, wf.data(), rows.data() + r * rb, n);
    }
  }
  return rows;
}

// `count` activation rows quantized by the reference: Gaussian, or all +-1 (extreme).
std::vector<Quantized> activation_rows(ActFormat f, int64_t n, int count, bool extreme, std::mt19937& rng) {
  std::vector<Quantized> acts;
  for (int t = 0; t < count; ++t) {
    acts.push_back(extreme ? quantize_act(scalar_qdot(), f, std::vector<float>(static_cast<size_t>(n), t % 2 ? -1.0f : 1.0f))
                           : quantize_act(scalar_qdot(), f, gaussian(static_cast<size_t>(n), rng, 1.0f + t)));
  }
  return acts;
}

std::vector<ActRow> views_of(const std::vector<Quantized>& acts) {
  std::vector<ActRow> views;
  for (const auto& q : acts) views.push_back(q.row);
  return views;
}

// `count` consecutive repacked groups (8 rows each) of row-major quantized rows.
std::vector<uint8_t> repacked_groups(TensorType type, const std::vector<uint8_t>& rows, int64_t n, int count) {
  const size_t rb = row_bytes(type, n), gb = repacked_group_bytes(type, n);
  std::vector<uint8_t> groups(static_cast<size_t>(count) * gb);
  for (int g = 0; g < count; ++g) repack_group(type, rows.data() + 8 * g * rb, rb, n, groups.data() + g * gb);
  return groups;
}

// Multi-token kernels give, for each of 1..kMaxGemmTokens tokens, what the single-token
// reference gives (also on extreme rows, where any int16 overflow would show).
TEST(QDot, MultiTokenKernelsMatchSingleTokenReference) {
  std::mt19937 rng(23);
  int checked = 0;
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const ActFormat f = act_format(type);
    for (int64_t n : {256, 1280}) {
      for (bool extreme : {false, true}) {
        const size_t rb = row_bytes(type, n);
        const std::vector<uint8_t> rows = weight_rows(type, n, 8, extreme, rng);
        const std::vector<uint8_t> group = repacked_groups(type, rows, n, 1);
        const std::vector<Quantized> acts = activation_rows(f, n, kMaxGemmTokens, extreme, rng);
        const std::vector<ActRow> views = views_of(acts);
        for (const QDotTable* table : available_qdot_tables()) {
          const Gemm8Fn gemm = table->gemm8(type);
          if (gemm == nullptr) continue;
          SCOPED_TRACE(table->isa);
          for (int nt = 1; nt <= kMaxGemmTokens; ++nt) {
            const int64_t stride = 11;  // not 8: rows of the output are strided
            std::vector<float> out(static_cast<size_t>(stride * nt), -1.0f);
            gemm(group.data(), views.data(), nt, n, out.data(), stride);
            for (int t = 0; t < nt; ++t) {
              for (int r = 0; r < 8; ++r) {
                const float want = scalar_qdot().dot(type)(rows.data() + r * rb, views[static_cast<size_t>(t)], n);
                EXPECT_NEAR(out[static_cast<size_t>(t * stride + r)], want, 1e-4f * std::fabs(want) + 1e-4f)
                    << "nt=" << nt << " t=" << t << " r=" << r << " n=" << n << " extreme=" << extreme;
              }
              for (int64_t r = 8; r < stride; ++r) EXPECT_EQ(out[static_cast<size_t>(t * stride + r)], -1.0f);
            }
            ++checked;
          }
        }
      }
    }
  }
#if defined(__x86_64__)
  if (avx2_qdot() != nullptr) {
    EXPECT_GT(checked, 0);
  }
#elif defined(__aarch64__)
  if (dotprod_qdot() != nullptr) {
    EXPECT_GT(checked, 0);
  }
#endif
}

// Two-group kernels (16 rows per pass) give, for each of 1..kMaxGemm16Tokens tokens, what
// the scalar reference gives, and exactly what the same ISA's single-token kernel (gemv8,
// what a lone decode token runs) and 8-row multi-token kernel give per group: a sequence's
// tokens do not depend on how many others share its batch.
TEST(QDot, TwoGroupKernelsMatchReferenceAndEightRowKernels) {
  std::mt19937 rng(29);
  int checked = 0;
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const ActFormat f = act_format(type);
    for (int64_t n : {256, 2304}) {  // 2304: 72 blocks, past one 64-block zero-term table
      for (bool extreme : {false, true}) {
        const size_t rb = row_bytes(type, n);
        const std::vector<uint8_t> rows = weight_rows(type, n, 16, extreme, rng);
        const size_t gb = repacked_group_bytes(type, n);
        const std::vector<uint8_t> groups = repacked_groups(type, rows, n, 2);
        const std::vector<Quantized> acts = activation_rows(f, n, kMaxGemm16Tokens, extreme, rng);
        const std::vector<ActRow> views = views_of(acts);
        for (const QDotTable* table : available_qdot_tables()) {
          const Gemm16Fn gemm16 = table->gemm16(type);
          if (gemm16 == nullptr) continue;
          SCOPED_TRACE(table->isa);
          const Gemm8Fn gemm8 = table->gemm8(type);  // nullptr where the ISA has none
          const Gemv8Fn gemv8 = table->gemv8(type);
          for (int nt = 1; nt <= kMaxGemm16Tokens; ++nt) {
            const int64_t stride = 19;  // not 16: rows of the output are strided
            std::vector<float> out(static_cast<size_t>(stride * nt), -1.0f);
            gemm16(groups.data(), groups.data() + gb, views.data(), nt, n, out.data(), stride);
            for (int t = 0; t < nt; ++t) {
              float by8[16], one[16];
              gemv8(groups.data(), views[static_cast<size_t>(t)], n, one);
              gemv8(groups.data() + gb, views[static_cast<size_t>(t)], n, one + 8);
              if (gemm8 != nullptr) {
                gemm8(groups.data(), views.data() + t, 1, n, by8, 0);
                gemm8(groups.data() + gb, views.data() + t, 1, n, by8 + 8, 0);
              } else {
                std::copy(one, one + 16, by8);
              }
              for (int r = 0; r < 16; ++r) {
                const float got = out[static_cast<size_t>(t * stride + r)];
                const float want = scalar_qdot().dot(type)(rows.data() + r * rb, views[static_cast<size_t>(t)], n);
                EXPECT_NEAR(got, want, 1e-4f * std::fabs(want) + 1e-4f)
                    << "nt=" << nt << " t=" << t << " r=" << r << " n=" << n << " extreme=" << extreme;
                EXPECT_EQ(got, by8[r]) << "nt=" << nt << " t=" << t << " r=" << r << " n=" << n;
                EXPECT_EQ(got, one[r]) << "gemv8, nt=" << nt << " t=" << t << " r=" << r << " n=" << n;
              }
              for (int64_t r = 16; r < stride; ++r) EXPECT_EQ(out[static_cast<size_t>(t * stride + r)], -1.0f);
            }
            ++checked;
          }
        }
      }
    }
  }
#if defined(__x86_64__)
  if (avx512_qdot() != nullptr) {
    EXPECT_GT(checked, 0);
  }
#endif
}


// Four-group kernels (32 rows per pass, each activation load feeding two 16-row products)
// give, for 1..kMaxGemm32Tokens tokens (K types: 1..kMaxGemm32KTokens), exactly what the
// two-group kernels give for each pair of groups (those are checked against the reference
// and the 8-row kernels above).
TEST(QDot, FourGroupKernelsMatchTwoGroupKernels) {
  std::mt19937 rng(31);
  int checked = 0;
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const ActFormat f = act_format(type);
    for (int64_t n : {256, 2304}) {  // 2304: 72 blocks, past one 64-block zero-term table
      for (bool extreme : {false, true}) {
        const size_t gb = repacked_group_bytes(type, n);
        const std::vector<uint8_t> groups = repacked_groups(type, weight_rows(type, n, 32, extreme, rng), n, 4);
        const std::vector<Quantized> acts = activation_rows(f, n, kMaxGemm32Tokens, extreme, rng);
        const std::vector<ActRow> views = views_of(acts);
        for (const QDotTable* table : available_qdot_tables()) {
          const Gemm32Fn gemm32 = table->gemm32(type);
          if (gemm32 == nullptr) continue;
          SCOPED_TRACE(table->isa);
          const Gemm16Fn gemm16 = table->gemm16(type);
          ASSERT_NE(gemm16, nullptr);
          ASSERT_GT(table->gemm32_tokens(type), 0);
          for (int nt = 1; nt <= table->gemm32_tokens(type); ++nt) {
            const int64_t stride = 37;  // not 32: rows of the output are strided
            std::vector<float> out(static_cast<size_t>(stride * nt), -1.0f), want(out.size(), -1.0f);
            gemm32(groups.data(), static_cast<int64_t>(gb), views.data(), nt, n, out.data(), stride);
            gemm16(groups.data(), groups.data() + gb, views.data(), nt, n, want.data(), stride);
            gemm16(groups.data() + 2 * gb, groups.data() + 3 * gb, views.data(), nt, n, want.data() + 16, stride);
            EXPECT_EQ(out, want) << "nt=" << nt << " n=" << n << " extreme=" << extreme;
            ++checked;
          }
        }
      }
    }
  }
#if defined(__x86_64__)
  if (avx512_qdot() != nullptr) {
    EXPECT_GT(checked, 0);
  }
#endif
}

}  // namespace
}  // namespace frugal
