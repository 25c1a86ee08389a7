// Golden vectors from ggml's reference implementation.
//
// How they were made: a throwaway program (kept outside the repository) linked ggml's
// base library, built from the llama.cpp snapshot whose squashed commit is 80fb11ac73e6
// (2026-09-12, "llama.cpp : bump version to 0.4.0 (#28386)", ggml 0.23.0; newer than the
// llama.cpp 34af94cd used for ../shared/testdata, see stories260K/PROVENANCE.md). For
// dequantization it filled blocks with splitmix64 bytes (seed 2024), overwrote each fp16
// scale with a finite value between 2^-10 and 2, ran ggml's dequantize_row_*, and
// printed the bytes, an FNV-1a checksum of the output floats' bit patterns, and a few
// outputs. For quantization it ran quantize_row_*_ref on golden_input() (seed 77) and
// printed the bytes' checksum and their first 72 bytes. The data below are those
// printouts, unchanged: facts about the formats, not code.
#include <gtest/gtest.h>

#include <limits>

#include "base/half.h"
#include "quant/quant.h"
#include "quant/quant_test_util.h"

namespace frugal {
namespace {

using test::bits_of;

struct Sample {
  int index;
  float value;
};

struct DequantGolden {
  TensorType type;
  const char* bytes_hex;
  uint64_t checksum;  // FNV-1a of the dequantized floats' bit patterns
  Sample samples[7];
};

const DequantGolden kDequant[] = {
    {TensorType::Q4_0,
         "aaae7f597aeb97923031391b8b8555c7f51f5b9970e2162637b9fbaf1680f4a23545ad91",
     0x450caa1e6028e9dfull, {{0, -0x1.753p-1f}, {1, -0x1.aa8p-4f}, {15, -0x1.753p-1f}, {16, 0x1.aa8p-4f}, {17, 0x1.3fep-2f}, {31, 0x1.753p-1f}, {63, -0x1.56cp-9f}}},
    {TensorType::Q4_1,
         "61b5a6a5a26c01100b4ca3cb15973df6ce4dcfd22738b834b831c5e46bf27629c441266972fbe7de",
     0xc23fbb33d7953154ull, {{0, -0x1.638cp-1f}, {1, -0x1.03998p+2f}, {15, -0x1.638cp-1f}, {16, -0x1.b123p+1f}, {17, -0x1.0503p+1f}, {31, -0x1.191d8p+2f}, {63, 0x1.c2b8p+2f}}},
    {TensorType::Q5_0,
         "a3b3b63d15c06954a8cb7bdffcfcdce705c5992010bd501581807a9325376b13c036dddc814a1800d2c231fc",
     0xa2369c1c0e735ccdull, {{0, 0x1.aba8p+0f}, {1, -0x1.e8cp-1f}, {15, 0x1.6e9p-1f}, {16, -0x1.6e9p+0f}, {17, 0x1.5004p+1f}, {31, -0x1.5004p+1f}, {63, 0x1.3ecp-6f}}},
    {TensorType::Q5_1,
         "ffbb3eaf06389a7e6e983f31b77eeda1f9c8f1efc9f1e8895f291fb4e3e03cc07860b616d677f4c10ae18d6e5b685c1b",
     0x167b7ba68997162eull, {{0, -0x1.c367p+3f}, {1, -0x1.819f8p+4f}, {15, -0x1.237bp+3f}, {16, -0x1.870ep+2f}, {17, -0x1.919d8p+4f}, {31, -0x1.037fp+3f}, {63, 0x1.d2b8p-2f}}},
    {TensorType::Q8_0,
         "9d19ba529f3baed84538ef11d6f1b7ff0af7668f3849845ec277955a7f2fc1a3e102af945bf9c20b8b048913d6024350"
         "f5692705a3ee999ca232418530a5a836a4c21d97",
     0xba910c85ae4ac8cdull, {{0, -0x1.88eep-3f}, {1, 0x1.cc4ap-3f}, {15, -0x1.9428p-6f}, {16, 0x1.1e47p-2f}, {17, -0x1.3d268p-2f}, {31, 0x1.674p-8f}, {63, 0x1.ebc7p-4f}}},
    {TensorType::Q2_K,
         "c276414f7d9e0ff4b4c53b52bf02abcf2042150bf9255e447506bb5991751863bfc155c56163a6a257cb73299cbee1b2"
         "4c4ba2d127b0b1573425e49b4c355d0c3cfc84a1b1d90f4db280e59943d0972bdbaf4b3f",
     0x7cfd3d48da6a3846ull, {{0, -0x1.5e1p+4f}, {1, -0x1.65ebp+4f}, {15, -0x1.69d88p+4f}, {16, -0x1.df1bp+3f}, {17, -0x1.aff9p+3f}, {31, -0x1.c78ap+3f}, {255, -0x1.5e1p+4f}}},
    {TensorType::Q3_K,
         "e8b949e0d163bc5a0ef39b0ded44e4f2cb138002baa638694dea97b230b1e99833507ab2ae553af2f533eab0a437645d"
         "13ada46ff01219daec5c5a64903a73aed889235c73cfcccb9a7cd0d600eab61e967833ff0fc75a7b972c508147ac31cf"
         "db6999164885e64989b8b62fe829",
     0x00c73db5d549abe1ull, {{0, 0x1.d88p-3f}, {1, -0x0p+0f}, {15, 0x1.626p-1f}, {16, -0x1.9788p+1f}, {17, -0x1.0fbp+0f}, {31, 0x1.0fbp+1f}, {255, -0x1.f02p+1f}}},
    {TensorType::Q4_K,
         "7d3856b46ae64435d5ec7b8afd083bf108c18a69af831d95d703a23431a7081e8c0e958c7c82929f49a0574f77ff022b"
         "b790ffaee5bda1ef34bea026f0390428875b2005d9c0d50c5127a11c99b7fc625100b0adb01cd787a554953c6c1844c7"
         "8ef4bb84b127b0947d7936b4600493f9134e5e1c006b450512d6ed49547be327630dd98a3752d01c4624f829712f5259",
     0x84af5ba5e130c1daull, {{0, 0x1.8465cp+7f}, {1, 0x1.d412p+4f}, {15, 0x1.4f946p+8f}, {16, 0x1.2073ep+8f}, {17, 0x1.4f946p+8f}, {31, 0x1.08e3ap+8f}, {255, 0x1.f158p+3f}}},
    {TensorType::Q5_K,
         "231d79beb872d45465f722458f33c0988b6f92b656570b3f59760543f0d440823476bc5fb8908e0003cc2ba18d835c06"
         "46fdbb3f55741242392b5a88262a1d3f494e0e80e7e35caf10aa724027360400874f7d48adfe2e95aaab60be0e112b84"
         "02a70cff06a49796c3bf64145666c6bd03308980dc224861c32f80331c0c4cd362c38656bb8b839a2cc00bbb56dd793c"
         "5802e9b9eab0eedfad20af9386de13cb453b4fc990355bd1b266e3d5adad6fd3",
     0x35b4daa316250477ull, {{0, 0x1.08357p+6f}, {1, 0x1.101308p+6f}, {15, 0x1.0057d8p+6f}, {16, 0x1.f333dp+5f}, {17, 0x1.fe706p+5f}, {31, 0x1.defap+5f}, {255, 0x1.50275p+5f}}},
    {TensorType::Q6_K,
         "e1340eb843585d287859324f012678b8f7c6fc287ae2798b09e23968419fa5c588e50f9ef67c8d94ac09b3a1b21a2187"
         "e28d08b11e10219b3c0811871c633342994922336712a75b77a02b0da387c378a58dee3e1739833cb217e28628f801c9"
         "120cc1147e5d5b0a905d009758973ee5260afa9e71b3692d558c2a20dbcac966d41e2d40e2732f00873a6ffcd0062aa1"
         "b4193aa5890927f9670a7348f378039b9b0aff1c5047c6579f7f4d244b6b76ff8225a9daf92ae8cb1ef244c5ebc29801"
         "0cb808da0fcfd815639ab439247f9a818831",
     0xfca846c4a08e5e8aull, {{0, -0x1.0134p+6f}, {1, 0x1.098p+3f}, {15, -0x1.098p+4f}, {16, 0x1.3722p+8f}, {17, 0x1.f1dp+6f}, {31, -0x1.055ap+8f}, {255, 0x1.1d60cp+9f}}},
    {TensorType::Q8_K,
         "0000303c8073115b2e2ed5aebffc0eaf7afc08d580ee24c1a696867264e5590a8e767f0195d905e81677edccd9f2da20"
         "dc38006964e41935cc0cbf0aec558d01399aea65916b1b3a6a59552c07037470f7e6c7cb9f0e715961371f8f330571af"
         "8dc9faed376d27bbeef1412b9abc35afa6c667d094e025e876066a215c7b588bb36564323a7b41f100db88e28cb10714"
         "7a3ce49ff1f65c3c7f3b8724bbcb4421027fac3949b071e1d46970d151e248c9740c3137f892d3a39c81ce9a428e5ea4"
         "0f3aba77795c8fe4489055689b13ae2dfec1d53ac7a18d16db6b3d6ce3251d0df52b772649b094d971c9366dd43aab66"
         "d35e4b814e112846bbd787d45ec2376e3ccce936a28e9f935f49fc9222dfc7d84feff116d2b0edb7e2ba4b7961957fdb"
         "6777271f",
     0x03ee0c93d498a67cull, {{0, -0x1.6p+0f}, {1, 0x1.3c4p+0f}, {15, -0x1.d9p-2f}, {16, -0x1.6p+0f}, {17, -0x1.8cp-3f}, {31, 0x1.6p-7f}, {255, 0x1.29p-1f}}},
};

TEST(QuantGolden, DequantizeMatchesGgml) {
  for (const auto& g : kDequant) {
    SCOPED_TRACE(std::string(type_name(g.type)));
    const std::vector<uint8_t> bytes = test::from_hex(g.bytes_hex);
    const auto& t = traits(g.type);
    ASSERT_EQ(bytes.size() % t.block_bytes, 0u);
    const int64_t n = static_cast<int64_t>(bytes.size() / t.block_bytes) * t.block_size;
    std::vector<float> out(static_cast<size_t>(n));
    dequantize_row(g.type, bytes.data(), out.data(), n);
    for (const Sample& s : g.samples) {
      EXPECT_EQ(bits_of(out[static_cast<size_t>(s.index)]), bits_of(s.value))
          << "element " << s.index << ": " << out[static_cast<size_t>(s.index)] << " vs " << s.value;
    }
    EXPECT_EQ(test::fnv1a_floats(out), g.checksum);
  }
}

struct QuantGolden {
  TensorType type;
  int n;
  uint64_t checksum;  // FNV-1a of all output bytes
  const char* prefix_hex;  // the first (up to) 72 output bytes
};

const QuantGolden kQuant[] = {
    {TensorType::Q4_0, 96, 0x7805bcaed7fb6e26ull,
         "b137663899b82d970f70668b37268d6b28c2da37465efcc318a01499d32181d496a9eef81041888e8787989888879797"
         "798997780887"},
    {TensorType::Q4_1, 96, 0x16fe76c3740b84e0ull,
         "8437b1c3663899b82d970f70678b37368d6b28c20638dac3464efcc218a01498c32181d496a8dee8944010cd999f9898"
         "a9a99897a7a87a9aa8880997"},
    {TensorType::Q5_0, 96, 0xa763502de624ed2bull,
         "b1335e722c92cc6012505a2d0de1cd057d5d0ab53074da3396e0acfd7c9cf99520401821a55103a82c51bce0103d234c"
         "ff9b001b0e0f2f200f1d2d3ed3013fef000d"},
    {TensorType::Q5_1, 96, 0x6ae8eef71526e15bull,
         "4633b1c35e722c92dd6123715b3e0fe1ce167e5d1cc63194c933dac396e0acfd7c9df99520401821a55103a82d51cce0"
         "6f3c10cd7f7effbb223f20215252313f5f60f5245101032f"},
    {TensorType::Q8_0, 96, 0xde7fa5949b2e2554ull,
         "c027e1fe0d004eea6a86e829eae65029009ee1ae092ca71181ecde00b6a803db9b3bea27e36247aa0081c309ab8c98c0"
         "e4096000bbc975478e1e8a0c4ca5005011265b6d1a310158"},
    {TensorType::Q8_1, 96, 0xbe3c530bf91cc623ull,
         "c02714cce1fe0d004eea6a86e829eae65029009ee1ae092ca71181ecde00b6a803db9b3bea27e5c6e36247aa0081c309"
         "ab8c98c0e4096000bbc975478e1e8a0c4ca5005011265b6d"},
    {TensorType::Q8_K, 512, 0x6fa12abd91ebe78dull,
         "6868563efc0002000bfd0feefd06fdfc0c0600f2fcf40106f302eefdfb00f5f300fbf109fc0e0af300edf701f4eff1f7"
         "fc010e00f6f8110bef04ef020bf3000c03060d100143f2f8"},
};

TEST(QuantGolden, QuantizeMatchesGgmlReference) {
  for (const auto& g : kQuant) {
    SCOPED_TRACE(std::string(type_name(g.type)));
    test::SplitMix rng{77};
    std::vector<float> x(static_cast<size_t>(g.n));
    for (int i = 0; i < g.n; ++i) x[static_cast<size_t>(i)] = test::golden_input(rng, i);
    std::vector<uint8_t> out(row_bytes(g.type, g.n));
    quantize_row(g.type, x.data(), out.data(), g.n);
    const std::vector<uint8_t> prefix = test::from_hex(g.prefix_hex);
    ASSERT_LE(prefix.size(), out.size());
    EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), out.begin()));
    EXPECT_EQ(test::fnv1a(out.data(), out.size()), g.checksum);
  }
}

