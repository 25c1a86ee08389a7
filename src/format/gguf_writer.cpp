#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "format/gguf.h"

namespace frugal {

namespace {

constexpr uint32_t kVersion = 3;

class ByteSink {
 public:
  // resize + memcpy rather than insert(): GCC 12 reports a false stringop-overflow there.
  void raw(const void* p, size_t n) {
    if (n == 0) return;
    const size_t at = bytes.size();
    bytes.resize(at + n);
    std::memcpy(bytes.data() + at, p, n);
  }
  template <typename T>
  void put(T v) { raw(&v, sizeof(T)); }
  void string(const std::string& s) {
    put<uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  std::vector<uint8_t> bytes;
};

void put_value(ByteSink& out, const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::UINT8: out.put<uint8_t>(static_cast<uint8_t>(std::get<uint64_t>(v.data))); break;
    case GgufValueType::INT8: out.put<int8_t>(static_cast<int8_t>(std::get<int64_t>(v.data))); break;
    case GgufValueType::UINT16: out.put<uint16_t>(static_cast<uint16_t>(std::get<uint64_t>(v.data))); break;
    case GgufValueType::INT16: out.put<int16_t>(static_cast<int16_t>(std::get<int64_t>(v.data))); break;
    case GgufValueType::UINT32: out.put<uint32_t>(static_cast<uint32_t>(std::get<uint64_t>(v.data))); break;
    case GgufValueType::INT32: out.put<int32_t>(static_cast<int32_t>(std::get<int64_t>(v.data))); break;
    case GgufValueType::FLOAT32: out.put<float>(static_cast<float>(std::get<double>(v.data))); break;
    case GgufValueType::UINT64: out.put<uint64_t>(std::get<uint64_t>(v.data)); break;
    case GgufValueType::INT64: out.put<int64_t>(std::get<int64_t>(v.data)); break;
    case GgufValueType::FLOAT64: out.put<double>(std::get<double>(v.data)); break;
    case GgufValueType::BOOL: out.put<uint8_t>(std::get<bool>(v.data) ? 1 : 0); break;
    case GgufValueType::STRING: out.string(v.string()); break;
    case GgufValueType::ARRAY:
      out.put<uint32_t>(static_cast<uint32_t>(v.element_type));
      out.put<uint64_t>(v.items().size());
      for (const auto& item : v.items()) {
        if (item.type != v.element_type) {
          fail("gguf writer: array element of type {} in an array of {}", value_type_name(item.type),
               value_type_name(v.element_type));
        }
        put_value(out, item);
      }
      break;
  }
}

size_t file_alignment(const GgufMetadata& md) {
  const auto a = md.get_int("general.alignment");
  if (!a) return 32;
  if (*a <= 0 || (*a & (*a - 1)) != 0) fail("gguf writer: general.alignment {} is not a power of two", *a);
  return static_cast<size_t>(*a);
}

uint64_t pad_to(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

class FileSink {
 public:
  FileSink(const std::string& path) : path_(path) {
    file_ = std::fopen(path.c_str(), "wb");
    if (file_ == nullptr) fail("{}: cannot create: {}", path, std::strerror(errno));
  }
  ~FileSink() {
    if (file_ != nullptr) std::fclose(file_);
  }
  void raw(const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, file_) != n) fail("{}: write failed: {}", path_, std::strerror(errno));
  }
  void close() {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
      fail("{}: flush failed: {}", path_, std::strerror(errno));
    }
    std::FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) fail("{}: close failed: {}", path_, std::strerror(errno));
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

class MemorySink {
 public:
  // resize + memcpy rather than insert(): GCC 12 reports a false stringop-overflow there.
  void raw(const void* p, size_t n) {
    if (n == 0) return;
    const size_t at = bytes.size();
    bytes.resize(at + n);
    std::memcpy(bytes.data() + at, p, n);
  }
  std::vector<uint8_t> bytes;
};

}  // namespace

