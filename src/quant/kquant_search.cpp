// The K-format scale search described in kquant_search.h.
//
// Sums run in double: the least-squares determinants below subtract nearly equal
// products, and the search compares errors that differ in the last float bits.
// Every float-to-int step goes through round_clamped, and every loop has a fixed bound,
// so NaN or infinite inputs produce some (meaningless) block rather than UB or a hang.
#include "quant/fp_strict.h"  // first: see there

#include "quant/kquant_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/half.h"
#include "quant/rounding.h"

namespace frugal::quant_detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Search effort, tuned against ggml's reference quantizers on Gaussian data (numbers in
// docs/formats.md): finer grids or more refits bought under 1% RMSE for up to twice the
// time; dropping the neighbour search cost 1-3% on Q2_K and Q5_K.
constexpr int kAffineGrid = 12;   // grid steps per affine sub-block (13 candidates)
constexpr int kSymmetricGrid = 8; // grid steps per end of a symmetric sub-block
constexpr int kMaxRefine = 8;     // alternating round/refit passes per sub-block
constexpr int kSuperRefits = 1;   // least-squares refits of the super-scales
constexpr int kScaleRadius = 1;   // neighbours tried around each integer scale/min

// ---- step 1: one sub-block ------------------------------------------------------------

struct Line {
  double a;  // slope: the sub-block scale, >= 0
  double b;  // intercept: minus the sub-block min, <= 0
};

// One sub-block's weighted sums that do not depend on the rounding, so that each
// candidate rounding costs a single pass over the elements.
struct SubBlock {
  const float* x;
  const float* w;
  int n;
  double sw = 0, sx = 0, sxx = 0;

  SubBlock(const float* xs, const float* ws, int count) : x(xs), w(ws), n(count) {
    for (int i = 0; i < n; ++i) {
      sw += w[i];
      sx += static_cast<double>(w[i]) * x[i];
      sxx += static_cast<double>(w[i]) * x[i] * x[i];
    }
  }

  // Weighted least squares for x ~ a*L + b under the format's constraint b <= 0 (mins
  // are stored as non-negative offsets that are subtracted); returns the error, or NaN
  // when L is constant and the line is not determined.
  double fit(const uint8_t* L, Line& out) const {
    // Four partial sums (n is a multiple of 4) to break the addition latency chain.
    double sl4[4] = {}, sll4[4] = {}, sxl4[4] = {};
    for (int i = 0; i < n; i += 4) {
      for (int k = 0; k < 4; ++k) {
        const double wl = static_cast<double>(w[i + k]) * L[i + k];
        sl4[k] += wl;
        sll4[k] += wl * L[i + k];
        sxl4[k] += wl * x[i + k];
      }
    }
    const double sl = (sl4[0] + sl4[1]) + (sl4[2] + sl4[3]);
    const double sll = (sll4[0] + sll4[1]) + (sll4[2] + sll4[3]);
    const double sxl = (sxl4[0] + sxl4[1]) + (sxl4[2] + sxl4[3]);
    const double det = sw * sll - sl * sl;
    if (!(det > 0)) return std::numeric_limits<double>::quiet_NaN();
    double a = (sw * sxl - sl * sx) / det;
    double b = (sll * sx - sl * sxl) / det;
    if (b > 0) {
      b = 0;
      a = sxl / sll;
    }
    if (a < 0) {  // only reachable through cancellation; the best flat fit
      a = 0;
      b = std::min(0.0, sx / sw);
    }
    out = {a, b};
    // sum w (a L + b - x)^2, expanded into the sums above.
    return sxx + a * a * sll + b * b * sw + 2 * (a * b * sl - a * sxl - b * sx);
  }
};

Line fit_sub_affine(const float* x, const float* w, int n, int nmax, uint8_t* L) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  lo = std::min(lo, 0.0f);
  if (!(hi > lo)) {  // constant non-positive sub-block (or NaN): the min alone codes it
    std::fill_n(L, n, 0);
    return {0, lo};
  }
  const SubBlock sub(x, w, n);
  const float range = hi - lo;
  uint8_t trial[32];

  // The plain min/max rounding is the fallback that any candidate must beat.
  Line best{range / static_cast<float>(nmax), lo};
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(round_clamped((x[i] - lo) * (nmax / range), 0, nmax));
  double best_err = sub.fit(L, best);
  if (std::isnan(best_err)) best = {range / static_cast<float>(nmax), lo};
  // Inverse scales that spread the range over nmax-40%..nmax+40% steps: fewer steps
  // than nmax leave room to round outliers down, more let the ends clip.
  for (int k = 0; k <= kAffineGrid; ++k) {
    const float iscale = static_cast<float>(nmax) * (0.6f + 0.8f * static_cast<float>(k) / kAffineGrid) / range;
    for (int i = 0; i < n; ++i) trial[i] = static_cast<uint8_t>(round_clamped((x[i] - lo) * iscale, 0, nmax));
    Line line;
    const double err = sub.fit(trial, line);
    if (err < best_err || (std::isnan(best_err) && !std::isnan(err))) {
      best_err = err;
      best = line;
      std::copy_n(trial, n, L);
    }
  }
  // Alternate "round every element to the line" and "refit the line" while it helps.
  for (int pass = 0; pass < kMaxRefine && best.a > 0; ++pass) {
    const float inv = to_float(1.0 / best.a), b = to_float(best.b);
    bool changed = false;
    for (int i = 0; i < n; ++i) {
      trial[i] = static_cast<uint8_t>(round_clamped((x[i] - b) * inv, 0, nmax));
      changed |= trial[i] != L[i];
    }
    Line line;
    if (!changed) break;
    const double err = sub.fit(trial, line);
    if (!(err < best_err)) break;
    best_err = err;
    best = line;
    std::copy_n(trial, n, L);
  }
  return best;
}

