#include "tools/plan_report.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace frugal {

namespace {

std::string human_count(double n) {
  if (n >= 1e9) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.1f} M", n / 1e6);
  return fmt::format("{:.0f}", n);
}

std::string rate(double tps) {
  if (tps >= 1000) return fmt::format("{:.0f}", tps);
  if (tps >= 10) return fmt::format("{:.1f}", tps);
  return fmt::format("{:.2f}", tps);
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string format_bytes(double b) {
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  return fmt::format("{:.1f} KiB", b / 1024.0);
}

std::string plan_text(const PlanReport& r) {
  const ModelProfile& m = r.model;
  const PlanOptions& o = r.options;
  const double kv = static_cast<double>(m.kv_bytes_per_token(o.kv_type));
  const int dctx = o.decode_ctx > 0 ? o.decode_ctx : o.ctx;
  std::string s;
  s += fmt::format("model: {} {} ({}), {} params, {} of weights, {} read per decoded token\n", m.name, m.file_type,
                   r.model_source, human_count(static_cast<double>(m.n_params)),
                   format_bytes(static_cast<double>(m.weight_bytes)), format_bytes(static_cast<double>(m.decode_bytes)));
  s += fmt::format("       KV cache {} per token ({}), {} per {}-token user\n", format_bytes(kv),
                   std::string(type_name(o.kv_type)), format_bytes(kv * o.ctx), o.ctx);
  s += fmt::format("       decode {:.2f} GFLOP per token at {} tokens of context ({:.2f} at 0); prefill of {} tokens "
                   "{:.1f} GFLOP\n",
                   m.decode_flops(dctx) / 1e9, dctx, m.decode_flops(0) / 1e9, o.prompt, m.prefill_flops(o.prompt) / 1e9);
  s += fmt::format("load:  {} user{} x {} tokens of context (decode estimated at {}), prompt {}", o.concurrency,
                   o.concurrency == 1 ? "" : "s", o.ctx, dctx, o.prompt);
  if (o.target_tokens_per_s > 0) s += fmt::format(", target {:.0f} tokens/s aggregate", o.target_tokens_per_s);
  if (o.ttft_ms > 0) s += fmt::format(", time to first token <= {:.0f} ms", o.ttft_ms);
  s += "\n";
  s += fmt::format("catalog: {}{}\n\n", r.catalog_origin,
                   r.calibration.empty() ? "; no calibration (cpu factors from the catalog)"
                                         : "; cpu factors from calibration " + r.calibration);

  s += fmt::format("| {:<12} | {:>20} | {:>4} | {:>10} | {:>5} | {:>9} | {:>8} | {:>8} | {:>5} | {:>9} | {:>9} | {:>5} | {:>7} | {:>6} |\n",
                   "hardware", "need / usable 1 chip", "fits", "users/chip", "inst", "1 stream", "prefill", "TTFT ms",
                   "users", "t/s/user", "aggregate", "chips", "servers", "kW");
  s += fmt::format("|{:-<14}|{:-<22}|{:-<6}|{:-<12}|{:-<7}|{:-<11}|{:-<10}|{:-<10}|{:-<7}|{:-<11}|{:-<11}|{:-<7}|{:-<9}|{:-<8}|\n",
                   "", "", "", "", "", "", "", "", "", "", "", "", "", "");
  for (const auto& p : r.plans) {
    const std::string need = fmt::format("{:.1f}/{:.1f} GiB", p.need_bytes / (1024.0 * 1024 * 1024),
                                         p.usable_bytes / (1024.0 * 1024 * 1024));
    if (p.instance_chips == 0) {
      s += fmt::format("| {:<12} | {:>20} | {:>4} | {:>10} | does not fit\n", p.hw.name, need, "no", 0);
      continue;
    }
    s += fmt::format("| {:<12} | {:>20} | {:>4} | {:>10} | {:>5} | {:>9} | {:>8} | {:>8} | {:>5} | {:>9} | {:>9} | {:>5} | {:>7} | {:>6} |\n",
                     p.hw.name, need, p.fits_one_chip ? "yes" : "no", p.max_concurrency_one_chip,
                     fmt::format("{}x", p.instance_chips), rate(p.decode_tps_single), rate(p.prefill_tps),
                     fmt::format("{:.0f}", p.ttft_ms), p.users_per_instance, rate(p.stream_tps_at_load),
                     rate(p.aggregate_tps_at_load), p.chips, p.servers,
                     p.power_kw > 0 ? fmt::format("{:.1f}", p.power_kw) : "-");
  }
  s += "\n(need: weights + KV of all users on one chip; users/chip: users whose KV fits beside the weights on one chip; "
       "inst: chips per model instance (tensor parallel); 1 stream, prefill: tokens/s of one instance; TTFT: a lone "
       "request's prompt; users: per instance at this load; t/s/user: each user's decode speed; aggregate, chips, "
       "servers, kW: the whole load)\n";

  for (const auto& p : r.plans) {
    s += fmt::format("\n{} ({}): {:.0f} GB/s x {:.2f}, {} {:.1f} TFLOPS x {:.2f} [{}]", p.hw.name, p.hw.display_name,
                     p.hw.memory_bandwidth_gbps, p.rates.bandwidth / (p.hw.memory_bandwidth_gbps * 1e9),
                     p.rates.dtype, p.hw.peak_tflops.count(p.rates.dtype) ? p.hw.peak_tflops.at(p.rates.dtype) : 0.0,
                     p.rates.flops / (p.hw.peak_tflops.count(p.rates.dtype) ? p.hw.peak_tflops.at(p.rates.dtype) * 1e12 : 1.0),
                     p.rates.efficiency_source);
    s += fmt::format("{}\n", p.instance_chips > 1 ? fmt::format(", instance of {} chips", p.instance_chips) : "");
    for (const auto& n : p.notes) s += fmt::format("  note: {}\n", n);
    if (p.curve.empty()) continue;
    s += fmt::format("  {:>7} | {:>14} | {:>14} | {}\n", "batch", "t/s per stream", "aggregate t/s", "bound");
    for (const auto& b : p.curve) {
      s += fmt::format("  {:>7} | {:>14} | {:>14} | {}\n", b.batch, rate(b.stream_tps), rate(b.aggregate_tps),
                       b.compute_bound ? "compute" : "memory");
    }
  }
  return s;
}

nlohmann::json profile_json(const ModelProfile& m, TensorType kv_type) {
  nlohmann::json j;
  j["name"] = m.name;
  j["arch"] = m.arch;
  j["file_type"] = m.file_type;
  j["n_layer"] = m.n_layer;
  j["n_embd"] = m.n_embd;
  j["n_head"] = m.n_head;
  j["n_head_kv"] = m.n_head_kv;
  j["head_dim"] = m.head_dim_k;
  j["n_ff"] = m.n_ff;
  j["n_vocab"] = m.n_vocab;
  j["tied_embeddings"] = m.tied_embeddings;
  j["n_params"] = m.n_params;
  j["weight_bytes"] = m.weight_bytes;
  j["decode_bytes_per_token"] = m.decode_bytes;
  j["kv_bytes_per_token"] = m.kv_bytes_per_token(kv_type);
  j["kv_type"] = std::string(type_name(kv_type));
  j["decode_flops_per_token_at_ctx0"] = m.decode_flops(0);
  j["decode_flops_per_context_token"] = m.decode_flops(1) - m.decode_flops(0);
  j["bytes_by_type"] = m.bytes_by_type;
  return j;
}

nlohmann::json plan_json(const PlanReport& r) {
  const PlanOptions& o = r.options;
  nlohmann::json j;
  j["model"] = profile_json(r.model, o.kv_type);
  j["model"]["source"] = r.model_source;
  j["model"]["prefill_flops"] = r.model.prefill_flops(o.prompt);
  j["options"] = {{"ctx", o.ctx},
                  {"decode_ctx", o.decode_ctx > 0 ? o.decode_ctx : o.ctx},
                  {"concurrency", o.concurrency},
                  {"prompt", o.prompt},
                  {"target_tokens_per_s", o.target_tokens_per_s},
                  {"ttft_ms", o.ttft_ms},
                  {"dtype", o.dtype}};
  j["catalog"] = r.catalog_origin;
  j["calibration"] = r.calibration;
  j["hardware"] = nlohmann::json::array();
  for (const auto& p : r.plans) {
    nlohmann::json h;
    h["name"] = p.hw.name;
    h["display_name"] = p.hw.display_name;
    h["class"] = p.hw_class;
    h["source"] = p.hw.source;
    h["memory_gib"] = p.hw.memory_gib;
    h["memory_bandwidth_gbps"] = p.hw.memory_bandwidth_gbps;
    h["peak_tflops"] = p.hw.peak_tflops;
    h["compute_dtype"] = p.rates.dtype;
    h["memory_efficiency"] = p.rates.memory_efficiency;
    h["compute_efficiency"] = p.rates.compute_efficiency;
    h["efficiency_source"] = p.rates.efficiency_source;
    h["effective_bandwidth_gbps"] = p.rates.bandwidth / 1e9;
    h["effective_tflops"] = p.rates.flops / 1e12;
    h["need_bytes_one_chip"] = p.need_bytes;
    h["usable_bytes_one_chip"] = p.usable_bytes;
    h["room_bytes_one_chip"] = p.usable_bytes - p.need_bytes;
    h["fits_one_chip"] = p.fits_one_chip;
    h["max_concurrency_one_chip"] = p.max_concurrency_one_chip;
    h["instance_chips"] = p.instance_chips;
    h["instance_max_users"] = p.instance_max_users;
    h["decode_tps_single_stream"] = p.decode_tps_single;
    h["prefill_tps"] = p.prefill_tps;
    h["ttft_ms"] = p.ttft_ms;
    h["instances"] = p.instances;
    h["users_per_instance"] = p.users_per_instance;
    h["stream_tps_at_load"] = p.stream_tps_at_load;
    h["aggregate_tps_at_load"] = p.aggregate_tps_at_load;
    h["chips"] = p.chips;
    h["servers"] = p.servers;
    h["per_server"] = p.hw.per_server;
    h["power_kw"] = p.power_kw;
    h["notes"] = p.notes;
    h["decode_curve"] = nlohmann::json::array();
    for (const auto& b : p.curve) {
      h["decode_curve"].push_back({{"batch", b.batch},
                                   {"stream_tps", b.stream_tps},
                                   {"aggregate_tps", b.aggregate_tps},
                                   {"bound", b.compute_bound ? "compute" : "memory"}});
    }
    j["hardware"].push_back(h);
  }
  return j;
}

std::string plan_svg(const PlanReport& r) {
  constexpr double W = 860, H = 520, L = 80, R = 220, T = 50, B = 60;
  double max_batch = 1, lo = 1e300, hi = 0;
  for (const auto& p : r.plans) {
    for (const auto& b : p.curve) {
      const double per_chip = b.aggregate_tps / std::max(1, p.instance_chips);
      max_batch = std::max(max_batch, static_cast<double>(b.batch));
      lo = std::min(lo, per_chip);
      hi = std::max(hi, per_chip);
    }
  }
  if (hi <= 0) {
    lo = 1;
    hi = 10;
  }
  const double y0 = std::floor(std::log10(lo)), y1 = std::max(y0 + 1, std::ceil(std::log10(hi)));
  const double x1 = std::max(1.0, std::ceil(std::log2(max_batch)));
  auto px = [&](double batch) { return L + (W - L - R) * std::log2(batch) / x1; };
  auto py = [&](double tps) { return H - B - (H - T - B) * (std::log10(tps) - y0) / (y1 - y0); };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      W, H);
  s += fmt::format("<text x=\"{}\" y=\"24\" font-size=\"15\">{}</text>\n", L,
                   xml_escape(fmt::format("{} {}: decode tokens/s per chip vs batch ({} tokens of context)", r.model.name,
                                          r.model.file_type,
                                          r.options.decode_ctx > 0 ? r.options.decode_ctx : r.options.ctx)));
  for (double e = y0; e <= y1; e += 1) {
    const double y = py(std::pow(10.0, e));
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", L, y, W - R, y);
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", L - 6, y + 4,
                     rate(std::pow(10.0, e)));
  }
  for (double e = 0; e <= x1; e += 1) {
    const double x = px(std::pow(2.0, e));
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#eee\"/>\n", x, T, x, H - B);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:.0f}</text>\n", x, H - B + 16,
                     std::pow(2.0, e));
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">batch size (concurrent streams per instance)</text>\n",
                   (L + W - R) / 2, H - 20);
  s += fmt::format("<text x=\"18\" y=\"{}\" transform=\"rotate(-90 18 {})\" text-anchor=\"middle\">aggregate tokens/s "
                   "per chip</text>\n",
                   (T + H - B) / 2, (T + H - B) / 2);
  static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                 "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8", "#ff9896", "#98df8a"};
  int i = 0;
  for (const auto& p : r.plans) {
    const char* color = colors[i % (sizeof colors / sizeof colors[0])];
    std::string points;
    for (const auto& b : p.curve) {
      points += fmt::format("{:.1f},{:.1f} ", px(b.batch), py(b.aggregate_tps / std::max(1, p.instance_chips)));
    }
    if (!points.empty()) {
      s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", color, points);
    }
    const double ly = T + 10 + 18 * i;
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"3\"/>\n", W - R + 12,
                     ly, W - R + 32, ly, color);
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", W - R + 38, ly + 4,
                     xml_escape(p.instance_chips > 1 ? fmt::format("{} (x{})", p.hw.name, p.instance_chips)
                                : p.curve.empty() ? p.hw.name + " (does not fit)"
                                                  : p.hw.name));
    ++i;
  }
  s += "</svg>\n";
  return s;
}

}  // namespace frugal
