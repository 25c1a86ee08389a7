// safetensors (Hugging Face weight files): an 8-byte little-endian header length, a JSON
// header mapping tensor names to {dtype, shape, data_offsets} (plus an optional
// "__metadata__" object of strings), then the tensor bytes. Nothing in the header is
// trusted: every shape, offset and byte count is checked against the file before a view
// is handed out, and errors name the file, the tensor, the field and the value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace frugal {

class MappedFile;

enum class SafetensorsDtype { BOOL, U8, I8, F8_E4M3, F8_E5M2, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64 };

std::string_view dtype_name(SafetensorsDtype dtype);
std::optional<SafetensorsDtype> parse_dtype(std::string_view name);
size_t dtype_size(SafetensorsDtype dtype);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::F32;
  std::vector<int64_t> shape;     // outermost first (row-major, as PyTorch)
  uint64_t begin = 0, end = 0;    // data_offsets, relative to the data section
  const uint8_t* data = nullptr;  // begin's byte in the file
  size_t nbytes() const { return static_cast<size_t>(end - begin); }
  int64_t n_elements() const;
};

class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  // Parses bytes owned by the caller (which must outlive the result); `name` appears in
  // errors. For tests and fuzzers.
  static std::unique_ptr<SafetensorsFile> parse(std::string name, const uint8_t* data, size_t size);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  size_t header_size() const { return header_size_; }   // the JSON's length
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // in offset order
  const SafetensorsTensor* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile(std::string path, std::unique_ptr<MappedFile> file, const uint8_t* data, size_t size);
  void parse_all();

  std::string path_;
  std::unique_ptr<MappedFile> file_;
  const uint8_t* data_;
  size_t size_;
  size_t header_size_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Element i of a numeric tensor as double (exact for every dtype but 64-bit integers
// beyond 2^53). Throws for an index outside the tensor.
double element_as_double(const SafetensorsTensor& t, int64_t i);
// Converts `n` elements starting at element `first` of an F32/F16/BF16/F64 tensor to
// float; other dtypes are refused with an error naming the tensor.
void read_floats(const SafetensorsTensor& t, int64_t first, int64_t n, float* dst);

}  // namespace frugal