// Symmetric sub-block: x ~ s*L with L in -nmax..nmax-1. For fixed L the best s is
// sum(wxL)/sum(wL^2) and the error falls by sum(wxL)^2/sum(wL^2), which is what the
// search maximises. Both ends of the asymmetric range are tried for the extreme value.
double fit_sub_symmetric(const float* x, const float* w, int n, int nmax, int8_t* L) {
  float extreme = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(extreme)) extreme = x[i];
  }
  std::fill_n(L, n, 0);
  if (!(std::fabs(extreme) > 0)) return 0;

  int8_t trial[32];
  double best_gain = 0, best_scale = 0;
  auto consider = [&](const int8_t* cand) -> bool {
    // Four partial sums: n is a multiple of 4, and independent chains let this
    // latency-bound loop run several times faster.
    double sxl4[4] = {}, sll4[4] = {};
    for (int i = 0; i < n; i += 4) {
      for (int k = 0; k < 4; ++k) {
        const double wl = static_cast<double>(w[i + k]) * cand[i + k];
        sxl4[k] += wl * x[i + k];
        sll4[k] += wl * cand[i + k];
      }
    }
    const double sxl = (sxl4[0] + sxl4[1]) + (sxl4[2] + sxl4[3]);
    const double sll = (sll4[0] + sll4[1]) + (sll4[2] + sll4[3]);
    if (!(sll > 0)) return false;
    const double gain = sxl * sxl / sll;
    if (!(gain > best_gain)) return false;
    best_gain = gain;
    best_scale = sxl / sll;
    std::copy_n(cand, n, L);
    return true;
  };
  for (const float end : {-static_cast<float>(nmax), static_cast<float>(nmax - 1)}) {
    for (int k = 0; k <= kSymmetricGrid; ++k) {
      const float iscale = end * (0.7f + 0.45f * static_cast<float>(k) / kSymmetricGrid) / extreme;
      for (int i = 0; i < n; ++i) trial[i] = static_cast<int8_t>(round_clamped(iscale * x[i], -nmax, nmax - 1));
      consider(trial);
    }
  }
  for (int pass = 0; pass < kMaxRefine && best_scale != 0; ++pass) {
    const float inv = to_float(1.0 / best_scale);
    for (int i = 0; i < n; ++i) trial[i] = static_cast<int8_t>(round_clamped(x[i] * inv, -nmax, nmax - 1));
    if (std::equal(trial, trial + n, L) || !consider(trial)) break;
  }
  return best_scale;
}

// ---- step 2: integer scales under one fp16 super-scale --------------------------------

// Chooses d (returned as fp16 bits) and q[j] in lo..hi minimising sum_j W[j]*(v[j]-d*q[j])^2.
uint16_t quantize_scales(const double* v, const double* W, int n, int lo, int hi, int* q) {
  double extreme = 0;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(v[j]) > std::fabs(extreme)) extreme = v[j];
  }
  for (int j = 0; j < n; ++j) q[j] = 0;
  if (!(std::fabs(extreme) > 0)) return 0;

  uint16_t best_d = 0;
  double best_err = kInf;
  int trial[16];
  auto consider = [&](double d) {
    const uint16_t d16 = fp32_to_fp16(to_float(d));
    const double D = fp16_to_fp32(d16);
    if (!(D != 0) || !std::isfinite(D)) return;
    double err = 0;
    for (int j = 0; j < n; ++j) {
      trial[j] = round_clamped(to_float(v[j] / D), lo, hi);
      const double diff = v[j] - D * trial[j];
      err += W[j] * diff * diff;
    }
    if (err < best_err) {
      best_err = err;
      best_d = d16;
      std::copy(trial, trial + n, q);
    }
  };
  // Map the extreme to either end of the range, shrunk by up to 25% (letting the extreme
  // clip a little can buy a finer step for all the others) or stretched by 5%.
  constexpr int kGrid = 30;
  for (const int end : {lo, hi}) {
    if (end == 0) continue;
    for (int k = 0; k <= kGrid; ++k) consider(extreme / (end * (0.75 + 0.30 * k / kGrid)));
  }
  for (int pass = 0; pass < 2; ++pass) {
    double svq = 0, sqq = 0;
    for (int j = 0; j < n; ++j) {
      svq += W[j] * v[j] * q[j];
      sqq += W[j] * q[j] * q[j];
    }
    if (!(sqq > 0)) break;
    consider(svq / sqq);
  }
  return best_d;
}

