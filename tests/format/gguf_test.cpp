#include <gtest/gtest.h>

#include <random>

#include "base/error.h"
#include "format/gguf.h"
#include "support/test_support.h"

namespace frugal {
namespace {

GgufWriter sample_writer(std::vector<float>& f32_data, std::vector<uint8_t>& q8_data) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  w.set("general.name", GgufValue::str("round trip ✓ ünïcode"));
  w.set("u8", GgufValue::u8(250));
  w.set("i8", GgufValue::i8(-7));
  w.set("u16", GgufValue::u16(65000));
  w.set("i16", GgufValue::i16(-32000));
  w.set("u32", GgufValue::u32(4000000000u));
  w.set("i32", GgufValue::i32(-2000000000));
  w.set("u64", GgufValue::u64(18000000000000000000ull));
  w.set("i64", GgufValue::i64(-9000000000000000000ll));
  w.set("f32", GgufValue::f32(3.25f));
  w.set("f64", GgufValue::f64(-1e300));
  w.set("bool", GgufValue::boolean(true));
  w.set("empty.string", GgufValue::str(""));
  w.set("strings", GgufValue::string_array({"a", "", "▁hello", std::string("nul\0byte", 8)}));
  w.set("floats", GgufValue::f32_array({1.5f, -2.0f}));
  w.set("empty.array", GgufValue::array(GgufValueType::INT32, {}));
  w.set("nested", GgufValue::array(GgufValueType::ARRAY,
                                   {GgufValue::i32_array({1, 2, 3}),
                                    GgufValue::array(GgufValueType::STRING, {GgufValue::str("x")})}));
  f32_data.resize(8 * 3);
  for (size_t i = 0; i < f32_data.size(); ++i) f32_data[i] = static_cast<float>(i) * 0.5f - 3.0f;
  w.add_tensor("a.weight", TensorType::F32, {8, 3}, f32_data.data(), f32_data.size() * 4);
  q8_data.resize(34 * 2);
  for (size_t i = 0; i < q8_data.size(); ++i) q8_data[i] = static_cast<uint8_t>(i * 7);
  w.add_tensor("b.weight", TensorType::Q8_0, {64}, q8_data.data(), q8_data.size());
  w.add_tensor("c.weight", TensorType::F16, {2, 2, 2, 2}, [](uint8_t* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(255 - i);
  });
  return w;
}

TEST(Gguf, RoundTripInMemory) {
  std::vector<float> f32;
  std::vector<uint8_t> q8;
  GgufWriter w = sample_writer(f32, q8);
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = GgufFile::parse("memory", bytes.data(), bytes.size());
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata(), w.metadata());
  ASSERT_EQ(f->tensors().size(), 3u);
  const GgufTensor* a = f->find_tensor("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ne[0], 8);
  EXPECT_EQ(a->ne[1], 3);
  EXPECT_EQ(a->n_dims, 2);
  EXPECT_EQ(a->nbytes, f32.size() * 4);
  EXPECT_EQ(0, std::memcmp(a->data, f32.data(), a->nbytes));
  const GgufTensor* b = f->find_tensor("b.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, TensorType::Q8_0);
  EXPECT_EQ(0, std::memcmp(b->data, q8.data(), q8.size()));
  const GgufTensor* c = f->find_tensor("c.weight");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->n_elements(), 16);
  EXPECT_EQ(c->data[0], 255);
  for (const auto& t : f->tensors()) {
    EXPECT_EQ((t.data - bytes.data()) % 32, 0) << t.name;
  }
  EXPECT_THROW((void)f->metadata().get_int("u64"), Error);  // above INT64_MAX
  EXPECT_EQ(f->metadata().get_string_array("strings")[3], std::string("nul\0byte", 8));
  EXPECT_EQ(f->metadata().get_float("f32"), 3.25);

  // Re-writing what was read gives the same bytes.
  GgufWriter again;
  for (const auto& [k, v] : f->metadata().entries()) again.set(k, v);
  for (const auto& t : f->tensors()) {
    again.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims), t.data, t.nbytes);
  }
  EXPECT_EQ(again.to_bytes(), bytes);
}

TEST(Gguf, RoundTripThroughFileWithAlignment) {
  std::vector<float> f32;
  std::vector<uint8_t> q8;
  GgufWriter w = sample_writer(f32, q8);
  w.set("general.alignment", GgufValue::u32(64));
  const std::string path = test::temp_dir() + "/round.gguf";
  size_t calls = 0;
  w.write(path, [&](size_t done, size_t total, uint64_t, uint64_t) {
    ++calls;
    EXPECT_LE(done, total);
  });
  EXPECT_EQ(calls, 3u);
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  for (const auto& t : f->tensors()) EXPECT_EQ(t.offset % 64, 0u) << t.name;
  EXPECT_EQ(f->metadata(), w.metadata());
}

