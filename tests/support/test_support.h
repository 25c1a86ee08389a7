// Helpers shared by the unit tests: where the shared test data lives, reading files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace frugal::test {

// ../shared/testdata (or $FRUGAL_TESTDATA). Tests that need it fail loudly when it is
// missing rather than skipping silently.
std::string testdata_dir();
std::string testdata(const std::string& relative);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& contents);
// tests/e2e in the source tree (node scripts and their node_modules), or $FRUGAL_E2E_DIR.
std::string e2e_dir();
// A fresh temporary directory for this test process (removed at exit).
std::string temp_dir();

}  // namespace frugal::test
