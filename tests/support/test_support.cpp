#include "support/test_support.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace frugal::test {

std::string testdata_dir() {
  if (const char* env = std::getenv("FRUGAL_TESTDATA"); env != nullptr && *env != '\0') return env;
  return FRUGAL_TESTDATA_DIR;
}

std::string testdata(const std::string& relative) {
  std::string path = testdata_dir() + "/" + relative;
  if (!std::filesystem::exists(path)) throw std::runtime_error("test data missing: " + path);
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string e2e_dir() {
  if (const char* env = std::getenv("FRUGAL_E2E_DIR"); env != nullptr && *env != '\0') return env;
  return FRUGAL_SOURCE_DIR "/tests/e2e";
}

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "frugal-test-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir() {
  static TempDir dir;
  return dir.path;
}

}  // namespace frugal::test
