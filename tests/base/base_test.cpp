#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/half.h"
#include "base/memory.h"
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

TEST(ThreadPool, RunsEveryChunkOnceAndPropagatesErrors) {
  for (int n : {1, 2, 3, 8}) {
    ThreadPool pool(n);
    for (int rep = 0; rep < 200; ++rep) {
      const size_t chunks = 1 + static_cast<size_t>(rep % 37);
      std::vector<std::atomic<int>> hits(chunks);
      std::atomic<bool> thread_ok{true};
      pool.run_chunks(chunks, [&](size_t c, int t) {
        if (t < 0 || t >= n) thread_ok = false;
        ++hits[c];
      });
      for (auto& h : hits) EXPECT_EQ(h.load(), 1);
      EXPECT_TRUE(thread_ok.load());
    }
    std::vector<int> cover(1000, 0);
    pool.parallel_for(cover.size(), 7, [&](size_t b, size_t e) {
      EXPECT_EQ(b % 7, 0u);
      for (size_t i = b; i < e; ++i) ++cover[i];
    });
    for (int h : cover) EXPECT_EQ(h, 1);
    EXPECT_THROW(pool.run_chunks(5, [](size_t c, int) {
      if (c == 3) fail("boom");
    }), Error);
    // Still usable after an error.
    std::atomic<int> count{0};
    pool.run_chunks(9, [&](size_t, int) { ++count; });
    EXPECT_EQ(count.load(), 9);
  }
  EXPECT_THROW(ThreadPool(0), Error);
}

// A thread the OS keeps off the CPU must not hold the others up: the calling thread takes
// the chunks itself. Here one chunk blocks until all the others are done, which only
// terminates if the remaining chunks are claimed dynamically.
TEST(ThreadPool, OtherThreadsCoverASlowOne) {
  ThreadPool pool(2);
  std::atomic<int> done{0};
  pool.run_chunks(50, [&](size_t c, int) {
    if (c == 0) {
      while (done.load() < 49) std::this_thread::yield();
    }
    ++done;
  });
  EXPECT_EQ(done.load(), 50);
}

TEST(Memory, FormatsBytes) {
  EXPECT_EQ(format_bytes(12), "12 B");
  EXPECT_EQ(format_bytes(3 << 10), "3 KiB");
  EXPECT_EQ(format_bytes(uint64_t{5} << 20), "5.0 MiB");
  EXPECT_EQ(format_bytes(uint64_t{3} << 29), "1.50 GiB");
}

TEST(Memory, RefusesMoreThanIsAvailable) {
  const auto avail = available_memory();
  ASSERT_TRUE(avail) << "no MemAvailable in /proc/meminfo";
  EXPECT_GT(avail->bytes, 0u);
  EXPECT_FALSE(avail->source.empty());
  EXPECT_NO_THROW(require_memory(1 << 20, "a small buffer"));
  try {
    require_memory(uint64_t{1} << 62, "the thing", "a detail");
    FAIL() << "4 EiB was not refused";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("the thing needs 4294967296.00 GiB (a detail) but only "), std::string::npos) << m;
    EXPECT_NE(m.find(avail->source), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace frugal
