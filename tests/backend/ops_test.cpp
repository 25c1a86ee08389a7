// The CPU backend's row-wise ops on activations whose rows it stores padded (widths that
// are a multiple of 1024 floats, kernels/matmul.h activation_stride) and unpadded: what
// goes in through upload_rows comes out of read() row for row, and matmul (float and
// quantized weights, prefill-sized batches through the panel kernels), add, gather_rows,
// rms_norm and swiglu each equal a plain double-precision loop over the host rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "format/gguf.h"
#include "quant/quant.h"

namespace frugal {
namespace {

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A weight [rows, cols] of `type` made from host floats; `deq` receives the values it holds.
std::unique_ptr<Weight> make_weight(Backend& b, TensorType type, const std::vector<float>& host, int64_t rows,
                                    int64_t cols, std::vector<uint8_t>& bytes, std::vector<float>& deq) {
  const size_t rb = row_bytes(type, cols);
  bytes.assign(rb * static_cast<size_t>(rows), 0);
  deq.assign(host.size(), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = host.data() + r * cols;
    uint8_t* dst = bytes.data() + static_cast<size_t>(r) * rb;
    if (type == TensorType::F32) {
      std::memcpy(dst, src, rb);
    } else {
      quantize_row(type, src, dst, cols);
    }
    dequantize_row(type, dst, deq.data() + r * cols, cols);
  }
  GgufTensor t;
  t.name = "w";
  t.type = type;
  t.n_dims = 2;
  t.ne = {cols, rows, 1, 1};
  t.nbytes = bytes.size();
  t.data = bytes.data();
  return b.load_weight(t);
}

std::vector<float> read_all(const Backend& b, const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.rows() * t.cols()));
  b.read(t, out.data());
  return out;
}

// got[r * n_out + j] is sum_c w[j * n_in + c] * x[r * n_in + c] within tol times the sum of
// the products' magnitudes, for every row r < rows.
void expect_product(const std::vector<float>& got, const std::vector<float>& w, const std::vector<float>& x,
                    int64_t rows, int64_t n_out, int64_t n_in, double tol) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n_out; ++j) {
      double want = 0.0, mag = 0.0;
      for (int64_t c = 0; c < n_in; ++c) {
        const double p =
            static_cast<double>(w[static_cast<size_t>(j * n_in + c)]) * x[static_cast<size_t>(r * n_in + c)];
        want += p;
        mag += std::fabs(p);
      }
      ASSERT_NEAR(got[static_cast<size_t>(r * n_out + j)], want, tol * mag) << "row " << r << " out " << j;
    }
  }
}

TEST(BackendOps, RowWiseOpsOnPaddedAndUnpaddedRows) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(7);
  for (const int64_t width : {int64_t{1000}, int64_t{1024}, int64_t{2048}}) {
    SCOPED_TRACE("width " + std::to_string(width));
    constexpr int64_t kRows = 29;  // more than one 12-token panel tile, not a multiple of it
    const auto x = random_floats(static_cast<size_t>(kRows * width), rng);
    const auto y = random_floats(x.size(), rng);
    auto xt = upload_rows(*backend, x, kRows, width);
    auto yt = upload_rows(*backend, y, kRows, width);
    EXPECT_EQ(read_all(*backend, *xt), x);

    // add: exactly the float sums.
    backend->add(*xt, *yt);
    const auto sum = read_all(*backend, *xt);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(sum[i], x[i] + y[i]) << "at " << i;

    // gather_rows: the chosen rows, in order.
    const std::vector<int32_t> pick = {28, 3, 3, 0};
    auto gathered = backend->new_tensor(static_cast<int64_t>(pick.size()), width);
    backend->gather_rows(*yt, pick, *gathered);
    const auto g = read_all(*backend, *gathered);
    for (size_t i = 0; i < pick.size(); ++i) {
      for (int64_t c = 0; c < width; ++c) {
        ASSERT_EQ(g[i * static_cast<size_t>(width) + static_cast<size_t>(c)],
                  y[static_cast<size_t>(pick[i] * width + c)]);
      }
    }

    // rms_norm over whole rows.
    std::vector<uint8_t> nb;
    std::vector<float> nw;
    auto norm_w = make_weight(*backend, TensorType::F32, random_floats(static_cast<size_t>(width), rng), 1, width, nb,
                              nw);
    auto normed = backend->new_tensor(kRows, width);
    backend->rms_norm(*yt, *norm_w, 1e-5f, *normed);
    const auto n = read_all(*backend, *normed);
    for (int64_t r = 0; r < kRows; ++r) {
      double ss = 0.0;
      for (int64_t c = 0; c < width; ++c) {
        const double v = y[static_cast<size_t>(r * width + c)];
        ss += v * v;
      }
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(width) + 1e-5);
      for (int64_t c = 0; c < width; ++c) {
        const auto i = static_cast<size_t>(r * width + c);
        ASSERT_NEAR(n[i], y[i] * inv * nw[static_cast<size_t>(c)], 1e-4) << "row " << r << " col " << c;
      }
    }

    // swiglu: silu(gate) * up.
    auto act = backend->new_tensor(kRows, width);
    backend->swiglu(*yt, *xt, *act);
    const auto s = read_all(*backend, *act);
    for (size_t i = 0; i < s.size(); ++i) {
      const double gv = y[i];
      ASSERT_NEAR(s[i], gv / (1.0 + std::exp(-gv)) * sum[i], 1e-4 * (1.0 + std::fabs(s[i]))) << "at " << i;
    }

    // matmul from these rows (x: width columns) and into rows of this width (the weight has
    // `width` rows), for float weights (F16 panels) and quantized ones.
    for (const TensorType type : {TensorType::F32, TensorType::F16, TensorType::Q8_0}) {
      SCOPED_TRACE(std::string(type_name(type)));
      if (type == TensorType::Q8_0 && width % 32 != 0) continue;
      std::vector<uint8_t> wb, wb2;
      std::vector<float> wd, wd2;
      constexpr int64_t kOut = 64;
      auto w_in =
          make_weight(*backend, type, random_floats(static_cast<size_t>(kOut * width), rng), kOut, width, wb, wd);
      auto mid = backend->new_tensor(kRows, kOut);
      backend->matmul(*xt, *w_in, *mid);
      const auto m = read_all(*backend, *mid);
      auto w_out = make_weight(*backend, type, random_floats(static_cast<size_t>(width * kOut), rng), width, kOut, wb2,
                               wd2);
      auto back = backend->new_tensor(kRows, width);
      backend->matmul(*mid, *w_out, *back);
      const auto o = read_all(*backend, *back);
      // Quantized weights meet int8 activations: compare those against the weights'
      // values with a looser bound scaled by the magnitudes involved.
      const double tol = type == TensorType::Q8_0 ? 2e-2 : 1e-5;
      ASSERT_NO_FATAL_FAILURE(expect_product(m, wd, sum, kRows, kOut, width, tol));
      ASSERT_NO_FATAL_FAILURE(expect_product(o, wd2, m, kRows, width, kOut, tol));
    }
  }
}

}  // namespace
}  // namespace frugal