TEST(Gguf, ReadsRealModel) {
  auto f = GgufFile::open(test::testdata("stories260K/stories260K.gguf"));
  EXPECT_EQ(f->metadata().get_string("general.architecture"), "llama");
  EXPECT_EQ(f->metadata().get_int("llama.embedding_length"), 64);
  EXPECT_EQ(f->metadata().get_string_array("tokenizer.ggml.tokens").size(), 512u);
  const GgufTensor* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ne[0], 64);
  EXPECT_EQ(emb->ne[1], 512);
}

TEST(Gguf, TypedGetterErrorsNameKeyAndTypes) {
  GgufMetadata md("model.gguf");
  md.set("x", GgufValue::str("hi"));
  try {
    (void)md.get_int("x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "model.gguf: metadata key 'x' has type STRING, expected an integer");
  }
  EXPECT_FALSE(md.get_int("missing").has_value());
}

TEST(Gguf, WriterRejectsBadShapes) {
  GgufWriter w;
  std::vector<uint8_t> buf(100);
  EXPECT_THROW(w.add_tensor("t", TensorType::Q8_0, {33}, buf.data(), 34), Error);
  EXPECT_THROW(w.add_tensor("t", TensorType::F32, {4}, buf.data(), 15), Error);
  w.add_tensor("t", TensorType::F32, {4}, buf.data(), 16);
  EXPECT_THROW(w.add_tensor("t", TensorType::F32, {4}, buf.data(), 16), Error);
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::parse("bad.gguf", bytes.data(), bytes.size());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Gguf, ErrorsNameFieldAndOffset) {
  std::vector<float> f32;
  std::vector<uint8_t> q8;
  std::vector<uint8_t> bytes = sample_writer(f32, q8).to_bytes();
  std::vector<uint8_t> bad = bytes;
  bad[0] = 'X';
  EXPECT_NE(parse_error(bad).find("not a GGUF file"), std::string::npos);

  bad = bytes;
  bad[4] = 1;
  EXPECT_NE(parse_error(bad).find("version 1 is not supported"), std::string::npos);

  // The first key's length field (offset 24) claims far more bytes than the file has.
  bad = bytes;
  bad[24 + 6] = 0x7f;
  const std::string e = parse_error(bad);
  EXPECT_NE(e.find("bad.gguf: metadata entry 0 key at byte offset 24"), std::string::npos) << e;
  EXPECT_NE(e.find("exceeds"), std::string::npos) << e;

  // A huge tensor count is refused before anything is allocated.
  bad = bytes;
  bad[8 + 7] = 0x10;
  EXPECT_NE(parse_error(bad).find("tensor count"), std::string::npos);

  // Truncating inside the data section is caught by the tensor bounds check.
  bad.assign(bytes.begin(), bytes.end() - 40);
  EXPECT_NE(parse_error(bad).find("outside the data section"), std::string::npos) << parse_error(bad);
}

// Builds a file with one F32 tensor whose info fields can be edited by the caller.
std::vector<uint8_t> one_tensor_file(uint32_t type, uint64_t offset, int64_t ne0) {
  std::vector<uint8_t> out;
  auto put = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  };
  auto u32 = [&](uint32_t v) { put(&v, 4); };
  auto u64 = [&](uint64_t v) { put(&v, 8); };
  u32(0x46554747);
  u32(3);
  u64(1);
  u64(0);
  u64(1);
  out.push_back('t');
  u32(1);
  u64(static_cast<uint64_t>(ne0));
  u32(type);
  u64(offset);
  out.resize(64 + 128, 0);
  return out;
}

TEST(Gguf, TensorInfoValidation) {
  EXPECT_EQ(parse_error(one_tensor_file(0, 0, 32)), "");
  EXPECT_NE(parse_error(one_tensor_file(77, 0, 32)).find("unknown tensor type id 77"), std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file(8, 0, 33)).find("not a multiple of the Q8_0 block size 32"),
            std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file(0, 3, 4)).find("not a multiple of the alignment"), std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file(0, 0, 1000)).find("outside the data section"), std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file(0, 0, -5)).find("negative"), std::string::npos);
  EXPECT_NE(parse_error(one_tensor_file(0, 0x7fffffffffffffe0ull, 32)).find("outside the data section"),
            std::string::npos);
}

}  // namespace
}  // namespace frugal
