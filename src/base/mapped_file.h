// A read-only memory-mapped file. Tensor views point straight into the mapping, so the
// file is never copied; the mapping lives as long as the MappedFile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace frugal {

class MappedFile {
 public:
  // Throws frugal::Error naming the path and the OS error when the file cannot be mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Hints that the whole file will be read soon (MADV_WILLNEED); harmless if refused.
  void prefetch() const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace frugal
