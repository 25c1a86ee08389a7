// Hand-built blocks that spell out each format's layout: which bits hold which element,
// how scales are packed, and how a value is put back together. Each block is written
// byte by byte here, independently of src/quant's packing helpers.
#include <gtest/gtest.h>

#include <limits>

#include "base/error.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/quant_test_util.h"

namespace frugal {
namespace {

constexpr uint16_t kHalfOne = 0x3c00;      // fp16 1.0
constexpr uint16_t kHalfHalf = 0x3800;     // fp16 0.5
constexpr uint16_t kHalfQuarter = 0x3400;  // fp16 0.25
constexpr uint16_t kHalfMinusTwo = 0xc000; // fp16 -2.0

template <typename Block>
std::vector<float> decode(TensorType type, const Block& b) {
  std::vector<float> out(static_cast<size_t>(traits(type).block_size));
  dequantize_row(type, &b, out.data(), traits(type).block_size);
  return out;
}

TEST(QuantLayout, BlockStructsMatchTheTypeTable) {
  EXPECT_EQ(sizeof(BlockQ4_0), traits(TensorType::Q4_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_1), traits(TensorType::Q4_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_0), traits(TensorType::Q5_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_1), traits(TensorType::Q5_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_0), traits(TensorType::Q8_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_1), traits(TensorType::Q8_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ2_K), traits(TensorType::Q2_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ3_K), traits(TensorType::Q3_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_K), traits(TensorType::Q4_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_K), traits(TensorType::Q5_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ6_K), traits(TensorType::Q6_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_K), traits(TensorType::Q8_K).block_bytes);
  EXPECT_EQ(traits(TensorType::Q4_0).block_size, kQK);
  EXPECT_EQ(traits(TensorType::Q4_K).block_size, kQK_K);
}

// Q4_0: byte j holds element j in its low nibble and element j+16 in its high nibble;
// value = (nibble - 8) * d.
TEST(QuantLayout, Q4_0NibbleOrder) {
  BlockQ4_0 b{};
  b.d = kHalfHalf;
  for (auto& q : b.qs) q = 0x88;  // every element 0
  b.qs[0] = 0xF9;                 // element 0: 9 -> 0.5, element 16: 15 -> 3.5
  b.qs[15] = 0x08;                // element 15: 8 -> 0, element 31: 0 -> -4
  const auto y = decode(TensorType::Q4_0, b);
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[16], 3.5f);
  EXPECT_EQ(y[15], 0.0f);
  EXPECT_EQ(y[31], -4.0f);
  EXPECT_EQ(y[1], 0.0f);
}

// Q4_1: value = nibble * d + m.
TEST(QuantLayout, Q4_1AddsTheMin) {
  BlockQ4_1 b{};
  b.d = kHalfOne;
  b.m = kHalfMinusTwo;
  b.qs[3] = 0x5A;  // element 3: 10, element 19: 5
  const auto y = decode(TensorType::Q4_1, b);
  EXPECT_EQ(y[3], 8.0f);
  EXPECT_EQ(y[19], 3.0f);
  EXPECT_EQ(y[0], -2.0f);
}

// Q5_0: bit j of the little-endian uint32 qh is the fifth bit of element j;
// value = (q - 16) * d.
TEST(QuantLayout, Q5_0FifthBits) {
  BlockQ5_0 b{};
  b.d = kHalfOne;
  b.qh[0] = 0x01;  // element 0
  b.qh[2] = 0x02;  // bit 17: element 17
  b.qh[3] = 0x80;  // bit 31: element 31
  b.qs[1] = 0x3F;  // element 1: low 15, element 17: low 3
  const auto y = decode(TensorType::Q5_0, b);
  EXPECT_EQ(y[0], 0.0f);     // 16 - 16
  EXPECT_EQ(y[1], -1.0f);    // 15 - 16
  EXPECT_EQ(y[17], 3.0f);    // 19 - 16
  EXPECT_EQ(y[31], 0.0f);    // 16 - 16
  EXPECT_EQ(y[16], -16.0f);  // 0 - 16
}

TEST(QuantLayout, Q5_1FifthBitsAndMin) {
  BlockQ5_1 b{};
  b.d = kHalfHalf;
  b.m = kHalfOne;
  b.qh[1] = 0x80;  // bit 15: element 15
  b.qs[15] = 0xF1; // element 15: low 1, element 31: 15
  const auto y = decode(TensorType::Q5_1, b);
  EXPECT_EQ(y[15], 9.5f);  // 17 * 0.5 + 1
  EXPECT_EQ(y[31], 8.5f);  // 15 * 0.5 + 1
}

TEST(QuantLayout, Q8_0AndQ8_1) {
  BlockQ8_0 a{};
  a.d = kHalfQuarter;
  a.qs[0] = -128;
  a.qs[31] = 127;
  const auto ya = decode(TensorType::Q8_0, a);
  EXPECT_EQ(ya[0], -32.0f);
  EXPECT_EQ(ya[31], 31.75f);
  // Q8_1's s is a cached d * sum(q) for dot products; it does not enter the values.
  BlockQ8_1 b{};
  b.d = kHalfQuarter;
  b.s = 0x7c00;  // even an inf here changes nothing
  b.qs[5] = -4;
  const auto yb = decode(TensorType::Q8_1, b);
  EXPECT_EQ(yb[5], -1.0f);
  EXPECT_EQ(yb[0], 0.0f);
}

// Q2_K: element e = 128h + 32p + l is bits 2p..2p+1 of qs[32h + l]; its sub-block is e/16
// with scale (low nibble) and min (high nibble); value = d*scale*q - dmin*min.
TEST(QuantLayout, Q2_KBitPlanesAndScales) {
  BlockQ2_K b{};
  b.d = kHalfOne;
  b.dmin = kHalfOne;
  for (auto& s : b.scales) s = 0x01;  // scale 1, min 0
  b.scales[1] = 0x23;                 // sub-block 1: scale 3, min 2
  b.qs[0] = 0xE4;                     // elements 0, 32, 64, 96 -> 0, 1, 2, 3
  b.qs[16] = 0x02;                    // element 16 -> 2 (sub-block 1)
  b.qs[37] = 0x03;                    // element 128 + 5 -> 3
  const auto y = decode(TensorType::Q2_K, b);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[32], 1.0f);
  EXPECT_EQ(y[64], 2.0f);
  EXPECT_EQ(y[96], 3.0f);
  EXPECT_EQ(y[16], 4.0f);   // 3*2 - 2
  EXPECT_EQ(y[17], -2.0f);  // 3*0 - 2
  EXPECT_EQ(y[133], 3.0f);
}

