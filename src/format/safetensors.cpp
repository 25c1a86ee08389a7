// safetensors parsing. The JSON header is parsed with a depth limit (a valid header is
// three levels deep), and every tensor's shape, dtype and offsets are checked against the
// data section before its view exists.
#include "format/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/error.h"
#include "base/half.h"
#include "base/mapped_file.h"

namespace frugal {

namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeader = 100u << 20;  // the format's own limit (100 MB)
constexpr int kMaxDepth = 4;

struct DtypeInfo {
  SafetensorsDtype dtype;
  std::string_view name;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {SafetensorsDtype::BOOL, "BOOL", 1}, {SafetensorsDtype::U8, "U8", 1},
    {SafetensorsDtype::I8, "I8", 1},     {SafetensorsDtype::F8_E4M3, "F8_E4M3", 1},
    {SafetensorsDtype::F8_E5M2, "F8_E5M2", 1}, {SafetensorsDtype::U16, "U16", 2},
    {SafetensorsDtype::I16, "I16", 2},   {SafetensorsDtype::F16, "F16", 2},
    {SafetensorsDtype::BF16, "BF16", 2}, {SafetensorsDtype::U32, "U32", 4},
    {SafetensorsDtype::I32, "I32", 4},   {SafetensorsDtype::F32, "F32", 4},
    {SafetensorsDtype::U64, "U64", 8},   {SafetensorsDtype::I64, "I64", 8},
    {SafetensorsDtype::F64, "F64", 8},
};

const DtypeInfo& info(SafetensorsDtype d) {
  for (const auto& i : kDtypes) {
    if (i.dtype == d) return i;
  }
  return kDtypes[0];
}

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

std::string_view dtype_name(SafetensorsDtype dtype) { return info(dtype).name; }
size_t dtype_size(SafetensorsDtype dtype) { return info(dtype).size; }

std::optional<SafetensorsDtype> parse_dtype(std::string_view name) {
  for (const auto& i : kDtypes) {
    if (i.name == name) return i.dtype;
  }
  return std::nullopt;
}

int64_t SafetensorsTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(std::string path, std::unique_ptr<MappedFile> file, const uint8_t* data, size_t size)
    : path_(std::move(path)), file_(std::move(file)), data_(data), size_(size) {}

SafetensorsFile::~SafetensorsFile() = default;

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto mapped = std::make_unique<MappedFile>(path);
  const uint8_t* data = mapped->data();
  const size_t size = mapped->size();
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile(path, std::move(mapped), data, size));
  f->parse_all();
  return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(std::string name, const uint8_t* data, size_t size) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile(std::move(name), nullptr, data, size));
  f->parse_all();
  return f;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

