// GGUF parsing. Nothing read from the file is trusted: every count is checked against the
// bytes that remain before anything is allocated, so a corrupt header can neither over-read
// nor make us allocate more memory than the file itself could describe.
#include <cstring>
#include <limits>

#include "base/error.h"
#include "base/mapped_file.h"
#include "format/gguf.h"

namespace frugal {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxArrayDepth = 8;

class Cursor {
 public:
  Cursor(const std::string& file, const uint8_t* data, size_t size)
      : file_(file), data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  [[noreturn]] void error(std::string_view field, std::string_view what) const {
    fail("{}: {} at byte offset {}: {}", file_, field, pos_, what);
  }

  void need(uint64_t n, std::string_view field) const {
    if (n > left()) {
      error(field, fmt::format("truncated file (need {} bytes, {} left of {})", n, left(), size_));
    }
  }

  template <typename T>
  T read(std::string_view field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view field) {
    const size_t start = pos_;
    const uint64_t len = read<uint64_t>(field);
    if (len > left()) {
      pos_ = start;
      error(field, fmt::format("string length {} exceeds the {} bytes left in the file", len, left() - 8));
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  const std::string& file_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Smallest number of bytes one element of this type can occupy in the file.
uint64_t min_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
  }
  return 1;
}

GgufValueType read_value_type(Cursor& c, std::string_view field) {
  const uint32_t t = c.read<uint32_t>(field);
  if (t > static_cast<uint32_t>(GgufValueType::FLOAT64)) {
    c.error(field, fmt::format("unknown value type {} (expected 0..12)", t));
  }
  return static_cast<GgufValueType>(t);
}

GgufValue read_value(Cursor& c, GgufValueType type, const std::string& field, int depth) {
  switch (type) {
    case GgufValueType::UINT8: return GgufValue::u8(c.read<uint8_t>(field));
    case GgufValueType::INT8: return GgufValue::i8(c.read<int8_t>(field));
    case GgufValueType::UINT16: return GgufValue::u16(c.read<uint16_t>(field));
    case GgufValueType::INT16: return GgufValue::i16(c.read<int16_t>(field));
    case GgufValueType::UINT32: return GgufValue::u32(c.read<uint32_t>(field));
    case GgufValueType::INT32: return GgufValue::i32(c.read<int32_t>(field));
    case GgufValueType::FLOAT32: return GgufValue::f32(c.read<float>(field));
    case GgufValueType::UINT64: return GgufValue::u64(c.read<uint64_t>(field));
    case GgufValueType::INT64: return GgufValue::i64(c.read<int64_t>(field));
    case GgufValueType::FLOAT64: return GgufValue::f64(c.read<double>(field));
    case GgufValueType::BOOL: {
      const uint8_t b = c.read<uint8_t>(field);
      if (b > 1) c.error(field, fmt::format("boolean byte is {} (expected 0 or 1)", b));
      return GgufValue::boolean(b != 0);
    }
    case GgufValueType::STRING: return GgufValue::str(c.read_string(field));
    case GgufValueType::ARRAY: {
      if (depth >= kMaxArrayDepth) c.error(field, fmt::format("arrays nested deeper than {}", kMaxArrayDepth));
      const GgufValueType elem = read_value_type(c, field + " (array element type)");
      const uint64_t n = c.read<uint64_t>(field + " (array length)");
      if (n > c.left() / min_value_bytes(elem)) {
        c.error(field, fmt::format("array of {} {} elements cannot fit in the {} bytes left", n,
                                   value_type_name(elem), c.left()));
      }
      GgufValue::Array items;
      items.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i) items.push_back(read_value(c, elem, field, depth + 1));
      return GgufValue::array(elem, std::move(items));
    }
  }
  c.error(field, "unknown value type");
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

}  // namespace

std::string GgufTensor::shape_string() const {
  std::string s = "[";
  for (int i = 0; i < n_dims; ++i) s += fmt::format("{}{}", i ? ", " : "", ne[static_cast<size_t>(i)]);
  return s + "]";
}

GgufFile::GgufFile(std::string path, std::unique_ptr<MappedFile> file, const uint8_t* data, size_t size)
    : path_(std::move(path)), file_(std::move(file)), data_(data), size_(size), metadata_(path_) {}

GgufFile::~GgufFile() = default;

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  auto mapped = std::make_unique<MappedFile>(path);
  const uint8_t* data = mapped->data();
  const size_t size = mapped->size();
  std::unique_ptr<GgufFile> f(new GgufFile(path, std::move(mapped), data, size));
  f->parse_all();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::parse(std::string name, const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> f(new GgufFile(std::move(name), nullptr, data, size));
  f->parse_all();
  return f;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void GgufFile::parse_all() {
  Cursor c(path_, data_, size_);
  const uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) {
    fail("{}: not a GGUF file (magic bytes at offset 0 are {:08x}, expected 47475546 \"GGUF\")", path_,
         __builtin_bswap32(magic));
  }
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) fail("{}: GGUF version 1 is not supported (expected 2 or 3); re-convert the model", path_);
  if (version_ != 2 && version_ != 3) {
    if ((version_ & 0xFFFF) == 0) fail("{}: big-endian GGUF (version field {:#x}) is not supported", path_, version_);
    fail("{}: GGUF version {} at byte offset 4 is not supported (expected 2 or 3)", path_, version_);
  }
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each metadata entry takes at least 13 bytes (key length, type, 1-byte value) and each
  // tensor info at least 24, so larger counts are corrupt whatever follows.
  if (n_kv > c.left() / 13) {
    fail("{}: metadata count {} at byte offset 16 cannot fit in a {}-byte file", path_, n_kv, size_);
  }
  if (n_tensors > c.left() / 24) {
    fail("{}: tensor count {} at byte offset 8 cannot fit in a {}-byte file", path_, n_tensors, size_);
  }

  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string where = fmt::format("metadata entry {}", i);
    std::string key = c.read_string(where + " key");
    if (metadata_.has(key)) c.error(where, fmt::format("duplicate key '{}'", key));
    const GgufValueType type = read_value_type(c, "type of metadata key '" + key + "'");
    GgufValue value = read_value(c, type, "value of metadata key '" + key + "'", 0);
    metadata_.set(key, std::move(value));
  }

  if (const GgufValue* a = metadata_.find("general.alignment")) {
    if (!a->is_integer()) fail("{}: general.alignment has type {}, expected UINT32", path_, value_type_name(a->type));
    const int64_t al = a->as_int();
    if (al <= 0 || (al & (al - 1)) != 0 || al > (1 << 20)) {
      fail("{}: general.alignment is {}, expected a power of two up to 1 MiB", path_, al);
    }
    alignment_ = static_cast<size_t>(al);
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    const std::string where = fmt::format("tensor info {}", i);
    t.name = c.read_string(where + " name");
    const std::string field = fmt::format("tensor '{}'", t.name);
    if (tensor_index_.count(t.name) != 0) c.error(field, "duplicate tensor name");
    const uint32_t n_dims = c.read<uint32_t>(field + " dimension count");
    if (n_dims < 1 || n_dims > kGgufMaxDims) {
      c.error(field, fmt::format("dimension count is {}, expected 1..{}", n_dims, kGgufMaxDims));
    }
    t.n_dims = static_cast<int>(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const int64_t ne = c.read<int64_t>(field + " shape");
      if (ne < 0) c.error(field, fmt::format("dimension {} is negative ({})", d, ne));
      t.ne[d] = ne;
      if (!checked_mul(n_elements, static_cast<uint64_t>(ne), n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        c.error(field, fmt::format("shape {} overflows the element count", t.shape_string()));
      }
    }
    const uint32_t type_id = c.read<uint32_t>(field + " type");
    const auto traits = tensor_type_traits(type_id);
    if (!traits) c.error(field, fmt::format("unknown tensor type id {}", type_id));
    t.type = traits->type;
    if (t.ne[0] % traits->block_size != 0) {
      c.error(field, fmt::format("row length {} is not a multiple of the {} block size {}", t.ne[0],
                                 traits->name, traits->block_size));
    }
    uint64_t nbytes = 0;
    if (!checked_mul(n_elements / static_cast<uint64_t>(traits->block_size), traits->block_bytes, nbytes)) {
      c.error(field, "byte size overflows");
    }
    t.nbytes = static_cast<size_t>(nbytes);
    t.offset = c.read<uint64_t>(field + " data offset");
    if (t.offset % alignment_ != 0) {
      c.error(field, fmt::format("data offset {} is not a multiple of the alignment {}", t.offset, alignment_));
    }
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t data_size = data_offset_ <= size_ ? size_ - data_offset_ : 0;
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      fail("{}: tensor '{}' data [{}, {}) lies outside the data section of {} bytes starting at byte offset {} "
           "(file truncated?)",
           path_, t.name, t.offset, t.offset + t.nbytes, data_size, data_offset_);
    }
    t.data = data_ + data_offset_ + t.offset;
  }
}

}  // namespace frugal
