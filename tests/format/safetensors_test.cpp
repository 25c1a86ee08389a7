// safetensors: exact values of the reference files (swift-transformers' fixtures, decoded
// independently with numpy into expected.json), float conversions, and refusal of every
// kind of broken header with an error naming the file, tensor and field.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <random>

#include "base/error.h"
#include "base/half.h"
#include "format/safetensors.h"
#include "support/safetensors_builder.h"
#include "support/test_support.h"

namespace frugal {
namespace {

using nlohmann::json;

void flatten(const json& v, std::vector<double>& out) {
  if (v.is_array()) {
    for (const auto& x : v) flatten(x, out);
  } else {
    out.push_back(v.get<double>());
  }
}

TEST(Safetensors, SwiftFixturesReadExactValues) {
  const json expected = json::parse(test::read_file(test::testdata("safetensors-format-swift/expected.json")));
  ASSERT_EQ(expected["files"].size(), 4u);
  for (const auto& [file, want] : expected["files"].items()) {
    SCOPED_TRACE(file);
    const auto f = SafetensorsFile::open(test::testdata("safetensors-format-swift/" + file));
    EXPECT_EQ(f->header_size(), want["header_len"].get<size_t>());
    ASSERT_EQ(f->tensors().size(), want["tensors"].size());
    for (const auto& [name, t] : want["tensors"].items()) {
      const SafetensorsTensor* st = f->find(name);
      ASSERT_NE(st, nullptr) << name;
      EXPECT_EQ(dtype_name(st->dtype), t["dtype"].get<std::string>());
      EXPECT_EQ(st->shape, t["shape"].get<std::vector<int64_t>>());
      const auto& h = want["header"][name];
      EXPECT_EQ(st->begin, h["data_offsets"][0].get<uint64_t>());
      EXPECT_EQ(st->end, h["data_offsets"][1].get<uint64_t>());
      std::vector<double> values;
      flatten(t["values"], values);
      ASSERT_EQ(static_cast<int64_t>(values.size()), st->n_elements());
      for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(element_as_double(*st, static_cast<int64_t>(i)), values[i]) << i;
      if (st->dtype == SafetensorsDtype::F32 || st->dtype == SafetensorsDtype::F64) {
        std::vector<float> floats(values.size());
        read_floats(*st, 0, st->n_elements(), floats.data());
        for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(floats[i], static_cast<float>(values[i]));
      } else {
        float x;
        EXPECT_THROW(read_floats(*st, 0, 1, &x), Error);  // integers are not weights
      }
    }
  }
}

TEST(Safetensors, HalfFormatsAndMetadata) {
  const std::vector<float> v = {0.0f, 1.0f, -2.5f, 65504.0f, 1e-3f, 3.140625f};
  std::vector<uint16_t> f16, bf16;
  for (float x : v) {
    f16.push_back(fp32_to_fp16(x));
    bf16.push_back(fp32_to_bf16(x));
  }
  test::SafetensorsBuilder b;
  b.metadata("format", "pt");
  b.add("a", "F16", {2, 3}, f16.data(), f16.size() * 2);
  b.add("b", "BF16", {6}, bf16.data(), bf16.size() * 2);
  b.add_f32("c", {3, 2}, v);
  const std::string bytes = b.bytes();
  const auto f = SafetensorsFile::parse("mem", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_EQ(f->metadata().at("format"), "pt");
  ASSERT_EQ(f->tensors().size(), 3u);
  std::vector<float> out(6);
  read_floats(*f->find("a"), 0, 6, out.data());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(out[i], fp16_to_fp32(f16[i]));
  read_floats(*f->find("b"), 2, 3, out.data());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(out[i], bf16_to_fp32(bf16[i + 2]));
  read_floats(*f->find("c"), 0, 6, out.data());
  EXPECT_EQ(out, v);
  EXPECT_THROW(read_floats(*f->find("c"), 4, 3, out.data()), Error);
}

std::string error_of(const std::string& bytes) {
  try {
    SafetensorsFile::parse("bad.safetensors", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string with_header(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + std::string(data_bytes, '\x01');
}

TEST(Safetensors, BrokenHeadersNameTheProblem) {
  struct Case {
    std::string bytes, expect;
  };
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string huge_len(8, '\xff');
  const std::vector<Case> cases = {
      {"", "too short"},
      {huge_len, "header length"},
      {with_header("[1,2]", 0), "expected an object"},
      {with_header("{\"w\":", 0), "not valid JSON"},
      {with_header(R"({"w":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", 8), "'dtype' is 'Q9'"},
      {with_header(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "'shape'[0]"},
      {with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8), "past the data section"},
      {with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 16), "needs 12"},
      {with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "ends before it begins"},
      {with_header(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       "more elements"},
      {with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                   8),
       "overlap"},
      {with_header(R"({"w":{"dtype":"F32","shape":[2]}})", 8), "data_offsets"},
      {with_header(R"({"w":{"shape":[[[[[[[[1]]]]]]]]}})", 8), "nesting"},
      {with_header(R"({"__metadata__":{"a":1}})", 0), "__metadata__ 'a'"},
  };
  EXPECT_EQ(error_of(with_header(ok, 8)), "");
  for (const auto& c : cases) {
    const std::string e = error_of(c.bytes);
    EXPECT_NE(e.find("bad.safetensors"), std::string::npos) << e;
    EXPECT_NE(e.find(c.expect), std::string::npos) << "expected '" << c.expect << "' in: " << e;
  }
}

// Every truncation and random byte corruption of a valid file ends in an Error or a file
// whose views all lie inside the buffer; never a crash (run under ASan in the sanitizer build).
TEST(Safetensors, TruncationAndCorruptionNeverCrash) {
  test::SafetensorsBuilder b;
  b.add_f32("x", {2, 2}, {1, 2, 3, 4});
  b.add_f32("y", {3}, {5, 6, 7});
  const std::string good = b.bytes();
  for (size_t n = 0; n < good.size(); ++n) {
    const std::string cut = good.substr(0, n);
    EXPECT_NE(error_of(cut), "") << "truncated to " << n;
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::string bad = good;
    bad[rng() % bad.size()] = static_cast<char>(rng());
    try {
      const auto f = SafetensorsFile::parse("fuzz", reinterpret_cast<const uint8_t*>(bad.data()), bad.size());
      for (const auto& t : f->tensors()) {
        ASSERT_GE(t.data, reinterpret_cast<const uint8_t*>(bad.data()));
        ASSERT_LE(t.data + t.nbytes(), reinterpret_cast<const uint8_t*>(bad.data()) + bad.size());
      }
    } catch (const Error&) {
    }
  }
}

TEST(Safetensors, MissingFileIsAnError) {
  EXPECT_THROW(SafetensorsFile::open(test::temp_dir() + "/nope.safetensors"), Error);
}

}  // namespace
}  // namespace frugal
