// How `frugal plan` shows its answers: a comparison table and per-chip batch curves as
// text, the same as JSON, and an SVG of decode tokens/s against batch size per chip.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/plan.h"

namespace frugal {

struct PlanReport {
  ModelProfile model;
  std::string model_source;  // "preset qwen2.5-7b --type Q4_K_M" or the file path
  PlanOptions options;
  std::string catalog_origin;
  std::string calibration;   // path of the calibration used, "" when none
  std::vector<HardwarePlan> plans;
};

std::string format_bytes(double bytes);  // "4.36 GiB", "56.0 KiB"
std::string plan_text(const PlanReport& r);
nlohmann::json plan_json(const PlanReport& r);
nlohmann::json profile_json(const ModelProfile& m, TensorType kv_type);
// Aggregate decode tokens/s per chip against batch size, one line per hardware, log-log.
std::string plan_svg(const PlanReport& r);

}  // namespace frugal
