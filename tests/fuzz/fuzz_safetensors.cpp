// safetensors header reader: length prefix, JSON header, dtypes, shapes, offsets.
#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "format/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = frugal::SafetensorsFile::parse("fuzz.safetensors", data, size);
    (void)file;
  } catch (const frugal::Error&) {
  }
  return 0;
}
