// The version and git commit this binary was built from (for --version, benchmark JSON,
// the server's system_fingerprint). Defined in a file generated at configure time, so a
// new commit recompiles that one file rather than every file that could see a macro.
#pragma once

namespace frugal {

const char* build_version();
const char* build_commit();

}  // namespace frugal
