// Per-tensor types of the Q4_K_M / Q5_K_M mixes and the single-type file types, as
// llama.cpp's llama-quantize assigns them. The tables are written out by hand from its
// rules; docs/performance.md records a check against `llama-quantize --dry-run`.
#include <gtest/gtest.h>

#include <set>

#include "tools/presets.h"
#include "tools/quant_mix.h"

namespace frugal {
namespace {

constexpr TensorType F16 = TensorType::F16, F32 = TensorType::F32, Q4_0 = TensorType::Q4_0,
                     Q4_K = TensorType::Q4_K, Q5_0 = TensorType::Q5_0, Q5_K = TensorType::Q5_K,
                     Q6_K = TensorType::Q6_K, Q8_0 = TensorType::Q8_0;

// Layers whose attn_v and ffn_down get Q6_K in Q4_K_M / Q5_K_M: the first n/8, the last
// n/8 and every third layer in between, for the layer counts of the presets.
const std::map<int, std::set<int>> kMoreBits = {
    {1, {0}},
    {2, {1}},
    {16, {0, 1, 4, 7, 10, 13, 14, 15}},                                       // llama3.2-1b
    {24, {0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23}},                        // qwen2.5-0.5b
    {28, {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27}},                // qwen2.5-7b, qwen3-0.6b
    {32, {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}},         // llama3.1-8b, mistral-7b
    {36, {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 31, 32, 33, 34, 35}}, // qwen3-8b
};

TEST(QuantMix, UseMoreBitsLayers) {
  for (const auto& [n, layers] : kMoreBits) {
    for (int i = 0; i < n; ++i) EXPECT_EQ(use_more_bits(i, n), layers.count(i) == 1) << "layer " << i << " of " << n;
  }
}

std::map<std::string, TensorType> types_of(const std::string& preset, const char* type, int layers = 0) {
  const SynthSpec s = preset_spec(find_preset(preset), *parse_file_type(type), layers, 1);
  std::map<std::string, TensorType> out;
  for (const auto& t : synth_tensor_plan(s, find_preset(preset).n_vocab)) out[t.name] = t.type;
  return out;
}

// Llama 3.2 1B (16 layers, 2048 wide, tied embeddings), Q4_K_M:
//   token_embd Q6_K (tied: it is the output), attn_v / ffn_down Q6_K in layers
//   {0,1,4,7,10,13,14,15} else Q4_K, every other matrix Q4_K, norms and vectors F32.
TEST(QuantMix, Llama32_1B_Q4_K_M) {
  const auto t = types_of("llama3.2-1b", "Q4_K_M");
  EXPECT_EQ(t.at("token_embd.weight"), Q6_K);
  EXPECT_EQ(t.count("output.weight"), 0u);
  EXPECT_EQ(t.at("output_norm.weight"), F32);
  for (int i = 0; i < 16; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const TensorType more = kMoreBits.at(16).count(i) ? Q6_K : Q4_K;
    EXPECT_EQ(t.at(b + "attn_v.weight"), more) << i;
    EXPECT_EQ(t.at(b + "ffn_down.weight"), more) << i;
    for (const char* n : {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"}) {
      EXPECT_EQ(t.at(b + n + ".weight"), Q4_K) << b << n;
    }
    EXPECT_EQ(t.at(b + "attn_norm.weight"), F32);
  }
}

// Llama 3.1 8B (32 layers, untied), Q5_K_M: output Q6_K, token_embd stays Q5_K (llama-
// quantize gives untied embeddings the base type), attn_v / ffn_down Q6_K in the
// use_more_bits layers.
TEST(QuantMix, Llama31_8B_Q5_K_M) {
  const auto t = types_of("llama3.1-8b", "Q5_K_M");
  EXPECT_EQ(t.at("token_embd.weight"), Q5_K);
  EXPECT_EQ(t.at("output.weight"), Q6_K);
  for (int i = 0; i < 32; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const TensorType more = kMoreBits.at(32).count(i) ? Q6_K : Q5_K;
    EXPECT_EQ(t.at(b + "attn_v.weight"), more) << i;
    EXPECT_EQ(t.at(b + "ffn_down.weight"), more) << i;
    EXPECT_EQ(t.at(b + "attn_q.weight"), Q5_K) << i;
    EXPECT_EQ(t.at(b + "ffn_up.weight"), Q5_K) << i;
  }
}

// Qwen2.5 0.5B: 896 is not a multiple of 256, so K types fall back on every matrix whose
// rows are 896 long: Q4_K -> Q5_0, Q6_K -> Q8_0. ffn_down rows are 4864 = 19 * 256 long.
//   token_embd (tied) Q8_0; attn_q/k/output, ffn_gate/up Q5_0; attn_v Q8_0 (more bits) or
//   Q5_0; ffn_down Q6_K (more bits) or Q4_K; biases F32.
TEST(QuantMix, Qwen25_05B_Q4_K_M_FallsBackOnNarrowRows) {
  const auto t = types_of("qwen2.5-0.5b", "Q4_K_M");
  EXPECT_EQ(t.at("token_embd.weight"), Q8_0);
  for (int i = 0; i < 24; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const bool more = kMoreBits.at(24).count(i) == 1;
    EXPECT_EQ(t.at(b + "attn_v.weight"), more ? Q8_0 : Q5_0) << i;
    EXPECT_EQ(t.at(b + "ffn_down.weight"), more ? Q6_K : Q4_K) << i;
    for (const char* n : {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"}) {
      EXPECT_EQ(t.at(b + n + ".weight"), Q5_0) << b << n;
    }
    EXPECT_EQ(t.at(b + "attn_q.bias"), F32);
  }
}

// Single types: every matrix the type except the output (and tied embeddings), which
// llama-quantize makes Q6_K unless the type is Q8_0; float types convert everything.
TEST(QuantMix, SingleTypesFollowTheOutputRule) {
  auto t = types_of("llama3.2-1b", "Q4_0", 2);
  EXPECT_EQ(t.at("token_embd.weight"), Q6_K);
  EXPECT_EQ(t.at("blk.1.attn_v.weight"), Q4_0);
  EXPECT_EQ(t.at("blk.1.ffn_down.weight"), Q4_0);
  t = types_of("llama3.2-1b", "Q8_0", 2);
  EXPECT_EQ(t.at("token_embd.weight"), Q8_0);
  EXPECT_EQ(t.at("blk.0.ffn_up.weight"), Q8_0);
  t = types_of("qwen2.5-0.5b", "Q4_0", 2);
  EXPECT_EQ(t.at("token_embd.weight"), Q8_0);  // 896 % 256 != 0: Q8_0, not Q6_K
  EXPECT_EQ(t.at("blk.0.attn_q.weight"), Q4_0);
  t = types_of("llama3.1-8b", "Q4_0", 1);
  EXPECT_EQ(t.at("token_embd.weight"), Q4_0);  // untied: the base type
  EXPECT_EQ(t.at("output.weight"), Q6_K);
  t = types_of("mistral-7b", "F16", 1);
  EXPECT_EQ(t.at("token_embd.weight"), F16);
  EXPECT_EQ(t.at("output.weight"), F16);
  EXPECT_EQ(t.at("blk.0.attn_norm.weight"), F32);
}

TEST(QuantMix, PureGivesEveryMatrixTheType) {
  const FileType pure = *parse_file_type("Q4_0", true);
  EXPECT_EQ(pure.rule, MixRule::Pure);
  EXPECT_EQ(choose_tensor_type(pure, TensorRole::Output, 0, 16, 2048, false), Q4_0);
  EXPECT_EQ(choose_tensor_type(pure, TensorRole::TokenEmbd, 0, 16, 2048, true), Q4_0);
  EXPECT_EQ(choose_tensor_type(pure, TensorRole::Vector, 0, 16, 2048, true), F32);
  // Fallback still applies: a K type on rows that are not a multiple of 256.
  EXPECT_EQ(choose_tensor_type(*parse_file_type("Q6_K", true), TensorRole::AttnQ, 0, 1, 896, false), Q8_0);
  EXPECT_EQ(choose_tensor_type(*parse_file_type("Q5_K", true), TensorRole::AttnQ, 0, 1, 896, false),
            TensorType::Q5_1);
  EXPECT_EQ(choose_tensor_type(*parse_file_type("Q2_K", true), TensorRole::AttnQ, 0, 1, 896, false), Q4_0);
  EXPECT_EQ(choose_tensor_type(*parse_file_type("Q4_0", true), TensorRole::AttnQ, 0, 1, 48, false), F16);
}

TEST(QuantMix, FileTypeNumbersAndNames) {
  EXPECT_EQ(llama_ftype(*parse_file_type("Q4_K_M")), 15u);
  EXPECT_EQ(llama_ftype(*parse_file_type("q5_k_m")), 17u);
  EXPECT_EQ(llama_ftype(*parse_file_type("Q4_0")), 2u);
  EXPECT_EQ(llama_ftype(*parse_file_type("Q8_0")), 7u);
  EXPECT_EQ(llama_ftype(*parse_file_type("Q6_K")), 18u);
  EXPECT_EQ(llama_ftype(*parse_file_type("BF16")), 32u);
  EXPECT_EQ(llama_ftype(*parse_file_type("F32")), 0u);
  EXPECT_EQ(llama_ftype_name(15), "Q4_K - Medium");
  EXPECT_EQ(llama_ftype_name(0), "all F32");
  EXPECT_FALSE(parse_file_type("Q8_K").has_value());  // internal only
  EXPECT_FALSE(parse_file_type("IQ4_XS").has_value());
  EXPECT_FALSE(parse_file_type("nonsense").has_value());
}

}  // namespace
}  // namespace frugal
