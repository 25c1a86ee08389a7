// The capacity planner: bytes and FLOPs per token against numbers worked out by hand, fit
// and no-fit edges, the roofline, chips for a load, the catalog's schema, calibrations.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "format/gguf.h"
#include "support/test_support.h"
#include "tools/bench.h"
#include "tools/plan.h"
#include "tools/plan_report.h"
#include "tools/plan_validate.h"
#include "tools/presets.h"
#include "tools/synth.h"

namespace frugal {
namespace {

ModelProfile llama1b_q8() { return profile_from_preset(find_preset("llama3.2-1b"), *parse_file_type("Q8_0"), "Q8_0"); }

// Llama 3.2 1B: 16 layers, n_embd 2048, n_ff 8192, 32 heads, 8 KV heads of 64, vocab
// 128256, embeddings tied to the output. At Q8_0 every matrix (the tied embeddings too)
// is Q8_0: 34 bytes per 32 weights; norms and rope_freqs stay F32.
TEST(Plan, Llama1bBytesAndParamsByHand) {
  const ModelProfile m = llama1b_q8();
  // Per layer: q 2048*2048 = 4,194,304; k, v 2048*512 = 1,048,576 each; o 4,194,304;
  // gate, up, down 2048*8192 = 16,777,216 each. Sum 60,817,408; x16 = 973,078,528.
  EXPECT_DOUBLE_EQ(m.layer_matmul_params, 973078528.0);
  // Tied: the output projection is token_embd, 2048 * 128256 = 262,668,288.
  EXPECT_DOUBLE_EQ(m.output_params, 262668288.0);
  EXPECT_TRUE(m.tied_embeddings);
  // + norms (2 * 2048 per layer * 16 = 65,536, output_norm 2048) + rope_freqs 32.
  EXPECT_EQ(m.n_params, 973078528ull + 262668288ull + 65536ull + 2048ull + 32ull);  // 1,235,814,432
  // Matrices 1,235,746,816 weights / 32 * 34 = 1,312,980,992 bytes; F32 vectors
  // (65,536 + 2048 + 32) * 4 = 270,464 bytes.
  EXPECT_EQ(m.weight_bytes, 1312980992ull + 270464ull);
  // Tied embeddings are read whole (they are the output matrix), so decode reads it all.
  EXPECT_EQ(m.decode_bytes, m.weight_bytes);
  // KV per token, f16: 16 layers * (8 * 64 K + 8 * 64 V) * 2 bytes = 32,768.
  EXPECT_EQ(m.kv_bytes_per_token(TensorType::F16), 32768u);
  EXPECT_EQ(m.kv_bytes_per_token(TensorType::F32), 65536u);
}

TEST(Plan, Llama1bFlopsByHand) {
  const ModelProfile m = llama1b_q8();
  // Decode at context 0: 2 * (973,078,528 + 262,668,288) = 2,471,493,632 for the matrices,
  // attention over 1 position: 2 * 16 layers * 32 heads * (64 + 64) = 131,072.
  EXPECT_DOUBLE_EQ(m.decode_flops(0), 2471493632.0 + 131072.0);
  // At 1000 cached tokens the new token attends to 1001 positions: + 131,072 * 1001.
  EXPECT_DOUBLE_EQ(m.decode_flops(1000), 2471493632.0 + 131072.0 * 1001);
  // Prefill of 128 tokens: layers 2 * 973,078,528 * 128 = 249,108,103,168; the output once
  // (last token) 2 * 262,668,288 = 525,336,576; attention 131,072 * (1 + ... + 128 = 8256)
  // = 1,082,130,432. Total 250,715,570,176.
  EXPECT_DOUBLE_EQ(m.prefill_flops(128), 250715570176.0);
}

// Qwen2.5-7B: 28 layers, 4 KV heads of 128: f16 KV = 28 * (512 + 512) * 2 = 57,344 bytes
// per token, 1.75 GiB for a 32k context. Untied: decode reads one row of token_embd.
TEST(Plan, Qwen7bKvAndUntiedEmbeddings) {
  const ModelProfile m = profile_from_preset(find_preset("qwen2.5-7b"), *parse_file_type("Q4_K_M"), "Q4_K_M");
  EXPECT_EQ(m.kv_bytes_per_token(TensorType::F16), 57344u);
  EXPECT_EQ(m.kv_bytes_per_token(TensorType::F16) * 32768ull, 1879048192ull);
  EXPECT_FALSE(m.tied_embeddings);
  // token_embd 3584 x 152064 at Q4_K (Q4_K_M leaves embeddings at the base type): 3584 / 256
  // = 14 blocks of 144 bytes = 2016 bytes a row, 306,561,024 bytes in all, 2016 read per token.
  EXPECT_EQ(m.weight_bytes - m.decode_bytes, 306561024ull - 2016ull);
  EXPECT_DOUBLE_EQ(m.output_params, 3584.0 * 152064.0);
}

// The same tensors whether described from a preset or read back from the file synth
// wrote, and the same decode bytes as the benchmark's count.
TEST(Plan, PresetProfileMatchesTheWrittenFile) {
  const auto vocab = GgufFile::open(test::testdata("stories260K/stories260K.gguf"));
  GgufMetadata tok(vocab->path());
  for (const auto& [k, v] : vocab->metadata().entries()) {
    if (k.rfind("tokenizer.", 0) == 0) tok.set(k, v);
  }
  ModelPreset p = find_preset("qwen2.5-0.5b");
  p.n_embd = 128;
  p.n_ff = 256;
  p.n_head = 4;
  p.n_head_kv = 2;
  p.head_dim = 32;
  p.n_vocab = static_cast<int>(tok.get_string_array("tokenizer.ggml.tokens").size());
  for (const char* type : {"Q8_0", "Q4_K_M"}) {
    const FileType ft = *parse_file_type(type);
    const ModelProfile from_preset = profile_from_preset(p, ft, type, 3);
    const std::string path = test::temp_dir() + "/plan-" + type + ".gguf";
    SynthSpec spec = preset_spec(p, ft, 3, 7);
    spec.n_threads = 1;
    write_synthetic_model(spec, tok, path);
    const auto file = GgufFile::open(path);
    const ModelProfile from_file = profile_from_gguf(*file);
    EXPECT_EQ(from_preset.n_params, from_file.n_params) << type;
    EXPECT_EQ(from_preset.weight_bytes, from_file.weight_bytes) << type;
    EXPECT_EQ(from_preset.decode_bytes, from_file.decode_bytes) << type;
    EXPECT_EQ(from_file.decode_bytes, decode_bytes_per_token(*file)) << type;
    EXPECT_DOUBLE_EQ(from_preset.decode_flops(100), from_file.decode_flops(100)) << type;
    EXPECT_EQ(from_file.n_layer, 3);
    EXPECT_EQ(from_file.file_type, type);  // general.file_type 7 -> Q8_0, 15 -> Q4_K_M
  }
}

// A toy model with round numbers: one 256 x 1024 F32 matrix (1 MiB), one layer with one
// KV head of 64: 256 bytes of f16 KV per token, 256 KiB per 1024-token user.
ModelProfile toy() {
  ProfileShape s;
  s.name = "toy";
  s.arch = "llama";
  s.file_type = "F32";
  s.n_layer = 1;
  s.n_embd = 256;
  s.n_head = 1;
  s.n_head_kv = 1;
  s.head_dim_k = s.head_dim_v = 64;
  return make_profile(s, {{"blk.0.ffn_up.weight", {256, 1024}, TensorType::F32}, {"output.weight", {256, 1}, TensorType::F32}});
}

HardwareClass toy_class() {
  HardwareClass c;
  c.name = "gpu";
  c.compute_dtype = "fp16";
  c.memory_efficiency = 1;
  c.compute_efficiency = 1;
  c.usable_memory_fraction = 1;
  c.allreduce_latency_us = 0;
  return c;
}

Hardware toy_chip(double mib) {
  Hardware h;
  h.name = "toy";
  h.hw_class = "gpu";
  h.memory_gib = mib / 1024.0;
  h.memory_bandwidth_gbps = 1;     // 1e9 bytes/s
  h.peak_tflops["fp16"] = 0.001;   // 1e9 flop/s
  h.interconnect_gbps = 2;         // 1e9 bytes/s each way
  h.power_w = 100;
  h.per_server = 4;
  return h;
}

TEST(Plan, FitEdges) {
  const ModelProfile m = toy();
  ASSERT_EQ(m.weight_bytes, 1048576u + 1024u);
  ASSERT_EQ(m.kv_bytes_per_token(TensorType::F16), 256u);
  const double weights_mib = (1048576.0 + 1024.0) / 1048576.0;
  // Room for exactly 4 users of 1024 tokens (4 x 256 KiB) beside the weights.
  const Hardware chip = toy_chip(weights_mib + 1.0);
  const ChipRates r = chip_rates(chip, toy_class(), m, nullptr, "");
  EXPECT_EQ(max_concurrency(m, r, 1, 1024, TensorType::F16), 4);
  EXPECT_EQ(min_chips(m, r, 1024, 4, TensorType::F16, 64), 1);
  EXPECT_EQ(min_chips(m, r, 1024, 5, TensorType::F16, 64), 2);
  EXPECT_EQ(min_chips(m, r, 1024, 5, TensorType::F16, 1), 0);  // over the limit
  // One byte short of the fourth user: three fit.
  Hardware short_chip = chip;
  short_chip.memory_gib -= 1.0 / (1024.0 * 1024 * 1024);
  EXPECT_EQ(max_concurrency(m, chip_rates(short_chip, toy_class(), m, nullptr, ""), 1, 1024, TensorType::F16), 3);
  // Smaller than the weights: nobody fits on one chip; two chips hold them.
  const Hardware tiny = toy_chip(0.5);
  const ChipRates rt = chip_rates(tiny, toy_class(), m, nullptr, "");
  EXPECT_EQ(max_concurrency(m, rt, 1, 1024, TensorType::F16), 0);
  EXPECT_EQ(min_chips(m, rt, 1024, 1, TensorType::F16, 64), 3);  // 1 MiB + 1 KiB + 256 KiB over 0.5 MiB chips

  PlanOptions o;
  o.ctx = 1024;
  o.concurrency = 4;
  HardwarePlan p = plan_for(m, chip, toy_class(), nullptr, o);
  EXPECT_TRUE(p.fits_one_chip);
  EXPECT_DOUBLE_EQ(p.usable_bytes - p.need_bytes, 0.0);
  EXPECT_EQ(p.instances, 1);
  EXPECT_EQ(p.chips, 1);
  o.concurrency = 5;
  p = plan_for(m, chip, toy_class(), nullptr, o);
  EXPECT_FALSE(p.fits_one_chip);
  EXPECT_EQ(p.instance_chips, 1);  // one user fits; more users -> more instances
  EXPECT_EQ(p.instances, 2);
  EXPECT_EQ(p.users_per_instance, 3);
  EXPECT_EQ(p.servers, 1);  // 4 chips a server
  const HardwarePlan none = plan_for(m, toy_chip(0.5), toy_class(), nullptr, [] {
    PlanOptions x;
    x.ctx = 1024;
    x.max_chips_per_instance = 2;
    return x;
  }());
  EXPECT_EQ(none.instance_chips, 0);
  ASSERT_EQ(none.notes.size(), 1u);
  EXPECT_NE(none.notes[0].find("do not fit"), std::string::npos);
}

TEST(Plan, RooflineIsTheSlowerOfMemoryAndCompute) {
  const ModelProfile m = toy();
  const ChipRates r = chip_rates(toy_chip(1024), toy_class(), m, nullptr, "");
  // Batch 1 at context 0: bytes 1,049,600 at 1e9 B/s; flops 2 * (262,144 + 256) + 2*64*2 = 525,056 at 1e9.
  StepTime t = decode_step(m, r, 1, 1, 0, TensorType::F16);
  EXPECT_DOUBLE_EQ(t.memory_s, 1049600.0 / 1e9);
  EXPECT_DOUBLE_EQ(t.compute_s, 525056.0 / 1e9);
  EXPECT_FALSE(t.compute_bound);
  EXPECT_DOUBLE_EQ(t.seconds, t.memory_s);
  // Batch 4: the weights are read once, the arithmetic is 4x: compute-bound.
  t = decode_step(m, r, 1, 4, 0, TensorType::F16);
  EXPECT_DOUBLE_EQ(t.memory_s, 1049600.0 / 1e9);
  EXPECT_DOUBLE_EQ(t.compute_s, 4 * 525056.0 / 1e9);
  EXPECT_TRUE(t.compute_bound);
  // Each stream's cache is read too: 4 streams x 100 tokens x 256 bytes.
  t = decode_step(m, r, 1, 4, 100, TensorType::F16);
  EXPECT_DOUBLE_EQ(t.memory_s, (1049600.0 + 4 * 100 * 256.0) / 1e9);
  // Two chips: half the time each, plus 2 all-reduces per layer of 4 x 256 x 2 bytes, a
  // ring sending 2 * (2 - 1) / 2 of it at 1e9 B/s.
  const StepTime t2 = decode_step(m, r, 2, 4, 100, TensorType::F16);
  EXPECT_DOUBLE_EQ(t2.compute_s, t.compute_s / 2);
  EXPECT_DOUBLE_EQ(t2.comm_s, 2 * (4 * 256 * 2.0) / 1e9);
  // Aggregate tokens/s never falls and per-stream never rises with the batch.
  PlanOptions o;
  o.ctx = 64;
  const HardwarePlan p = plan_for(m, toy_chip(1024), toy_class(), nullptr, o);
  ASSERT_GT(p.curve.size(), 3u);
  for (size_t i = 1; i < p.curve.size(); ++i) {
    EXPECT_GE(p.curve[i].aggregate_tps, p.curve[i - 1].aggregate_tps * (1 - 1e-12));
    EXPECT_LE(p.curve[i].stream_tps, p.curve[i - 1].stream_tps * (1 + 1e-12));
  }
  EXPECT_EQ(p.curve.back().batch, p.instance_max_users);
}

TEST(Plan, ChipsForAThroughputTarget) {
  const ModelProfile m = toy();
  const Hardware chip = toy_chip(1024);
  PlanOptions o;
  o.ctx = 64;
  o.concurrency = 8;
  const HardwarePlan base = plan_for(m, chip, toy_class(), nullptr, o);
  EXPECT_EQ(base.instances, 1);
  // Asking for 1.5x what one instance gives 8 users needs a second instance.
  o.target_tokens_per_s = 1.5 * base.aggregate_tps_at_load;
  const HardwarePlan more = plan_for(m, chip, toy_class(), nullptr, o);
  EXPECT_GE(more.instances, 2);
  EXPECT_GE(more.aggregate_tps_at_load, o.target_tokens_per_s);
  // Beyond what 8 lone streams can do: a note, not a silent answer.
  o.target_tokens_per_s = 9 * base.decode_tps_single;
  const HardwarePlan unreachable = plan_for(m, chip, toy_class(), nullptr, o);
  ASSERT_FALSE(unreachable.notes.empty());
  EXPECT_NE(unreachable.notes[0].find("out of reach"), std::string::npos);
  // A time-to-first-token target grows the instance.
  PlanOptions t;
  t.ctx = 64;
  t.prompt = 1000;
  const double lone = plan_for(m, chip, toy_class(), nullptr, t).ttft_ms;
  t.ttft_ms = lone / 3;
  const HardwarePlan fast = plan_for(m, chip, toy_class(), nullptr, t);
  EXPECT_GE(fast.instance_chips, 3);
  EXPECT_LE(fast.ttft_ms, t.ttft_ms);
}

TEST(Plan, BuiltinCatalogHasEveryRequiredEntryWithSources) {
  const Catalog cat = load_catalog("");
  for (const char* name : {"h100-sxm", "h800", "h20", "a100-80gb", "a800", "l20", "l40s", "rtx-4090", "ascend-910b",
                           "mi300x", "epyc-9654", "xeon-8480+", "kunpeng-920", "local"}) {
    EXPECT_NO_THROW(cat.find(name)) << name;
  }
  for (const auto& h : cat.hardware) {
    SCOPED_TRACE(h.name);
    EXPECT_FALSE(h.source.empty());
    EXPECT_FALSE(h.display_name.empty());
    EXPECT_EQ(cat.classes.count(h.hw_class), 1u);
    if (h.measured) continue;
    EXPECT_EQ(h.source.rfind("https://", 0), 0u);
    EXPECT_GT(h.memory_gib, 0);
    EXPECT_GT(h.memory_bandwidth_gbps, 0);
    EXPECT_GT(h.interconnect_gbps, 0);
    EXPECT_GT(h.power_w, 0);
    EXPECT_GT(h.peak_tflops.at("fp32"), 0);
    EXPECT_GT(h.peak_tflops.at("int8"), 0);
    EXPECT_TRUE(h.peak_tflops.count("fp16") || h.peak_tflops.count("bf16"));
    EXPECT_EQ(h.peak_tflops.count(cat.class_of(h).compute_dtype), 1u);
    // Dense peaks: lower precision is never slower than fp32.
    for (const auto& [dtype, v] : h.peak_tflops) EXPECT_GE(v, h.peak_tflops.at("fp32")) << dtype;
  }
  for (const char* c : {"gpu", "npu", "cpu"}) EXPECT_EQ(cat.classes.count(c), 1u) << c;
  EXPECT_GE(cat.find("h100-sxm").peak_tflops.at("fp8"), 1000);  // Hopper has FP8
  EXPECT_EQ(cat.find("a100-80gb").peak_tflops.count("fp8"), 0u);  // Ampere does not
}

std::string catalog_with(const std::string& entry) {
  return R"({"schema_version": 1, "classes": {"gpu": {"compute_dtype": "fp16", "memory_efficiency": 0.8,
    "compute_efficiency": 0.5, "usable_memory_fraction": 0.9, "allreduce_latency_us": 10}},
    "hardware": [)" + entry + "]}";
}

