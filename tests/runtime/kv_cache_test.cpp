#include <gtest/gtest.h>

#include <set>

#include "backend/backend.h"
#include "base/error.h"
#include "model/config.h"
#include "runtime/kv_cache.h"

namespace frugal {
namespace {

ModelConfig tiny() {
  ModelConfig c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.head_dim = 8;
  c.head_dim_v = 8;
  return c;
}

TEST(KvCache, BlocksAreHandedOutAndReturned) {
  auto backend = make_cpu_backend(1);
  KvCache cache(*backend, tiny(), 64, TensorType::F32, 16);
  EXPECT_EQ(cache.n_blocks(), 4);
  const int32_t a = cache.new_sequence();
  const int32_t b = cache.new_sequence();
  ASSERT_TRUE(cache.grow(a, 20));  // 2 blocks
  ASSERT_TRUE(cache.grow(b, 16));  // 1 block
  EXPECT_EQ(cache.used_blocks(), 3);
  EXPECT_FALSE(cache.grow(b, 17));  // would need 2 more
  EXPECT_EQ(cache.length(b), 16);    // unchanged on failure
  // Cells of different sequences never collide.
  std::set<int32_t> cells;
  for (int32_t p = 0; p < 20; ++p) cells.insert(cache.cell(a, p));
  for (int32_t p = 0; p < 16; ++p) cells.insert(cache.cell(b, p));
  EXPECT_EQ(cells.size(), 36u);
  cache.truncate(a, 10);
  EXPECT_EQ(cache.used_blocks(), 2);
  cache.free_sequence(a);
  cache.free_sequence(b);
  EXPECT_EQ(cache.available_blocks(), 4);
  EXPECT_THROW((void)cache.length(a), Error);
  EXPECT_THROW((void)cache.cell(b, 0), Error);
}

TEST(KvCache, PositionsOutsideTheSequenceAreRefused) {
  auto backend = make_cpu_backend(1);
  KvCache cache(*backend, tiny(), 32, TensorType::F16);
  const int32_t s = cache.new_sequence();
  ASSERT_TRUE(cache.grow(s, 5));
  EXPECT_THROW((void)cache.cell(s, 5), Error);
  EXPECT_THROW(cache.truncate(s, 6), Error);
  EXPECT_THROW(KvCache(*backend, tiny(), 32, TensorType::Q4_K), Error);
}

}  // namespace
}  // namespace frugal
