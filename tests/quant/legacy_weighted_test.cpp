// The importance-weighted search of the legacy formats (Q4_0, Q4_1, Q5_0, Q5_1): never a
// larger weighted error than ggml's reference rounding in any block, clearly smaller on
// skewed importance, and the reference bytes when the weights carry no information.
#include <gtest/gtest.h>

#include <cmath>

#include "quant/quant.h"
#include "quant/quant_test_util.h"

namespace frugal {
namespace {

using test::SplitMix;

const TensorType kLegacy[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1};

// Per-block error weighted as the search weights it: importance * sqrt(sigma^2 + x^2).
std::vector<double> block_errors(TensorType type, const std::vector<float>& x, const std::vector<float>& imp,
                                 const float* importance) {
  double sigma2 = 0;
  for (float v : x) sigma2 += static_cast<double>(v) * v;
  sigma2 /= static_cast<double>(x.size());
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_bytes(type, n));
  quantize_row(type, x.data(), q.data(), n, importance);
  std::vector<float> y(x.size());
  dequantize_row(type, q.data(), y.data(), n);
  std::vector<double> e(x.size() / 32, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = imp[i] * std::sqrt(sigma2 + static_cast<double>(x[i]) * x[i]);
    e[i / 32] += w * (x[i] - y[i]) * (x[i] - y[i]);
  }
  return e;
}

TEST(QuantLegacyWeighted, NeverWorseThanTheReferencePerBlock) {
  const int64_t n = 64 * 32;
  SplitMix rng{21};
  std::vector<float> x(static_cast<size_t>(n)), imp(x.size());
  for (auto& v : x) v = rng.gaussian() + (rng.uniform() < 0.05f ? 4.0f : 0.0f);  // some outliers
  for (auto& w : imp) w = rng.uniform() < 0.1f ? 50.0f : 0.5f + rng.uniform();
  for (TensorType type : kLegacy) {
    SCOPED_TRACE(std::string(type_name(type)));
    const auto ref = block_errors(type, x, imp, nullptr);
    const auto got = block_errors(type, x, imp, imp.data());
    double total_ref = 0, total_got = 0;
    for (size_t b = 0; b < ref.size(); ++b) {
      EXPECT_LE(got[b], ref[b] * (1 + 1e-6)) << "block " << b;
      total_ref += ref[b];
      total_got += got[b];
    }
    EXPECT_LT(total_got, 0.9 * total_ref);
  }
}

TEST(QuantLegacyWeighted, UninformativeWeightsGiveTheReferenceBytes) {
  const int64_t n = 8 * 32;
  SplitMix rng{22};
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = rng.gaussian();
  const std::vector<float> same(x.size(), 3.0f), zeros(x.size(), 0.0f);
  for (TensorType type : kLegacy) {
    SCOPED_TRACE(std::string(type_name(type)));
    std::vector<uint8_t> plain(row_bytes(type, n)), with(plain.size());
    quantize_row(type, x.data(), plain.data(), n);
    quantize_row(type, x.data(), with.data(), n, same.data());
    EXPECT_EQ(plain, with);
    quantize_row(type, x.data(), with.data(), n, zeros.data());
    EXPECT_EQ(plain, with);
  }
}

}  // namespace
}  // namespace frugal