std::string error_of(const std::string& text) {
  try {
    parse_catalog(text, "test.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Plan, CatalogErrorsNameTheEntryAndField) {
  const std::string good = R"({"name": "x1", "display_name": "X1", "class": "gpu", "memory_gib": 80,
    "memory_bandwidth_gbps": 2000, "peak_tflops": {"fp32": 10, "fp16": 100, "int8": 200}, "interconnect": "link",
    "interconnect_gbps": 100, "power_w": 300, "per_server": 8, "source": "https://example.com/x1"})";
  EXPECT_EQ(error_of(catalog_with(good)), "");
  auto without = [&](const std::string& field) {
    nlohmann::json j = nlohmann::json::parse(good);
    j.erase(field);
    return catalog_with(j.dump());
  };
  auto with = [&](const std::string& field, const nlohmann::json& v) {
    nlohmann::json j = nlohmann::json::parse(good);
    j[field] = v;
    return catalog_with(j.dump());
  };
  std::string e = error_of(without("source"));
  EXPECT_NE(e.find("hardware 'x1'"), std::string::npos) << e;
  EXPECT_NE(e.find("'source'"), std::string::npos) << e;
  e = error_of(with("source", "a datasheet"));
  EXPECT_NE(e.find("https://"), std::string::npos) << e;
  e = error_of(with("memory_bandwidth_gbps", -5));
  EXPECT_NE(e.find("'memory_bandwidth_gbps' is -5"), std::string::npos) << e;
  e = error_of(with("class", "tpu"));
  EXPECT_NE(e.find("'tpu'"), std::string::npos) << e;
  e = error_of(with("peak_tflops", nlohmann::json{{"fp32", 10}, {"int8", 20}}));
  EXPECT_NE(e.find("fp16"), std::string::npos) << e;
  e = error_of(with("peak_tflops", nlohmann::json{{"fp32", 10}, {"fp16", 20}, {"int8", 20}, {"fp4", 1}}));
  EXPECT_NE(e.find("'fp4'"), std::string::npos) << e;
  e = error_of(catalog_with(good + "," + good));
  EXPECT_NE(e.find("twice"), std::string::npos) << e;
  e = error_of("{not json");
  EXPECT_NE(e.find("test.json"), std::string::npos) << e;
  EXPECT_THROW(load_catalog(test::temp_dir() + "/no-such-catalog.json"), Error);
}