void GgufWriter::add(const std::string& name, TensorType type, const std::vector<int64_t>& ne, Entry entry) {
  if (names_.count(name) != 0) fail("gguf writer: duplicate tensor name '{}'", name);
  if (ne.empty() || ne.size() > kGgufMaxDims) {
    fail("gguf writer: tensor '{}' has {} dimensions, expected 1..{}", name, ne.size(), kGgufMaxDims);
  }
  GgufTensor& t = entry.info;
  t.name = name;
  t.type = type;
  t.n_dims = static_cast<int>(ne.size());
  for (size_t i = 0; i < ne.size(); ++i) {
    if (ne[i] < 0) fail("gguf writer: tensor '{}' dimension {} is negative", name, i);
    t.ne[i] = ne[i];
  }
  const auto& tr = traits(type);
  if (t.ne[0] % tr.block_size != 0) {
    fail("gguf writer: tensor '{}' row length {} is not a multiple of the {} block size {}", name, t.ne[0],
         tr.name, tr.block_size);
  }
  t.nbytes = row_bytes(type, t.ne[0]) * static_cast<size_t>(t.n_rows());
  names_.emplace(name, tensors_.size());
  tensors_.push_back(std::move(entry));
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, const std::vector<int64_t>& ne,
                            const void* data, size_t nbytes) {
  Entry e;
  e.data = data;
  add(name, type, ne, std::move(e));
  if (tensors_.back().info.nbytes != nbytes) {
    const size_t expected = tensors_.back().info.nbytes;
    tensors_.pop_back();
    names_.erase(name);
    fail("gguf writer: tensor '{}' is given {} bytes, its shape and type need {}", name, nbytes, expected);
  }
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, const std::vector<int64_t>& ne,
                            Producer producer) {
  Entry e;
  e.producer = std::move(producer);
  add(name, type, ne, std::move(e));
}

std::vector<uint8_t> GgufWriter::header_bytes(std::vector<uint64_t>& offsets, uint64_t& total) const {
  const size_t alignment = file_alignment(metadata_);
  ByteSink out;
  out.put<uint32_t>(0x46554747);
  out.put<uint32_t>(kVersion);
  out.put<uint64_t>(tensors_.size());
  out.put<uint64_t>(metadata_.entries().size());
  for (const auto& [key, value] : metadata_.entries()) {
    out.string(key);
    out.put<uint32_t>(static_cast<uint32_t>(value.type));
    put_value(out, value);
  }
  uint64_t offset = 0;
  offsets.clear();
  for (const auto& e : tensors_) {
    out.string(e.info.name);
    out.put<uint32_t>(static_cast<uint32_t>(e.info.n_dims));
    for (int d = 0; d < e.info.n_dims; ++d) out.put<int64_t>(e.info.ne[static_cast<size_t>(d)]);
    out.put<uint32_t>(static_cast<uint32_t>(e.info.type));
    out.put<uint64_t>(offset);
    offsets.push_back(offset);
    offset = pad_to(offset + e.info.nbytes, alignment);
  }
  out.bytes.resize(pad_to(out.bytes.size(), alignment), 0);
  total = out.bytes.size() + offset;
  return std::move(out.bytes);
}

template <typename Sink>
void GgufWriter::emit(Sink& sink, const Progress& progress) const {
  std::vector<uint64_t> offsets;
  uint64_t total = 0;
  const std::vector<uint8_t> header = header_bytes(offsets, total);
  sink.raw(header.data(), header.size());
  uint64_t written = header.size();
  uint64_t position = 0;  // within the data section
  std::vector<uint8_t> scratch;
  static const uint8_t zeros[4096] = {};
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Entry& e = tensors_[i];
    while (position < offsets[i]) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof zeros, offsets[i] - position));
      sink.raw(zeros, n);
      position += n;
    }
    if (e.producer) {
      scratch.assign(e.info.nbytes, 0);
      e.producer(scratch.data(), scratch.size());
      sink.raw(scratch.data(), scratch.size());
    } else {
      sink.raw(e.data, e.info.nbytes);
    }
    position += e.info.nbytes;
    written = header.size() + position;
    if (progress) progress(i + 1, tensors_.size(), written, total);
  }
  const uint64_t end = total - header.size();
  while (position < end) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof zeros, end - position));
    sink.raw(zeros, n);
    position += n;
  }
}

void GgufWriter::write(const std::string& path, const Progress& progress) const {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path temp = target.parent_path() / (target.filename().string() + ".tmp." + std::to_string(::getpid()));
  try {
    FileSink sink(temp.string());
    emit(sink, progress);
    sink.close();
    fs::rename(temp, target);
  } catch (...) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw;
  }
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  MemorySink sink;
  emit(sink, nullptr);
  return std::move(sink.bytes);
}

}  // namespace frugal