// Q3_K: quant = (2 bits as in Q2_K) - (hmask bit ? 0 : 4), where element e's hmask bit is
// bit e/32 of hmask[e%32]; the 6-bit scales carry a +32 bias, their low nibbles in bytes
// 0..7 (sub-blocks 8..15 in the high nibbles) and their top two bits in bytes 8..11.
TEST(QuantLayout, Q3_KHighBitsAndSixBitScales) {
  BlockQ3_K b{};
  b.d = kHalfOne;
  // Sub-block 0: 33 -> +1 (low nibble 1, top bits 2); sub-block 9: 30 -> -2 (low 14,
  // top bits 1); all others 32 -> 0 (low 0, top bits 2).
  b.scales[0] = 0x01;
  b.scales[1] = 0xE0;
  b.scales[8] = 0xAA;
  b.scales[9] = 0x9A;  // sub-block 9's top bits (shift 4) are 1, the others 2
  b.scales[10] = 0xAA;
  b.scales[11] = 0xAA;
  for (auto& h : b.hmask) h = 0xFF;
  b.hmask[0] = 0xFE;  // element 0 has its -4
  b.qs[0] = 0x03;     // element 0: 3 - 4 = -1
  b.qs[48] = 0x02;    // element 128 + 16 = 144 (sub-block 9): 2
  const auto y = decode(TensorType::Q3_K, b);
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[144], -4.0f);  // -2 * 2
  EXPECT_EQ(y[32], 0.0f);    // sub-block 2 has scale 0
}