// ---- step 3: exact choice of each sub-block's integers ---------------------------------

// 0, +1, -1, +2, -2, ...: the current value first, then its neighbours outwards.
int centred_offset(int k) { return k == 0 ? 0 : (k % 2 ? 1 : -1) * ((k + 1) / 2); }

// Re-chooses every sub-block's scale and min among the neighbours of the current ones,
// with every element re-rounded against the decoded fp16 values exactly as the
// dequantizer computes them. Returns the total weighted error.
double assign_affine(const float* x, const float* w, const AffineFormat& f, uint16_t d16,
                     uint16_t dmin16, int* sc, int* mn, uint8_t* level) {
  const float D = fp16_to_fp32(d16), M = fp16_to_fp32(dmin16);
  const int nsub = kQK_K / f.sub_size;
  double total = 0;
  uint8_t trial[32];
  for (int j = 0; j < nsub; ++j) {
    const float* xs = x + j * f.sub_size;
    const float* ws = w + j * f.sub_size;
    const int sc0 = std::clamp(sc[j], 0, f.scale_max), mn0 = std::clamp(mn[j], 0, f.scale_max);
    double best = kInf;
    // The current integers go first and are always taken, so a NaN error cannot leave
    // the sub-block without a choice; a neighbour must then be strictly better.
    for (int k = 0; k < (2 * kScaleRadius + 1) * (2 * kScaleRadius + 1); ++k) {
      const int s = sc0 + centred_offset(k % (2 * kScaleRadius + 1));
      const int m = mn0 + centred_offset(k / (2 * kScaleRadius + 1));
      if (s < 0 || s > f.scale_max || m < 0 || m > f.scale_max) continue;
      const float dl = D * static_cast<float>(s), ml = M * static_cast<float>(m);
      const float inv = dl > 0 ? 1.0f / dl : 0.0f;
      double err = 0;
      for (int i = 0; i < f.sub_size; ++i) {
        trial[i] = static_cast<uint8_t>(round_clamped((xs[i] + ml) * inv, 0, f.nmax));
        const double diff = static_cast<double>(dl * static_cast<float>(trial[i]) - ml) - xs[i];
        err += ws[i] * diff * diff;
      }
      if (k == 0 || err < best) {
        best = err;
        sc[j] = s;
        mn[j] = m;
        std::copy_n(trial, f.sub_size, level + j * f.sub_size);
      }
    }
    total += best;
  }
  return total;
}

double assign_symmetric(const float* x, const float* w, const SymmetricFormat& f, uint16_t d16,
                        int* sc, uint8_t* level) {
  const float D = fp16_to_fp32(d16);
  const int nsub = kQK_K / f.sub_size;
  double total = 0;
  uint8_t trial[32];
  for (int j = 0; j < nsub; ++j) {
    const float* xs = x + j * f.sub_size;
    const float* ws = w + j * f.sub_size;
    const int sc0 = std::clamp(sc[j], f.scale_lo, f.scale_hi);
    double best = kInf;
    for (int step = 0; step <= 2 * kScaleRadius; ++step) {
      const int s = sc0 + centred_offset(step);
      if (s < f.scale_lo || s > f.scale_hi) continue;
      const float dl = D * static_cast<float>(s);
      const float inv = dl != 0 ? 1.0f / dl : 0.0f;
      double err = 0;
      for (int i = 0; i < f.sub_size; ++i) {
        const int q = round_clamped(xs[i] * inv, -f.nmax, f.nmax - 1);
        trial[i] = static_cast<uint8_t>(q + f.nmax);
        const double diff = static_cast<double>(dl * static_cast<float>(q)) - xs[i];
        err += ws[i] * diff * diff;
      }
      if (step == 0 || err < best) {
        best = err;
        sc[j] = s;
        std::copy_n(trial, f.sub_size, level + j * f.sub_size);
      }
    }
    total += best;
  }
  return total;
}

}  // namespace

// ---- the two drivers --------------------------------------------------------------------