ValidationRun fake_run(const std::string& preset, const std::string& type, double decode_tps, double prefill_tps) {
  ValidationRun r;
  r.preset = preset;
  r.type = type;
  r.n_prompt = 128;
  r.n_gen = 33;  // decode context (33 - 1) / 2 = 16
  r.profile = toy();
  r.profile.file_type = type;
  r.profile.matmul_type = type;
  r.read_gbps = 10;
  r.fma_gflops = 100;
  r.measured_decode_tps = decode_tps;
  r.measured_prefill_tps = prefill_tps;
  r.test_time = "2026-01-01T00:00:00Z";
  return r;
}

// The calibration key is the type of most layer matrix elements, whatever the file type.
TEST(Plan, MatmulTypeIsTheTypeOfMostLayerWeights) {
  ProfileShape s;
  s.name = "mix";
  s.arch = "qwen2";
  s.file_type = "Q4_K_M";
  s.n_layer = 1;
  s.n_embd = 896;
  s.n_head = s.n_head_kv = 1;
  s.head_dim_k = s.head_dim_v = 64;
  const ModelProfile m = make_profile(s, {{"token_embd.weight", {896, 100000}, TensorType::Q8_0},
                                          {"blk.0.attn_q.weight", {896, 896}, TensorType::Q4_K},
                                          {"blk.0.ffn_up.weight", {896, 4864}, TensorType::Q5_0},
                                          {"blk.0.ffn_down.weight", {4864, 448}, TensorType::Q6_K}});
  // 896 x 4864 Q5_0 against 4864 x 448 Q6_K and 896 x 896 Q4_K; the embeddings are not a
  // layer matrix.
  EXPECT_EQ(m.matmul_type, "Q5_0");
  EXPECT_EQ(m.file_type, "Q4_K_M");
}