// fp32 -> fp16 / bf16 of values at the edges of each format, as ggml converts them:
// round to nearest even, overflow to infinity (fp16 above 65519.99), subnormals kept.
TEST(QuantGolden, HalfConversionsMatchGgml) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  struct Case {
    float in;
    uint16_t f16;
    uint16_t bf16;
  };
  const Case cases[] = {
      {0x1.99999ap-4f, 0x2e66, 0x3dcd},   // 0.1
      {-0.0f, 0x8000, 0x8000},
      {0x1.ffcp+15f, 0x7bff, 0x4780},     // 65504, the largest fp16
      {0x1.ffdep+15f, 0x7bff, 0x4780},    // 65519: still rounds down
      {0x1.ffep+15f, 0x7c00, 0x4780},     // 65520: the tie rounds to even = inf
      {0x1p-24f, 0x0001, 0x3380},         // the smallest fp16 subnormal
      {0x1p-25f, 0x0000, 0x3300},         // half of it: tie to even = 0
      {0x1.000002p-25f, 0x0001, 0x3300},  // just above half: rounds up
      {0x1.002p+0f, 0x3c00, 0x3f80},      // 1 + half an fp16 ulp: tie to even (down)
      {0x1.006p+0f, 0x3c02, 0x3f80},      // 1 + 1.5 ulp: tie to even (up)
      {0x1.03p+0f, 0x3c0c, 0x3f82},       // bf16 tie rounds up to even
      {kInf, 0x7c00, 0x7f80},
      {-kInf, 0xfc00, 0xff80},
      {0x1.c363ccp+127f, 0x7c00, 0x7f62}, // 3e38
      {0x1.16c2p-133f, 0x0000, 0x0001},   // fp32 subnormal 1e-40
  };
  for (const Case& c : cases) {
    uint16_t h = 0, b = 0;
    quantize_row(TensorType::F16, &c.in, &h, 1);
    quantize_row(TensorType::BF16, &c.in, &b, 1);
    EXPECT_EQ(h, c.f16) << c.in;
    EXPECT_EQ(b, c.bf16) << c.in;
  }
  // NaN stays a quiet NaN in both.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  uint16_t h = 0, b = 0;
  quantize_row(TensorType::F16, &nan, &h, 1);
  quantize_row(TensorType::BF16, &nan, &b, 1);
  EXPECT_EQ(h, 0x7e00);
  EXPECT_EQ(b, 0x7fc0);
}

}  // namespace
}  // namespace frugal
