// Writes safetensors files for tests: tensors given as raw little-endian bytes with a
// dtype name and shape, laid out one after another as the format requires.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace frugal::test {

class SafetensorsBuilder {
 public:
  void add(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape, const void* data,
           size_t nbytes) {
    header_[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {data_.size(), data_.size() + nbytes}}};
    const auto* p = static_cast<const uint8_t*>(data);
    data_.insert(data_.end(), p, p + nbytes);
  }
  void add_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
    add(name, "F32", shape, v.data(), v.size() * sizeof(float));
  }
  void metadata(const std::string& key, const std::string& value) { header_["__metadata__"][key] = value; }

  std::string bytes() const {
    std::string header = header_.dump();
    header.resize((header.size() + 7) / 8 * 8, ' ');  // the data section starts 8-aligned
    const uint64_t n = header.size();
    std::string out(8, '\0');
    std::memcpy(out.data(), &n, 8);
    out += header;
    out.append(reinterpret_cast<const char*>(data_.data()), data_.size());
    return out;
  }

 private:
  nlohmann::json header_ = nlohmann::json::object();
  std::vector<uint8_t> data_;
};

}  // namespace frugal::test
