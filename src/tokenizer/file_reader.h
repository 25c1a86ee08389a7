// Reading tokenizer files whole, gzip- or xz-compressed ones included (big tokenizer.json
// files are often shipped as .json.gz / .json.xz).
#pragma once

#include <string>

namespace frugal {

// The contents of `path`, decompressed when its name ends in .gz or .xz. Throws
// frugal::Error naming the file for a missing, unreadable or corrupt file.
std::string read_tokenizer_file(const std::string& path);

}  // namespace frugal
