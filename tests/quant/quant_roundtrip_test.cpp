// Quantize -> dequantize on random data at awkward row lengths, the importance weighting,
// and robustness against arbitrary bytes and extreme floats (this suite also runs under
// AddressSanitizer + UndefinedBehaviorSanitizer).
#include <gtest/gtest.h>

#include <limits>

#include "quant/quant.h"
#include "quant/quant_test_util.h"

namespace frugal {
namespace {

using test::SplitMix;

std::vector<float> gaussian(size_t n, uint64_t seed, float sigma = 1.0f) {
  SplitMix rng{seed};
  std::vector<float> x(n);
  for (auto& v : x) v = rng.gaussian() * sigma;
  return x;
}

std::vector<float> round_trip(TensorType type, const std::vector<float>& x, const float* importance = nullptr) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_bytes(type, n));
  quantize_row(type, x.data(), q.data(), n, importance);
  std::vector<float> y(x.size());
  dequantize_row(type, q.data(), y.data(), n);
  return y;
}

// Upper bounds on RMSE / RMS for Gaussian data: 1.2x the values measured on 1000
// blocks, to leave room for short rows, whose error varies more. Measured (ggml's
// reference quantizers in brackets where frugal's K-quant search differs from them):
// F16 2.1e-4, BF16 1.7e-3, Q8_0 and Q8_1 5.4e-3, Q8_K 7.0e-3, Q6_K 0.0169 [0.0177],
// Q5_K 0.0350 [0.0361], Q5_0 0.0426, Q5_1 0.0380, Q4_K 0.0706 [0.0713], Q4_0 0.0867,
// Q4_1 0.0785, Q3_K 0.1435 [0.151], Q2_K 0.262 [0.296].
double error_bound(TensorType type) {
  switch (type) {
    case TensorType::F32: return 0.0;
    case TensorType::F16: return 2.6e-4;
    case TensorType::BF16: return 2.0e-3;
    case TensorType::Q8_0: case TensorType::Q8_1: return 6.5e-3;
    case TensorType::Q8_K: return 8.4e-3;
    case TensorType::Q6_K: return 0.0203;
    case TensorType::Q5_K: return 0.042;
    case TensorType::Q5_0: return 0.051;
    case TensorType::Q5_1: return 0.0456;
    case TensorType::Q4_K: return 0.0847;
    case TensorType::Q4_0: return 0.104;
    case TensorType::Q4_1: return 0.094;
    case TensorType::Q3_K: return 0.172;
    case TensorType::Q2_K: return 0.314;
    default: return 0.0;
  }
}

TEST(QuantRoundTrip, GaussianWithinStatedErrorAtAwkwardLengths) {
  for (TensorType type : test::supported_types()) {
    const int64_t block = traits(type).block_size;
    for (int64_t blocks : {1, 7, 33}) {
      // block size 1 types get lengths that are not multiples of anything either
      const int64_t n = block == 1 ? blocks * 37 : blocks * block;
      SCOPED_TRACE(std::string(type_name(type)) + " n=" + std::to_string(n));
      const auto x = gaussian(static_cast<size_t>(n), 1000 + static_cast<uint64_t>(n));
      const double err = test::relative_rmse(x, round_trip(type, x));
      EXPECT_LE(err, error_bound(type));
      // and the bound is about right: not vacuous for the lossy types
      if (type != TensorType::F32 && blocks == 33) {
        EXPECT_GT(err, 0.5 * error_bound(type));
      }
    }
  }
}

// The relative error hardly depends on the data's scale, from typical LLM weights
// (sigma ~0.02, where the K formats' super-scales are already fp16 subnormals) to large
// values.
TEST(QuantRoundTrip, ScaleInvariantError) {
  for (TensorType type : test::supported_types()) {
    SCOPED_TRACE(std::string(type_name(type)));
    const size_t n = 8 * 256;
    for (float sigma : {0.02f, 30.0f}) {
      const auto x = gaussian(n, 7, sigma);
      EXPECT_LE(test::relative_rmse(x, round_trip(type, x)), error_bound(type) * 1.1) << sigma;
    }
  }
}

TEST(QuantRoundTrip, ZerosStayZero) {
  for (TensorType type : test::supported_types()) {
    SCOPED_TRACE(std::string(type_name(type)));
    const int64_t n = 2 * std::max<int64_t>(traits(type).block_size, 32);
    std::vector<float> x(static_cast<size_t>(n), 0.0f);
    std::vector<float> ones(static_cast<size_t>(n), 1.0f);
    for (const float* imp : {static_cast<const float*>(nullptr), static_cast<const float*>(ones.data())}) {
      for (float y : round_trip(type, x, imp)) EXPECT_EQ(y, 0.0f);
    }
  }
}

// Exactly representable inputs come back exactly: a row that already is a Q8_0/Q4_0
// row quantizes to the same bytes.
TEST(QuantRoundTrip, RequantizingIsIdempotentForQ8_0AndQ4_0) {
  for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0}) {
    SCOPED_TRACE(std::string(type_name(type)));
    const int64_t n = 33 * 32;
    const auto x = gaussian(static_cast<size_t>(n), 99);
    std::vector<uint8_t> q(row_bytes(type, n)), q2(q.size());
    quantize_row(type, x.data(), q.data(), n);
    std::vector<float> y(static_cast<size_t>(n));
    dequantize_row(type, q.data(), y.data(), n);
    quantize_row(type, y.data(), q2.data(), n);
    EXPECT_EQ(q, q2);
  }
}

