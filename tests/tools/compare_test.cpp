// bench/compare end to end, with a stand-in for llama-bench (a script that prints
// llama-bench's JSON), so the script is exercised on every test run without llama.cpp.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "support/test_support.h"

namespace frugal {
namespace {

// Answers like `llama-bench -o json -r 1`: one object per test, 100 t/s for pp, 10 for tg.
const char* kFakeLlamaBench = R"(#!/bin/sh
p=512; n=128
while [ $# -gt 0 ]; do
  case "$1" in -p) p=$2; shift;; -n) n=$2; shift;; esac
  shift
done
echo "$@" > /dev/null
echo '['
if [ "$p" -gt 0 ]; then
  echo '{"build_commit":"fake123","n_prompt":'$p',"n_gen":0,"avg_ts":100.0,"samples_ts":[100.0]},'
fi
echo '{"build_commit":"fake123","n_prompt":0,"n_gen":'$n',"avg_ts":10.0,"samples_ts":[10.0]}'
echo ']'
)";

TEST(Compare, AlternatesAndPrintsTheTable) {
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  const std::string dir = test::temp_dir();
  const std::string fake = dir + "/llama-bench";
  std::ofstream(fake) << kFakeLlamaBench;
  ::chmod(fake.c_str(), 0755);
  const std::string model = test::testdata("stories260K/stories260K.gguf");
  const std::string cmd = "LLAMA_BENCH=" + fake + " node " + std::string(FRUGAL_SOURCE_DIR) +
                          "/bench/compare --frugal " + std::string(FRUGAL_BINARY_DIR) +
                          "/frugal -t 1 -p 8 -n 4 --memory-mib 16 --json " + dir + "/compare.json " + model +
                          " 2>/dev/null";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_NE(out.find("vs llama.cpp fake123"), std::string::npos) << out;
  EXPECT_NE(out.find("median of 5 alternating rounds"), std::string::npos) << out;
  EXPECT_NE(out.find("| stories260K.gguf | "), std::string::npos) << out;
  EXPECT_NE(out.find("| pp8 | 1 | "), std::string::npos) << out;
  EXPECT_NE(out.find("| tg4 | 1 | "), std::string::npos) << out;
  EXPECT_NE(out.find("| 100.00 |"), std::string::npos) << out;  // the fake's pp median
  EXPECT_NE(out.find("| 10.00 |"), std::string::npos) << out;   // the fake's tg median
  EXPECT_FALSE(test::read_file(dir + "/compare.json").empty());
}

TEST(Compare, RefusesWithoutLlamaBench) {
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  const std::string cmd = "env -u LLAMA_BENCH node " + std::string(FRUGAL_SOURCE_DIR) + "/bench/compare --frugal " +
                          std::string(FRUGAL_BINARY_DIR) + "/frugal " +
                          test::testdata("stories260K/stories260K.gguf") + " > /dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

}  // namespace
}  // namespace frugal
