// GGUF v2/v3: reader (mmap, zero-copy tensor views, every length and offset checked
// against the file before use) and writer (aligned, streaming, atomic temp+rename).
// Layout facts from the public GGUF specification (ggml docs/gguf.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "base/tensor_type.h"

namespace frugal {

class MappedFile;

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view value_type_name(GgufValueType type);

// One metadata value. Scalars are held widened (unsigned -> uint64, signed -> int64,
// floats -> double, all exact) next to their on-disk type, so write(read(x)) == x.
struct GgufValue {
  using Array = std::vector<GgufValue>;
  GgufValueType type = GgufValueType::UINT8;
  GgufValueType element_type = GgufValueType::UINT8;  // meaningful when type == ARRAY
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> data = uint64_t{0};

  static GgufValue u8(uint8_t v) { return {GgufValueType::UINT8, {}, uint64_t{v}}; }
  static GgufValue i8(int8_t v) { return {GgufValueType::INT8, {}, int64_t{v}}; }
  static GgufValue u16(uint16_t v) { return {GgufValueType::UINT16, {}, uint64_t{v}}; }
  static GgufValue i16(int16_t v) { return {GgufValueType::INT16, {}, int64_t{v}}; }
  static GgufValue u32(uint32_t v) { return {GgufValueType::UINT32, {}, uint64_t{v}}; }
  static GgufValue i32(int32_t v) { return {GgufValueType::INT32, {}, int64_t{v}}; }
  static GgufValue u64(uint64_t v) { return {GgufValueType::UINT64, {}, v}; }
  static GgufValue i64(int64_t v) { return {GgufValueType::INT64, {}, v}; }
  static GgufValue f32(float v) { return {GgufValueType::FLOAT32, {}, double{v}}; }
  static GgufValue f64(double v) { return {GgufValueType::FLOAT64, {}, v}; }
  static GgufValue boolean(bool v) { return {GgufValueType::BOOL, {}, v}; }
  static GgufValue str(std::string v) { return {GgufValueType::STRING, {}, std::move(v)}; }
  static GgufValue array(GgufValueType element_type, Array items) {
    return {GgufValueType::ARRAY, element_type, std::move(items)};
  }
  static GgufValue string_array(const std::vector<std::string>& items);
  static GgufValue f32_array(const std::vector<float>& items);
  static GgufValue i32_array(const std::vector<int32_t>& items);

  bool is_integer() const;
  bool is_float() const { return type == GgufValueType::FLOAT32 || type == GgufValueType::FLOAT64; }
  const Array& items() const { return std::get<Array>(data); }
  const std::string& string() const { return std::get<std::string>(data); }
  // Integer value of any integer type (as int64; UINT64 above INT64_MAX is refused).
  int64_t as_int() const;
  double as_float() const;  // float or integer types
  bool operator==(const GgufValue& other) const = default;
};

// Ordered key/value metadata with typed getters. A getter returns nullopt when the key is
// absent and throws frugal::Error naming the source, the key, and the type found vs
// expected when present with the wrong type.
class GgufMetadata {
 public:
  explicit GgufMetadata(std::string source = "gguf") : source_(std::move(source)) {}

  const GgufValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  void set(const std::string& key, GgufValue value);
  void erase(std::string_view key);
  const std::vector<std::pair<std::string, GgufValue>>& entries() const { return entries_; }
  const std::string& source() const { return source_; }

  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  // The items of an array whose elements have the given type (nullptr when absent).
  const GgufValue::Array* get_array(std::string_view key, GgufValueType element_type) const;
  std::vector<std::string> get_string_array(std::string_view key) const;  // empty if absent
  std::vector<float> get_f32_array(std::string_view key) const;
  std::vector<int32_t> get_i32_array(std::string_view key) const;  // any integer elements

  bool operator==(const GgufMetadata& other) const { return entries_ == other.entries_; }

 private:
  [[noreturn]] void wrong_type(std::string_view key, const GgufValue& v, std::string_view expected) const;
  std::string source_;
  std::vector<std::pair<std::string, GgufValue>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

constexpr int kGgufMaxDims = 4;

struct GgufTensor {
  std::string name;
  TensorType type = TensorType::F32;
  int n_dims = 0;
  std::array<int64_t, kGgufMaxDims> ne{1, 1, 1, 1};  // ne[0] is the contiguous row length
  uint64_t offset = 0;   // from the start of the data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapped file (reader) or nullptr

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "[4096, 32000]"
};

class GgufFile {
 public:
  // Maps and parses a file. Every failure is a frugal::Error naming the file, the field
  // and the byte offset where the file stopped making sense.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parses bytes owned by the caller (which must outlive the GgufFile); `name` is used in
  // error messages. Used by tests and fuzzers.
  static std::unique_ptr<GgufFile> parse(std::string name, const uint8_t* data, size_t size);

  ~GgufFile();
  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const { return size_; }
  const GgufMetadata& metadata() const { return metadata_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;

 private:
  GgufFile(std::string path, std::unique_ptr<MappedFile> file, const uint8_t* data, size_t size);
  void parse_all();

  std::string path_;
  std::unique_ptr<MappedFile> file_;
  const uint8_t* data_;
  size_t size_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  GgufMetadata metadata_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

// Writes GGUF v3. Tensor bytes come from a borrowed buffer or from a producer called at
// write time, so files larger than memory can be written one tensor at a time.
class GgufWriter {
 public:
  using Producer = std::function<void(uint8_t* dst, size_t nbytes)>;
  using Progress = std::function<void(size_t tensors_done, size_t tensors_total, uint64_t bytes_done,
                                      uint64_t bytes_total)>;

  GgufMetadata& metadata() { return metadata_; }
  void set(const std::string& key, GgufValue value) { metadata_.set(key, std::move(value)); }
  // ne[0] is the row length; it must be a multiple of the type's block size.
  void add_tensor(const std::string& name, TensorType type, const std::vector<int64_t>& ne,
                  const void* data, size_t nbytes);
  void add_tensor(const std::string& name, TensorType type, const std::vector<int64_t>& ne,
                  Producer producer);
  size_t tensor_count() const { return tensors_.size(); }

  // Writes to `path` through a temporary file in the same directory and a rename, so a
  // failure never leaves a half-written file behind.
  void write(const std::string& path, const Progress& progress = nullptr) const;
  // The whole file in memory (tests, small files).
  std::vector<uint8_t> to_bytes() const;

 private:
  struct Entry {
    GgufTensor info;
    const void* data = nullptr;
    Producer producer;
  };
  void add(const std::string& name, TensorType type, const std::vector<int64_t>& ne, Entry entry);
  std::vector<uint8_t> header_bytes(std::vector<uint64_t>& offsets, uint64_t& total) const;
  template <typename Sink>
  void emit(Sink& sink, const Progress& progress) const;

  GgufMetadata metadata_{"gguf writer"};
  std::vector<Entry> tensors_;
  std::unordered_map<std::string, size_t> names_;
};

}  // namespace frugal
