// `frugal plan` as a user runs it: the worked example's shape, JSON, SVG, the catalog
// listing, and errors that name what was wrong.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/run_frugal.h"
#include "support/test_support.h"

namespace frugal {
namespace {

using Result = test::CliResult;

Result frugal_plan(const std::string& args) { return test::run_frugal("plan " + args, "plan-stderr.txt"); }

TEST(PlanCli, WorkedExampleAsJsonAndSvg) {
  const std::string svg = test::temp_dir() + "/plan.svg";
  const Result r = frugal_plan(
      "--preset qwen2.5-7b --type Q4_K_M --hardware h20,h100-sxm,ascend-910b,epyc-9654 --ctx 32768 "
      "--concurrency 50 --target-tokens-per-s 1000 --no-calibration --json --svg " + svg);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"]["kv_bytes_per_token"], 57344);
  ASSERT_EQ(j["hardware"].size(), 4u);
  for (const auto& h : j["hardware"]) {
    SCOPED_TRACE(h["name"].get<std::string>());
    EXPECT_GE(h["aggregate_tps_at_load"].get<double>(), 1000.0);
    EXPECT_GE(h["chips"].get<int>(), 1);
    EXPECT_FALSE(h["decode_curve"].empty());
  }
  EXPECT_EQ(test::read_file(svg).rfind("<svg", 0), 0u);
}

TEST(PlanCli, TextTableAndCatalogList) {
  Result r = frugal_plan("--preset llama3.2-1b --type Q8_0 --hardware rtx-4090,kunpeng-920 --no-calibration");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* s : {"rtx-4090", "kunpeng-920", "aggregate", "KV cache 32.0 KiB per token"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
  r = frugal_plan("--list");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* s : {"h100-sxm", "ascend-910b", "mi300x", "xeon-8480+", "local", "https://"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
}

TEST(PlanCli, ErrorsNameTheProblem) {
  Result r = frugal_plan("--preset qwen2.5-7b --hardware h2000");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown hardware 'h2000'"), std::string::npos) << r.err;
  r = frugal_plan("--preset qwen2.5-7b --type Q9_9 --hardware h20");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("Q9_9"), std::string::npos) << r.err;
  r = frugal_plan("--hardware h20");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("-m FILE"), std::string::npos) << r.err;
  r = frugal_plan("--preset qwen2.5-7b --hardware h20 --ctx 0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--ctx 0"), std::string::npos) << r.err;
  const std::string bad = test::temp_dir() + "/bad-catalog.json";
  test::write_file(bad, R"({"schema_version": 1, "classes": {}, "hardware": [{"name": "x", "display_name": "X",
    "class": "gpu", "source": "https://x"}]})");
  r = frugal_plan("--preset qwen2.5-7b --hardware x --catalog " + bad);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("hardware 'x'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'gpu'"), std::string::npos) << r.err;
}

// A GGUF file is described from its metadata and tensor table alone.
TEST(PlanCli, DescribesAGgufFile) {
  const Result r = frugal_plan("-m " + test::testdata("stories260K/stories260K.gguf") +
                               " --hardware l40s --ctx 256 --no-calibration --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"]["arch"], "llama");
  EXPECT_GT(j["model"]["n_params"].get<uint64_t>(), 200000u);
  EXPECT_TRUE(j["hardware"][0]["fits_one_chip"].get<bool>());
}

}  // namespace
}  // namespace frugal