TEST(Plan, CalibrationFromRunsAndBack) {
  // Decode fraction = tps * (1,049,600 + 16 * 256) bytes / 1e10 B/s.
  const double bytes = 1049600.0 + 16 * 256.0;
  // Prefill fast enough that decode stays memory-bound at the calibrated compute rate.
  std::vector<ValidationRun> runs{fake_run("a", "Q4_0", 0.5e10 / bytes, 20000),
                                  fake_run("b", "Q4_0", 0.8e10 / bytes, 20000),
                                  fake_run("a", "Q8_0", 0.6e10 / bytes, 40000)};
  const Calibration c = calibration_from_runs(runs);
  EXPECT_NEAR(c.memory_efficiency.at("Q4_0"), std::sqrt(0.5 * 0.8), 1e-12);  // geometric mean
  EXPECT_NEAR(c.memory_efficiency.at("Q8_0"), 0.6, 1e-12);
  EXPECT_NEAR(c.memory_efficiency.at("default"), std::cbrt(0.5 * 0.8 * 0.6), 1e-12);
  // Prefill fraction = tps / 128 * prefill_flops(128) / 1e11.
  const double pf = toy().prefill_flops(128);
  EXPECT_NEAR(c.compute_efficiency.at("Q8_0"), 40000.0 / 128 * pf / 1e11, 1e-12);
  // Leaving model "b" out leaves only "a"'s Q4_0.
  EXPECT_NEAR(calibration_from_runs(runs, "b").memory_efficiency.at("Q4_0"), 0.5, 1e-12);

  // Round trip through the file; predictions with it reproduce a lone run's measurement.
  Calibration stored = c;
  stored.n_threads = 2;
  const std::string path = test::temp_dir() + "/cal/plan-calibration.json";
  save_calibration(stored, path);
  const auto back = load_calibration(path);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->memory_efficiency, c.memory_efficiency);
  EXPECT_EQ(back->compute_efficiency, c.compute_efficiency);
  EXPECT_EQ(back->n_threads, 2);
  std::vector<ValidationRun> one{runs[2]};
  const Catalog cat = load_catalog("");
  predict_runs(one, cat.classes.at("cpu"), &*back);
  EXPECT_NEAR(one[0].predicted_decode_tps / one[0].measured_decode_tps, 1.0, 1e-9);
  EXPECT_NEAR(one[0].predicted_prefill_tps / one[0].measured_prefill_tps, 1.0, 1e-9);
  EXPECT_FALSE(load_calibration(test::temp_dir() + "/none.json"));
  test::write_file(test::temp_dir() + "/bad-cal.json", R"({"frugal_plan_calibration": 1, "measured_at": "x"})");
  EXPECT_THROW(load_calibration(test::temp_dir() + "/bad-cal.json"), Error);
}