// Q4_K/Q5_K scales: sub-blocks 0..3 keep 6-bit scale/min in bytes 0..3 / 4..7;
// sub-blocks 4..7 keep low nibbles in bytes 8..11 and top bits in bits 6..7 of bytes
// 0..3 (scale) and 4..7 (min). Element e = 64p + 32*half + l is the low (half 0) or
// high (half 1) nibble of qs[32p + l].
BlockQ4_K hand_q4k() {
  BlockQ4_K b{};
  b.d = kHalfOne;
  b.dmin = kHalfHalf;
  b.scales[0] = 5;     // sub-block 0: scale 5
  b.scales[4] = 2;     //              min 2
  b.scales[9] = 0x3A;  // sub-block 5: scale low 10, min low 3
  b.scales[1] = 0x80;  //              scale top bits 2 -> 42
  b.scales[5] = 0x40;  //              min top bits 1 -> 19
  b.qs[0] = 0x07;      // element 0: 7
  b.qs[67] = 0xF0;     // element 160 + 3 (sub-block 5, high nibble): 15
  return b;
}

TEST(QuantLayout, Q4_KPackedScalesAndMins) {
  const auto y = decode(TensorType::Q4_K, hand_q4k());
  EXPECT_EQ(y[0], 34.0f);     // 5*7 - 0.5*2
  EXPECT_EQ(y[1], -1.0f);     // 5*0 - 0.5*2
  EXPECT_EQ(y[163], 620.5f);  // 42*15 - 0.5*19
  EXPECT_EQ(y[131], 0.0f);    // sub-block 4: scale 0, min 0
}

// Q5_K: as Q4_K, plus a fifth bit per element at bit e/32 of qh[e%32].
TEST(QuantLayout, Q5_KFifthBit) {
  const BlockQ4_K q4 = hand_q4k();
  BlockQ5_K b{};
  b.d = q4.d;
  b.dmin = q4.dmin;
  std::memcpy(b.scales, q4.scales, sizeof b.scales);
  std::memcpy(b.qs, q4.qs, sizeof b.qs);
  b.qh[3] = 0x20;  // element 5*32 + 3 = 163
  const auto y = decode(TensorType::Q5_K, b);
  EXPECT_EQ(y[0], 34.0f);
  EXPECT_EQ(y[163], 1292.5f);  // 42*31 - 9.5
}

// Q6_K: in 128-element half h, quarter t (32 elements) has its low nibble in
// ql[64h + 32(t&1) + l] (low nibble for t<2, high for t>=2) and its top 2 bits at
// 2t of qh[32h + l]; value = d * scales[e/16] * (q - 32).
TEST(QuantLayout, Q6_KSplitBits) {
  BlockQ6_K b{};
  b.d = kHalfHalf;
  b.scales[0] = 2;
  b.scales[4] = 1;
  b.scales[10] = -3;
  b.ql[0] = 0x0F;  // element 0 low nibble 15; element 64 low nibble 0
  b.qh[0] = 0x02;  // element 0 top bits 2 -> q = 47
  const auto y = decode(TensorType::Q6_K, b);
  EXPECT_EQ(y[0], 15.0f);    // 0.5 * 2 * 15
  EXPECT_EQ(y[64], -16.0f);  // 0.5 * 1 * -32
  EXPECT_EQ(y[160], 48.0f);  // 0.5 * -3 * -32
  EXPECT_EQ(y[1], -32.0f);   // 0.5 * 2 * -32
}

