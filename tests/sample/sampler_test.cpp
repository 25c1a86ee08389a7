#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "base/error.h"
#include "sample/sampler.h"

namespace frugal {
namespace {

SamplerConfig plain(float temperature) {
  SamplerConfig c;
  c.temperature = temperature;
  c.top_k = 0;
  c.top_p = 1.0f;
  c.min_p = 0.0f;
  return c;
}

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
  Sampler s(plain(0.0f), 4);
  std::vector<float> logits = {1.0f, 3.0f, 3.0f, -2.0f};
  EXPECT_EQ(s.sample(logits), 1);
}

// The lane-wise argmax against the one-index loop it replaces: ties (few distinct values),
// NaNs and infinities anywhere, every length around the lane width and a vocabulary's.
TEST(Sampler, ArgmaxMatchesPlainLoop) {
  const auto plain_argmax = [](const std::vector<float>& v) {
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i) {
      if (v[i] > v[best]) best = i;
    }
    return best;
  };
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> small(0, 6);
  const float specials[] = {std::nanf(""), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()};
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 70; ++n) sizes.push_back(n);
  sizes.push_back(128256);
  for (const size_t n : sizes) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> v(n);
      for (auto& x : v) x = static_cast<float>(small(rng));
      if (n > 0 && trial % 2 == 1) {
        for (int k = 0; k < 3; ++k) v[static_cast<size_t>(rng()) % n] = specials[(trial / 2 + k) % 3];
      }
      if (n > 0 && trial == 4) v[0] = std::nanf("");
      ASSERT_EQ(argmax_first(v), plain_argmax(v)) << "n=" << n << " trial=" << trial;
    }
  }
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i));
  SamplerConfig c = plain(1.0f);
  c.seed = 1234;
  Sampler a(c, 50), b(c, 50);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 100; ++i) {
    ta.push_back(a.sample(logits));
    tb.push_back(b.sample(logits));
  }
  EXPECT_EQ(ta, tb);
  c.seed = 99;
  Sampler d(c, 50);
  std::vector<int32_t> td;
  for (int i = 0; i < 100; ++i) td.push_back(d.sample(logits));
  EXPECT_NE(ta, td);
}

TEST(Sampler, DrawsFollowTheDistribution) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplerConfig c = plain(1.0f);
  c.seed = 5;
  Sampler s(c, 3);
  std::map<int32_t, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits)];
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(counts[1] / double(n), 0.3, 0.02);
  EXPECT_NEAR(counts[2] / double(n), 0.2, 0.02);
}

TEST(Sampler, TopKTopPMinPRestrictCandidates) {
  std::vector<float> logits = {std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)};
  auto seen = [&](SamplerConfig c) {
    std::map<int32_t, int> counts;
    Sampler s(c, 4);
    for (int i = 0; i < 4000; ++i) ++counts[s.sample(logits)];
    return counts;
  };
  SamplerConfig k = plain(1.0f);
  k.top_k = 2;
  auto ck = seen(k);
  EXPECT_EQ(ck.size(), 2u);
  EXPECT_TRUE(ck.count(0) && ck.count(1));
  SamplerConfig p = plain(1.0f);
  p.top_p = 0.65f;  // 0.4 + 0.3 reaches it
  EXPECT_EQ(seen(p).size(), 2u);
  SamplerConfig m = plain(1.0f);
  m.min_p = 0.6f;  // keeps p >= 0.24
  EXPECT_EQ(seen(m).size(), 2u);
  SamplerConfig low = plain(0.05f);  // very low temperature is nearly greedy
  auto cl = seen(low);
  EXPECT_GT(cl[0], 3900);
}

TEST(Sampler, PenaltiesDiscourageRepeats) {
  std::vector<float> logits = {2.0f, 1.9f, -1.0f};
  SamplerConfig c = plain(0.0f);
  c.repeat_penalty = 1.5f;  // 2.0 -> 1.33 < 1.9
  Sampler s(c, 3);
  s.accept(0);
  EXPECT_EQ(s.sample(logits), 1);

  SamplerConfig f = plain(0.0f);
  f.frequency_penalty = 0.2f;
  Sampler sf(f, 3);
  sf.accept(0);
  EXPECT_EQ(sf.sample(logits), 1);  // 2.0 - 0.2 < 1.9

  SamplerConfig pr = plain(0.0f);
  pr.presence_penalty = 0.05f;
  Sampler sp(pr, 3);
  sp.accept(0);
  EXPECT_EQ(sp.sample(logits), 0);  // 1.95 > 1.9
  sp.accept(0);
  sp.accept(1);
  EXPECT_EQ(sp.sample(logits), 0);  // presence counts once: 1.95 vs 1.85

  // Penalties only look back repeat_last_n tokens.
  SamplerConfig w = plain(0.0f);
  w.repeat_penalty = 1.5f;
  w.repeat_last_n = 2;
  Sampler sw(w, 3);
  sw.accept(0);
  sw.accept(2);
  sw.accept(2);
  EXPECT_EQ(sw.sample(logits), 0);
}

TEST(Sampler, RejectsImpossibleOptions) {
  SamplerConfig c;
  c.top_p = 0.0f;
  EXPECT_THROW(Sampler(c, 10), Error);
  c = SamplerConfig{};
  c.temperature = NAN;
  EXPECT_THROW(Sampler(c, 10), Error);
  c = SamplerConfig{};
  c.repeat_penalty = 0.0f;
  EXPECT_THROW(Sampler(c, 10), Error);
  Sampler ok(SamplerConfig{}, 10);
  std::vector<float> wrong(9);
  EXPECT_THROW(ok.sample(wrong), Error);
}

TEST(Sampler, TopLogprobsAreLogSoftmax) {
  std::vector<float> logits = {0.0f, std::log(3.0f), -100.0f};
  const auto top = top_logprobs(logits, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].id, 1);
  EXPECT_NEAR(top[0].logprob, std::log(0.75f), 1e-5f);
  EXPECT_EQ(top[1].id, 0);
  EXPECT_NEAR(top[1].logprob, std::log(0.25f), 1e-5f);
}

}  // namespace
}  // namespace frugal