// The calibration replaces the cpu class's factors, per file type, and only for cpus.
TEST(Plan, CalibrationAppliesToCpusOnly) {
  const Catalog cat = load_catalog("");
  Calibration c;
  c.path = "cal.json";
  c.memory_efficiency = {{"default", 0.5}, {"Q4_0", 0.25}};
  c.compute_efficiency = {{"default", 0.4}};
  ModelProfile m = toy();
  m.file_type = "Q4_0";
  const Hardware& epyc = cat.find("epyc-9654");
  const ChipRates r = chip_rates(epyc, cat.class_of(epyc), m, &c, "");
  EXPECT_DOUBLE_EQ(r.bandwidth, 460.8e9 * cat.classes.at("cpu").probe_bandwidth_fraction * 0.25);
  EXPECT_DOUBLE_EQ(r.flops, 7.37e12 * cat.classes.at("cpu").probe_compute_fraction * 0.4);
  m.file_type = "Q6_K";
  EXPECT_DOUBLE_EQ(chip_rates(epyc, cat.class_of(epyc), m, &c, "").memory_efficiency, 0.5);
  // The matmul tensor type is looked up before the file type.
  m.matmul_type = "Q4_0";
  EXPECT_DOUBLE_EQ(chip_rates(epyc, cat.class_of(epyc), m, &c, "").memory_efficiency, 0.25);
  m.matmul_type = "F32";
  const Hardware& h100 = cat.find("h100-sxm");
  const ChipRates g = chip_rates(h100, cat.class_of(h100), m, &c, "");
  EXPECT_DOUBLE_EQ(g.memory_efficiency, cat.classes.at("gpu").memory_efficiency);
  EXPECT_DOUBLE_EQ(g.flops, 989.4e12 * cat.classes.at("gpu").compute_efficiency);
  // --dtype picks another peak where the chip has one, and says so where it has not.
  EXPECT_EQ(chip_rates(h100, cat.class_of(h100), m, &c, "fp8").dtype, "fp8");
  const ChipRates a = chip_rates(cat.find("a100-80gb"), cat.classes.at("gpu"), m, &c, "fp8");
  EXPECT_EQ(a.dtype, "fp16");
  EXPECT_NE(a.note.find("no fp8"), std::string::npos);
}