void SafetensorsFile::parse_all() {
  const std::string& p = path_;
  if (size_ < 8) fail("{}: {} bytes is too short for a safetensors file (the header length alone is 8)", p, size_);
  const uint64_t n = load<uint64_t>(data_);
  if (n > size_ - 8) fail("{}: header length {} exceeds the {} bytes after it", p, n, size_ - 8);
  if (n > kMaxHeader) fail("{}: header length {} exceeds the format's limit of {} bytes", p, n, kMaxHeader);
  if (n < 2) fail("{}: header length {} is too short for a JSON object", p, n);
  header_size_ = static_cast<size_t>(n);
  const char* text = reinterpret_cast<const char*>(data_ + 8);
  json header;
  try {
    header = json::parse(text, text + header_size_, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw Error("nesting deeper than a safetensors header has");
      return true;
    });
  } catch (const json::exception& e) {
    fail("{}: the header is not valid JSON: {}", p, e.what());
  } catch (const Error& e) {
    fail("{}: the header is not a safetensors header: {}", p, e.what());
  }
  if (!header.is_object()) fail("{}: the header is a JSON {}, expected an object", p, header.type_name());

  const uint64_t data_size = size_ - 8 - header_size_;
  const uint8_t* base = data_ + 8 + header_size_;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("{}: __metadata__ is a JSON {}, expected an object of strings", p, entry.type_name());
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) fail("{}: __metadata__ '{}' is a JSON {}, expected a string", p, key, value.type_name());
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) fail("{}: tensor '{}' is a JSON {}, expected an object", p, name, entry.type_name());
    SafetensorsTensor t;
    t.name = name;
    const auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string()) fail("{}: tensor '{}' has no string field 'dtype'", p, name);
    const auto parsed = parse_dtype(dtype->get<std::string>());
    if (!parsed) fail("{}: tensor '{}' field 'dtype' is '{}', not a safetensors dtype", p, name, dtype->get<std::string>());
    t.dtype = *parsed;
    const size_t esize = dtype_size(t.dtype);

    const auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array()) fail("{}: tensor '{}' has no array field 'shape'", p, name);
    if (shape->size() > 8) fail("{}: tensor '{}' field 'shape' has {} dimensions, at most 8 supported", p, name, shape->size());
    // The element count may not exceed what the data section could hold, which also keeps
    // the product far from overflowing.
    uint64_t elements = 1;
    const uint64_t max_elements = data_size / esize;
    for (size_t d = 0; d < shape->size(); ++d) {
      const json& v = (*shape)[d];
      if (!v.is_number_unsigned()) fail("{}: tensor '{}' field 'shape'[{}] is {}, expected a non-negative integer", p, name, d, v.dump());
      const uint64_t dim = v.get<uint64_t>();
      t.shape.push_back(dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? -1 : static_cast<int64_t>(dim));
      if (dim == 0) {
        elements = 0;
      } else if (elements != 0) {
        if (dim > max_elements || elements > max_elements / dim) {
          fail("{}: tensor '{}' field 'shape' {} has more elements than the {}-byte data section holds", p, name,
               shape->dump(), data_size);
        }
        elements *= dim;
      }
    }

    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2) {
      fail("{}: tensor '{}' has no field 'data_offsets' of two integers", p, name);
    }
    for (size_t i = 0; i < 2; ++i) {
      if (!(*offsets)[i].is_number_unsigned()) {
        fail("{}: tensor '{}' field 'data_offsets'[{}] is {}, expected a non-negative integer", p, name, i, (*offsets)[i].dump());
      }
    }
    t.begin = (*offsets)[0].get<uint64_t>();
    t.end = (*offsets)[1].get<uint64_t>();
    if (t.begin > t.end) fail("{}: tensor '{}' field 'data_offsets' [{}, {}] ends before it begins", p, name, t.begin, t.end);
    if (t.end > data_size) {
      fail("{}: tensor '{}' field 'data_offsets' end {} is past the data section ({} bytes)", p, name, t.end, data_size);
    }
    if (t.end - t.begin != elements * esize) {
      fail("{}: tensor '{}' field 'data_offsets' [{}, {}] holds {} bytes, its shape {} of {} needs {}", p, name, t.begin,
           t.end, t.end - t.begin, shape->dump(), dtype_name(t.dtype), elements * esize);
    }
    t.data = base + t.begin;
    tensors_.push_back(std::move(t));
  }
  std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < tensors_.size(); ++i) {
    const auto& a = tensors_[i - 1];
    const auto& b = tensors_[i];
    if (b.begin < a.end) {
      fail("{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap (field 'data_offsets')", p, a.name, a.begin, a.end, b.name,
           b.begin, b.end);
    }
  }
}

double element_as_double(const SafetensorsTensor& t, int64_t i) {
  if (i < 0 || i >= t.n_elements()) fail("safetensors: element {} is outside tensor '{}' ({} elements)", i, t.name, t.n_elements());
  const uint8_t* p = t.data + static_cast<size_t>(i) * dtype_size(t.dtype);
  switch (t.dtype) {
    case SafetensorsDtype::BOOL: return p[0] != 0 ? 1.0 : 0.0;
    case SafetensorsDtype::U8: return p[0];
    case SafetensorsDtype::I8: return static_cast<int8_t>(p[0]);
    case SafetensorsDtype::U16: return load<uint16_t>(p);
    case SafetensorsDtype::I16: return load<int16_t>(p);
    case SafetensorsDtype::F16: return fp16_to_fp32(load<uint16_t>(p));
    case SafetensorsDtype::BF16: return bf16_to_fp32(load<uint16_t>(p));
    case SafetensorsDtype::U32: return load<uint32_t>(p);
    case SafetensorsDtype::I32: return load<int32_t>(p);
    case SafetensorsDtype::F32: return load<float>(p);
    case SafetensorsDtype::U64: return static_cast<double>(load<uint64_t>(p));
    case SafetensorsDtype::I64: return static_cast<double>(load<int64_t>(p));
    case SafetensorsDtype::F64: return load<double>(p);
    case SafetensorsDtype::F8_E4M3:
    case SafetensorsDtype::F8_E5M2: break;
  }
  fail("safetensors: tensor '{}' has dtype {}, which frugal does not read", t.name, dtype_name(t.dtype));
}

void read_floats(const SafetensorsTensor& t, int64_t first, int64_t n, float* dst) {
  if (first < 0 || n < 0 || first > t.n_elements() - n) {
    fail("safetensors: elements [{}, {}) are outside tensor '{}' ({} elements)", first, first + n, t.name, t.n_elements());
  }
  const size_t es = dtype_size(t.dtype);
  const uint8_t* p = t.data + static_cast<size_t>(first) * es;
  switch (t.dtype) {
    case SafetensorsDtype::F32: std::memcpy(dst, p, static_cast<size_t>(n) * 4); return;
    case SafetensorsDtype::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load<uint16_t>(p + 2 * i));
      return;
    case SafetensorsDtype::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load<uint16_t>(p + 2 * i));
      return;
    case SafetensorsDtype::F64:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<double>(p + 8 * i));
      return;
    default: break;
  }
  fail("safetensors: tensor '{}' has dtype {}, expected a float dtype (F32, F16, BF16, F64)", t.name, dtype_name(t.dtype));
}

}  // namespace frugal
