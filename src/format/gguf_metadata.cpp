#include <limits>

#include "base/error.h"
#include "format/gguf.h"

namespace frugal {

std::string_view value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8: return "UINT8";
    case GgufValueType::INT8: return "INT8";
    case GgufValueType::UINT16: return "UINT16";
    case GgufValueType::INT16: return "INT16";
    case GgufValueType::UINT32: return "UINT32";
    case GgufValueType::INT32: return "INT32";
    case GgufValueType::FLOAT32: return "FLOAT32";
    case GgufValueType::BOOL: return "BOOL";
    case GgufValueType::STRING: return "STRING";
    case GgufValueType::ARRAY: return "ARRAY";
    case GgufValueType::UINT64: return "UINT64";
    case GgufValueType::INT64: return "INT64";
    case GgufValueType::FLOAT64: return "FLOAT64";
  }
  return "UNKNOWN";
}

GgufValue GgufValue::string_array(const std::vector<std::string>& items) {
  Array a;
  a.reserve(items.size());
  for (const auto& s : items) a.push_back(str(s));
  return array(GgufValueType::STRING, std::move(a));
}

GgufValue GgufValue::f32_array(const std::vector<float>& items) {
  Array a;
  a.reserve(items.size());
  for (float f : items) a.push_back(f32(f));
  return array(GgufValueType::FLOAT32, std::move(a));
}

GgufValue GgufValue::i32_array(const std::vector<int32_t>& items) {
  Array a;
  a.reserve(items.size());
  for (int32_t v : items) a.push_back(i32(v));
  return array(GgufValueType::INT32, std::move(a));
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::UINT16:
    case GgufValueType::INT16: case GgufValueType::UINT32: case GgufValueType::INT32:
    case GgufValueType::UINT64: case GgufValueType::INT64:
      return true;
    default:
      return false;
  }
}

int64_t GgufValue::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail("integer value {} does not fit in int64", *u);
    }
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  fail("value of type {} is not an integer", value_type_name(type));
}

double GgufValue::as_float() const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&data)) return static_cast<double>(*i);
  fail("value of type {} is not a number", value_type_name(type));
}

const GgufValue* GgufMetadata::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void GgufMetadata::set(const std::string& key, GgufValue value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, std::move(value));
}

void GgufMetadata::erase(std::string_view key) {
  auto it = index_.find(std::string(key));
  if (it == index_.end()) return;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
}

void GgufMetadata::wrong_type(std::string_view key, const GgufValue& v, std::string_view expected) const {
  std::string found(value_type_name(v.type));
  if (v.type == GgufValueType::ARRAY) found += fmt::format(" of {}", value_type_name(v.element_type));
  fail("{}: metadata key '{}' has type {}, expected {}", source_, key, found, expected);
}

std::optional<int64_t> GgufMetadata::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_integer()) wrong_type(key, *v, "an integer");
  if (v->type == GgufValueType::UINT64 &&
      std::get<uint64_t>(v->data) > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    fail("{}: metadata key '{}' value {} is out of range", source_, key, std::get<uint64_t>(v->data));
  }
  return v->as_int();
}

std::optional<double> GgufMetadata::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_float() && !v->is_integer()) wrong_type(key, *v, "a number");
  return v->as_float();
}

std::optional<bool> GgufMetadata::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != GgufValueType::BOOL) wrong_type(key, *v, "BOOL");
  return std::get<bool>(v->data);
}

std::optional<std::string> GgufMetadata::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != GgufValueType::STRING) wrong_type(key, *v, "STRING");
  return v->string();
}

const GgufValue::Array* GgufMetadata::get_array(std::string_view key, GgufValueType element_type) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return nullptr;
  if (v->type != GgufValueType::ARRAY || v->element_type != element_type) {
    wrong_type(key, *v, fmt::format("ARRAY of {}", value_type_name(element_type)));
  }
  return &v->items();
}

std::vector<std::string> GgufMetadata::get_string_array(std::string_view key) const {
  std::vector<std::string> out;
  if (const auto* items = get_array(key, GgufValueType::STRING)) {
    out.reserve(items->size());
    for (const auto& item : *items) out.push_back(item.string());
  }
  return out;
}

std::vector<float> GgufMetadata::get_f32_array(std::string_view key) const {
  std::vector<float> out;
  const GgufValue* v = find(key);
  if (v == nullptr) return out;
  if (v->type != GgufValueType::ARRAY || !(v->element_type == GgufValueType::FLOAT32 ||
                                           v->element_type == GgufValueType::FLOAT64)) {
    wrong_type(key, *v, "ARRAY of FLOAT32");
  }
  out.reserve(v->items().size());
  for (const auto& item : v->items()) out.push_back(static_cast<float>(item.as_float()));
  return out;
}

std::vector<int32_t> GgufMetadata::get_i32_array(std::string_view key) const {
  std::vector<int32_t> out;
  const GgufValue* v = find(key);
  if (v == nullptr) return out;
  GgufValue probe;
  probe.type = v->element_type;
  if (v->type != GgufValueType::ARRAY || !probe.is_integer()) wrong_type(key, *v, "ARRAY of INT32");
  out.reserve(v->items().size());
  for (const auto& item : v->items()) {
    int64_t x = item.as_int();
    if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max()) {
      fail("{}: metadata key '{}' element {} is out of int32 range", source_, key, x);
    }
    out.push_back(static_cast<int32_t>(x));
  }
  return out;
}

}  // namespace frugal