TEST(Plan, ReportsTextJsonAndSvg) {
  const Catalog cat = load_catalog("");
  PlanReport rep;
  rep.model = profile_from_preset(find_preset("qwen2.5-7b"), *parse_file_type("Q4_K_M"), "Q4_K_M");
  rep.model_source = "preset";
  rep.options.ctx = 32768;
  rep.options.concurrency = 50;
  rep.catalog_origin = cat.origin;
  for (const char* n : {"h20", "h100-sxm", "ascend-910b", "epyc-9654"}) {
    rep.plans.push_back(plan_for(rep.model, cat.find(n), cat.class_of(cat.find(n)), nullptr, rep.options));
  }
  const std::string text = plan_text(rep);
  for (const char* n : {"h20", "h100-sxm", "ascend-910b", "epyc-9654", "aggregate"}) {
    EXPECT_NE(text.find(n), std::string::npos) << n;
  }
  const nlohmann::json j = plan_json(rep);
  ASSERT_EQ(j["hardware"].size(), 4u);
  EXPECT_EQ(j["model"]["kv_bytes_per_token"], 57344);
  for (const auto& h : j["hardware"]) {
    EXPECT_GE(h["chips"].get<int>(), 1);
    EXPECT_GE(h["instance_max_users"].get<int>() * h["instances"].get<int>(), 50);
  }
  const std::string svg = plan_svg(rep);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("polyline"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace frugal
