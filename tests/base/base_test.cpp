#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/half.h"
#include "base/tensor_type.h"
#include "base/thread_pool.h"

namespace frugal {
namespace {

TEST(Half, Fp16RoundTripsEveryValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(f))));
    } else {
      EXPECT_EQ(fp32_to_fp16(f), h) << h;
    }
  }
}

TEST(Half, Fp16RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(1e6f), 0x7c00);  // overflow to inf
  EXPECT_EQ(fp32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);  // halfway: even stays
  EXPECT_EQ(fp32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);  // halfway: rounds up to even
  EXPECT_EQ(fp32_to_fp16(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_FLOAT_EQ(fp16_to_fp32(0x0001), 5.9604645e-8f);
}

TEST(Half, Bf16) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_FLOAT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(fp32_to_bf16(bits_float(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(fp32_to_bf16(bits_float(0x3f818000u)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(TensorTypes, TraitsAndNames) {
  EXPECT_EQ(traits(TensorType::Q4_K).block_bytes, 144u);
  EXPECT_EQ(traits(TensorType::Q6_K).block_size, 256);
  EXPECT_EQ(row_bytes(TensorType::Q8_0, 64), 68u);
  EXPECT_EQ(parse_tensor_type("q4_k"), TensorType::Q4_K);
  EXPECT_FALSE(parse_tensor_type("Q4_X").has_value());
  EXPECT_FALSE(tensor_type_traits(4).has_value());  // removed Q4_2
  EXPECT_EQ(type_name(TensorType::IQ2_XXS), "IQ2_XXS");
}

TEST(ThreadPool, RunsEveryThreadOnceAndPropagatesErrors) {
  for (int n : {1, 2, 3, 8}) {
    ThreadPool pool(n);
    for (int rep = 0; rep < 200; ++rep) {
      std::atomic<int> mask{0};
      pool.run([&](int t, int nt) {
        EXPECT_EQ(nt, n);
        mask.fetch_or(1 << t);
      });
      EXPECT_EQ(mask.load(), (1 << n) - 1);
    }
    std::vector<int> hits(1000, 0);
    pool.parallel_for(hits.size(), 7, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) ++hits[i];
    });
    for (int h : hits) EXPECT_EQ(h, 1);
    EXPECT_THROW(pool.run([](int t, int) {
      if (t == 0) fail("boom");
    }), Error);
    // Still usable after an error.
    std::atomic<int> count{0};
    pool.run([&](int, int) { ++count; });
    EXPECT_EQ(count.load(), n);
  }
  EXPECT_THROW(ThreadPool(0), Error);
}

}  // namespace
}  // namespace frugal
