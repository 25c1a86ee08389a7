// GGUF reader: header, metadata (every value type, nested arrays), tensor table and data
// bounds. Any input must either parse or throw frugal::Error; sanitizers catch the rest.
#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "format/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = frugal::GgufFile::parse("fuzz.gguf", data, size);
    // Touch what a loader reads: every key and every tensor's extent.
    size_t total = 0;
    for (const auto& [key, value] : file->metadata().entries()) total += key.size();
    for (const auto& t : file->tensors()) total += t.name.size();
    (void)total;
  } catch (const frugal::Error&) {
  }
  return 0;
}