TEST(QuantRoundTrip, Deterministic) {
  for (TensorType type : test::supported_types()) {
    const int64_t n = 3 * 256;
    const auto x = gaussian(static_cast<size_t>(n), 5);
    std::vector<uint8_t> a(row_bytes(type, n)), b(a.size());
    quantize_row(type, x.data(), a.data(), n);
    quantize_row(type, x.data(), b.data(), n);
    EXPECT_EQ(a, b) << type_name(type);
  }
}

// ---- importance weighting --------------------------------------------------------------

const TensorType kKTypes[] = {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                              TensorType::Q6_K};

// Columns the importance matrix marks as important come back more accurately than
// without it, at the cost of the others: the weighted error drops.
TEST(QuantImportance, WeightedErrorDrops) {
  const int64_t n = 16 * 256;
  const auto x = gaussian(static_cast<size_t>(n), 11);
  SplitMix rng{12};
  std::vector<float> imp(static_cast<size_t>(n));
  for (auto& w : imp) w = rng.uniform() < 0.1f ? 100.0f : 1.0f;
  for (TensorType type : kKTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const double plain = test::relative_rmse(x, round_trip(type, x), imp.data());
    const double weighted = test::relative_rmse(x, round_trip(type, x, imp.data()), imp.data());
    EXPECT_LT(weighted, 0.95 * plain);
  }
}

// Weights of one everywhere are the unweighted problem; weights that are all unusable
// (zero, negative, NaN) fall back to it too.
TEST(QuantImportance, NeutralWeightsChangeNothing) {
  const int64_t n = 4 * 256;
  const auto x = gaussian(static_cast<size_t>(n), 13);
  std::vector<float> ones(static_cast<size_t>(n), 1.0f);
  std::vector<float> unusable(static_cast<size_t>(n));
  for (size_t i = 0; i < unusable.size(); ++i) {
    unusable[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? -1.0f : std::numeric_limits<float>::quiet_NaN();
  }
  for (TensorType type : test::supported_types()) {
    SCOPED_TRACE(std::string(type_name(type)));
    std::vector<uint8_t> plain(row_bytes(type, n)), with(plain.size());
    quantize_row(type, x.data(), plain.data(), n);
    quantize_row(type, x.data(), with.data(), n, ones.data());
    EXPECT_EQ(plain, with);
    quantize_row(type, x.data(), with.data(), n, unusable.data());
    EXPECT_EQ(plain, with);
  }
}

// ---- robustness --------------------------------------------------------------------------

// Any bytes decode without crashing or undefined behaviour: random scales include NaN,
// infinities and subnormals.
TEST(QuantRobustness, DequantizeArbitraryBytes) {
  SplitMix rng{31};
  for (TensorType type : test::supported_types()) {
    const auto& t = traits(type);
    const int64_t n = 64 * std::max<int64_t>(t.block_size, 32);
    std::vector<uint8_t> bytes(row_bytes(type, n));
    std::vector<float> y(static_cast<size_t>(n));
    for (int round = 0; round < 8; ++round) {
      for (auto& b : bytes) b = static_cast<uint8_t>(rng.next());
      if (round == 0) std::fill(bytes.begin(), bytes.end(), 0xFF);
      if (round == 1) std::fill(bytes.begin(), bytes.end(), 0x00);
      dequantize_row(type, bytes.data(), y.data(), n);
    }
  }
}

// Extreme and non-finite inputs quantize without crashing or undefined behaviour, and
// finite extremes still decode to finite values where the format can hold them.
TEST(QuantRobustness, QuantizeExtremeInputs) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float specials[] = {nan, inf, -inf, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                            1e-40f, -1e-45f, 1e30f, 0.0f, -0.0f};
  SplitMix rng{41};
  for (TensorType type : test::supported_types()) {
    SCOPED_TRACE(std::string(type_name(type)));
    const int64_t n = 4 * 256;
    for (int round = 0; round < 12; ++round) {
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = rng.gaussian();
      if (round < 10) {
        // sprinkle one kind of special value, sometimes as a whole block
        for (size_t i = 0; i < x.size(); ++i) {
          if (rng.uniform() < (round % 2 ? 0.02f : 0.5f)) x[i] = specials[round];
        }
      } else {
        for (auto& v : x) v *= round == 10 ? 1e-38f : 1e36f;  // subnormal-scale / huge rows
      }
      std::vector<float> imp(static_cast<size_t>(n));
      for (auto& w : imp) w = rng.uniform() < 0.1f ? specials[rng.next() % 10] : rng.uniform();
      std::vector<uint8_t> q(row_bytes(type, n));
      quantize_row(type, x.data(), q.data(), n);
      quantize_row(type, x.data(), q.data(), n, imp.data());
      std::vector<float> y(static_cast<size_t>(n));
      dequantize_row(type, q.data(), y.data(), n);
    }
  }
}

// Rows may sit at any byte offset (a tensor inside a mapped file): unaligned pointers
// give the same results as aligned ones.
TEST(QuantRobustness, UnalignedRows) {
  for (TensorType type : test::supported_types()) {
    SCOPED_TRACE(std::string(type_name(type)));
    const int64_t n = 2 * 256;
    const auto x = gaussian(static_cast<size_t>(n), 17);
    const size_t bytes = row_bytes(type, n);
    std::vector<uint8_t> aligned(bytes), shifted(bytes + 1);
    quantize_row(type, x.data(), aligned.data(), n);
    quantize_row(type, x.data(), shifted.data() + 1, n);
    EXPECT_TRUE(std::equal(aligned.begin(), aligned.end(), shifted.begin() + 1));
    std::vector<float> y1(static_cast<size_t>(n)), y2(static_cast<size_t>(n));
    dequantize_row(type, aligned.data(), y1.data(), n);
    dequantize_row(type, shifted.data() + 1, y2.data(), n);
    EXPECT_EQ(y1, y2);
  }
}

}  // namespace
}  // namespace frugal