// Q8_K: an fp32 scale; bsums are caches and do not enter the values.
TEST(QuantLayout, Q8_KFloatScale) {
  BlockQ8_K b{};
  b.d = 0.5f;
  b.qs[3] = -7;
  b.bsums[0] = 1234;
  const auto y = decode(TensorType::Q8_K, b);
  EXPECT_EQ(y[3], -3.5f);
  EXPECT_EQ(y[0], 0.0f);
}

TEST(QuantLayout, Q8_KQuantizerFillsBlockSums) {
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i % 16) - 7.0f;
  x[5] = -127.0f;  // the signed extreme maps to -127 exactly: d = 1
  BlockQ8_K b{};
  quantize_row(TensorType::Q8_K, x.data(), &b, 256);
  EXPECT_EQ(b.d, 1.0f);
  EXPECT_EQ(b.qs[5], -127);
  EXPECT_EQ(b.bsums[0], 8 - 127 - (5 - 7));  // sum(-7..8) with element 5 replaced
  EXPECT_EQ(b.bsums[15], 8);
}

TEST(QuantLayout, HalfTypes) {
  const uint16_t f16[] = {0x3c00, 0xc000, 0x0001, 0x7c00};
  std::vector<float> y(4);
  dequantize_row(TensorType::F16, f16, y.data(), 4);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 0x1p-24f);
  EXPECT_EQ(y[3], std::numeric_limits<float>::infinity());
  const uint16_t bf16[] = {0x3f80, 0x4049};
  dequantize_row(TensorType::BF16, bf16, y.data(), 2);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 0x1.92p+1f);
}

// ---- the API around the formats -----------------------------------------------------

TEST(QuantApi, ReportsSupport) {
  for (TensorType t : test::supported_types()) {
    EXPECT_TRUE(can_quantize(t)) << type_name(t);
    EXPECT_TRUE(can_dequantize(t)) << type_name(t);
  }
  for (TensorType t : {TensorType::IQ2_XXS, TensorType::IQ4_NL, TensorType::I8, TensorType::F64, TensorType::MXFP4}) {
    EXPECT_FALSE(can_quantize(t)) << type_name(t);
    EXPECT_FALSE(can_dequantize(t)) << type_name(t);
  }
  EXPECT_FALSE(can_dequantize(static_cast<TensorType>(4)));  // an id ggml retired
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(QuantApi, UnsupportedTypesThrowNamingTheType) {
  float x[256] = {};
  uint8_t buf[512] = {};
  EXPECT_NE(error_of([&] { dequantize_row(TensorType::IQ2_XXS, buf, x, 256); }).find("IQ2_XXS"), std::string::npos);
  EXPECT_NE(error_of([&] { quantize_row(TensorType::IQ4_NL, x, buf, 32); }).find("IQ4_NL"), std::string::npos);
  EXPECT_NE(error_of([&] { dequantize_row(static_cast<TensorType>(1234), buf, x, 1); }).find("1234"),
            std::string::npos);
}

TEST(QuantApi, RejectsPartialBlocks) {
  float x[64] = {};
  uint8_t buf[128] = {};
  const std::string msg = error_of([&] { quantize_row(TensorType::Q4_0, x, buf, 33); });
  EXPECT_NE(msg.find("Q4_0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("33"), std::string::npos) << msg;
  EXPECT_THROW(dequantize_row(TensorType::Q8_0, buf, x, -32), Error);
  EXPECT_THROW(dequantize_row(TensorType::Q4_K, buf, x, 32), Error);
  // Zero elements is a valid, empty row (null pointers included).
  EXPECT_NO_THROW(dequantize_row(TensorType::Q4_K, nullptr, nullptr, 0));
  EXPECT_NO_THROW(quantize_row(TensorType::Q4_K, nullptr, nullptr, 0));
}

}  // namespace
}  // namespace frugal
