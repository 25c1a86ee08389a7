// The `frugal` command line as a user runs it.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_frugal.h"
#include "support/test_support.h"

namespace frugal {
namespace {

using Result = test::CliResult;

Result frugal(const std::string& args) { return test::run_frugal(args); }

std::string stories() { return test::testdata("stories260K/stories260K.gguf"); }

const nlohmann::json& case0() {
  static const nlohmann::json j =
      nlohmann::json::parse(test::read_file(test::testdata("stories260K/reference.json")))["cases"][0];
  return j;
}

TEST(Cli, HelpListsCommands) {
  Result r = frugal("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* c : {"run", "tokenize", "info"}) EXPECT_NE(r.out.find(c), std::string::npos) << c;
  r = frugal("run --help");
  EXPECT_EQ(r.status, 0);
  for (const char* o : {"--temp", "--top-k", "--top-p", "--min-p", "--seed", "--json", "--top-logprobs", "-t"}) {
    EXPECT_NE(r.out.find(o), std::string::npos) << o;
  }
  EXPECT_EQ(frugal("").status == 0, false);  // a command is required
}

TEST(Cli, RunStreamsGreedyTextAndSummarises) {
  Result r = frugal("run -m " + stories() + " -p 'Once upon a time' -n 64 --temp 0");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, case0()["generated_text"].get<std::string>() + "\n");
  EXPECT_NE(r.err.find("prompt: 5 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generated: 64 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
}

TEST(Cli, RunJsonWithTopLogprobs) {
  Result r = frugal("run -m " + stories() + " -p 'Once upon a time' -n 64 --temp 0 --json --top-logprobs 3");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["prompt_ids"], case0()["prompt_tokens"]);
  EXPECT_EQ(j["generated_ids"], case0()["generated_tokens"]);
  EXPECT_EQ(j["text"], case0()["generated_text"]);
  EXPECT_EQ(j["finish_reason"], "length");
  ASSERT_EQ(j["top_logprobs"].size(), 64u);
  for (size_t i = 0; i < 64; ++i) {
    const auto& step = j["top_logprobs"][i];
    ASSERT_EQ(step.size(), 3u);
    EXPECT_EQ(step[0]["id"], j["generated_ids"][i]);
    EXPECT_LE(step[0]["logprob"].get<double>(), 0.0);
    EXPECT_GE(step[0]["logprob"].get<double>(), step[1]["logprob"].get<double>());
  }
  EXPECT_TRUE(j["timings"].contains("prompt_tokens_per_s"));
  EXPECT_TRUE(j["timings"].contains("generate_tokens_per_s"));
}

TEST(Cli, SeedMakesSamplingReproducible) {
  const std::string base = "run -m " + stories() + " -p 'The cat' -n 40 --temp 1.0 --json --seed ";
  const auto a = nlohmann::json::parse(frugal(base + "11").out);
  const auto b = nlohmann::json::parse(frugal(base + "11").out);
  const auto c = nlohmann::json::parse(frugal(base + "12").out);
  EXPECT_EQ(a["generated_ids"], b["generated_ids"]);
  EXPECT_NE(a["generated_ids"], c["generated_ids"]);
  EXPECT_EQ(a["seed"], 11);
}

TEST(Cli, StopStringEndsGeneration) {
  Result r = frugal("run -m " + stories() + " -p 'Once upon a time' -n 64 --temp 0 --json --stop Lily");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["text"], ", there was a little girl named ");
  EXPECT_EQ(j["finish_reason"], "stop");
}

TEST(Cli, Tokenize) {
  Result r = frugal("tokenize -m " + stories() + " -p 'Once upon a time'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), case0()["prompt_tokens"]);
  r = frugal("tokenize -m " + stories() + " -p 'Once upon a time' --no-bos");
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json({403, 407, 261, 378}));
  const std::string file = test::temp_dir() + "/prompt.txt";
  std::ofstream(file) << "Once upon a time";
  r = frugal("tokenize -m " + stories() + " -f " + file);
  EXPECT_EQ(nlohmann::json::parse(r.out), case0()["prompt_tokens"]);
  // parse_special: "<s>" in the text is the BOS token unless --no-parse-special.
  r = frugal("tokenize -m " + stories() + " -p '<s>' --no-bos");
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json({1}));
  r = frugal("tokenize -m " + stories() + " -p '<s>' --no-bos --no-parse-special");
  EXPECT_NE(nlohmann::json::parse(r.out), nlohmann::json({1}));
}

TEST(Cli, Info) {
  Result r = frugal("info -m " + stories());
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* s : {"general.architecture", "\"llama\"", "token_embd.weight", "F32", "[64, 512]", "tensors"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
  r = frugal("info --cpu");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("kernels:"), std::string::npos);
}

TEST(Cli, ErrorsAreClearAndExitNonZero) {
  Result r = frugal("run -m /nonexistent/model.gguf -p hi");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf: cannot open"), std::string::npos) << r.err;
  const std::string junk = test::temp_dir() + "/junk.gguf";
  std::ofstream(junk) << "not a model at all";
  r = frugal("info -m " + junk);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not a GGUF file"), std::string::npos) << r.err;
  r = frugal("run -m " + stories() + " -p hi --cache-type q9");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--cache-type 'q9'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("expected f16, f32 or q8_0"), std::string::npos) << r.err;
  // stories260K's heads are 8 wide: a q8_0 cache (32-value blocks) is refused, saying why.
  r = frugal("run -m " + stories() + " -p hi --cache-type q8_0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("head dimension is 8"), std::string::npos) << r.err;
  // --mlock locks what is mapped, or warns why it cannot and still runs.
  r = frugal("run -m " + stories() + " -p hi -n 2 --mlock");
  EXPECT_EQ(r.status, 0) << r.err;
  if (r.err.find("warning: --mlock") != std::string::npos) {
    EXPECT_NE(r.err.find("ulimit -l"), std::string::npos) << r.err;
  }
  r = frugal("run -m " + stories() + " -p hi --top-p 0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("top_p"), std::string::npos) << r.err;
  r = frugal("run -m " + stories() + " -p hi -t 0");
  EXPECT_EQ(r.status, 0) << r.err;  // 0 threads = all cores
  r = frugal("run -m " + stories() + " -p hi -t -3");
  EXPECT_EQ(r.status, 1);
}

// A load the machine cannot hold is refused up front with the numbers (here a KV cache of
// 10^9 positions: 596 GiB for stories260K), not left to the OOM killer.
TEST(Cli, RefusesAKvCacheLargerThanMemory) {
  Result r = frugal("serve -m " + stories() + " --port 0 --kv-cells 1000000000");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("the KV cache needs 596.05 GiB (1000000000 positions x 5 layers x 2 x 32 F16 values)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("is available ("), std::string::npos) << r.err;
  r = frugal("serve -m " + stories() + " --max-tokens -1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--max-tokens -1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace frugal