void fit_affine(const float* x, const float* w, const AffineFormat& f, AffineFit& out) {
  const int nsub = kQK_K / f.sub_size;
  double scale[16], min[16], wscale[16], wmin[16];
  for (int j = 0; j < nsub; ++j) {
    const float* xs = x + j * f.sub_size;
    const float* ws = w + j * f.sub_size;
    uint8_t* L = out.level + j * f.sub_size;
    const Line line = fit_sub_affine(xs, ws, f.sub_size, f.nmax, L);
    scale[j] = line.a;
    min[j] = -line.b;
    wscale[j] = wmin[j] = 0;
    for (int i = 0; i < f.sub_size; ++i) {
      wscale[j] += ws[i] * L[i] * L[i];
      wmin[j] += ws[i];
    }
  }
  int sc[16], mn[16];
  uint16_t d16 = quantize_scales(scale, wscale, nsub, 0, f.scale_max, sc);
  uint16_t dmin16 = quantize_scales(min, wmin, nsub, 0, f.scale_max, mn);
  double err = assign_affine(x, w, f, d16, dmin16, sc, mn, out.level);

  for (int pass = 0; pass < kSuperRefits; ++pass) {
    // x_i ~ d*u_i - g*m_i with u_i = sc_j*L_i: a 2x2 weighted least-squares system.
    double A = 0, B = 0, C = 0, P = 0, Q = 0;
    for (int e = 0; e < kQK_K; ++e) {
      const double u = static_cast<double>(sc[e / f.sub_size]) * out.level[e];
      const double m = mn[e / f.sub_size];
      A += w[e] * u * u;
      B += w[e] * u * m;
      C += w[e] * m * m;
      P += w[e] * x[e] * u;
      Q += w[e] * x[e] * m;
    }
    double d = fp16_to_fp32(d16), g = fp16_to_fp32(dmin16);
    const double det = A * C - B * B;
    if (det > 0) {
      d = (P * C - B * Q) / det;
      g = (B * P - A * Q) / det;
    } else if (A > 0) {
      d = (P + B * g) / A;
    }
    int sc2[16], mn2[16];
    std::copy(sc, sc + nsub, sc2);
    std::copy(mn, mn + nsub, mn2);
    AffineFit trial;
    const uint16_t td = fp32_to_fp16(to_float(std::max(d, 0.0)));
    const uint16_t tg = fp32_to_fp16(to_float(std::max(g, 0.0)));
    const double terr = assign_affine(x, w, f, td, tg, sc2, mn2, trial.level);
    if (!(terr < err)) break;
    err = terr;
    d16 = td;
    dmin16 = tg;
    std::copy(sc2, sc2 + nsub, sc);
    std::copy(mn2, mn2 + nsub, mn);
    std::memcpy(out.level, trial.level, sizeof out.level);
  }
  out.d = d16;
  out.dmin = dmin16;
  for (int j = 0; j < nsub; ++j) {
    out.scale[j] = static_cast<uint8_t>(sc[j]);
    out.min[j] = static_cast<uint8_t>(mn[j]);
  }
}

void fit_symmetric(const float* x, const float* w, const SymmetricFormat& f, SymmetricFit& out) {
  const int nsub = kQK_K / f.sub_size;
  double scale[16], wscale[16];
  for (int j = 0; j < nsub; ++j) {
    const float* xs = x + j * f.sub_size;
    const float* ws = w + j * f.sub_size;
    int8_t L[32];
    scale[j] = fit_sub_symmetric(xs, ws, f.sub_size, f.nmax, L);
    wscale[j] = 0;
    for (int i = 0; i < f.sub_size; ++i) {
      wscale[j] += ws[i] * L[i] * L[i];
      out.level[j * f.sub_size + i] = static_cast<uint8_t>(L[i] + f.nmax);
    }
  }
  int sc[16];
  uint16_t d16 = quantize_scales(scale, wscale, nsub, f.scale_lo, f.scale_hi, sc);
  double err = assign_symmetric(x, w, f, d16, sc, out.level);

  for (int pass = 0; pass < kSuperRefits; ++pass) {
    double suu = 0, sxu = 0;
    for (int e = 0; e < kQK_K; ++e) {
      const double u = static_cast<double>(sc[e / f.sub_size]) * (out.level[e] - f.nmax);
      suu += w[e] * u * u;
      sxu += w[e] * x[e] * u;
    }
    if (!(suu > 0)) break;
    int sc2[16];
    std::copy(sc, sc + nsub, sc2);
    uint8_t level[kQK_K];
    const uint16_t td = fp32_to_fp16(to_float(sxu / suu));
    const double terr = assign_symmetric(x, w, f, td, sc2, level);
    if (!(terr < err)) break;
    err = terr;
    d16 = td;
    std::copy(sc2, sc2 + nsub, sc);
    std::memcpy(out.level, level, sizeof level);
  }
  out.d = d16;
  std::copy(sc, sc + nsub, out.scale);
}

}  // namespace frugal::quant_detail
