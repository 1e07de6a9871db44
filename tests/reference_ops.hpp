#pragma once
// Naive double-precision references for the ops in include/finepose/ops/, plus
// random inputs, error measures and central finite differences. Written from
// the math (no shortcuts shared with the kernels) so that agreement means
// something.
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <vector>

namespace ref {

using V = std::vector<double>;
using VF = std::vector<float>;
using i64 = std::int64_t;

inline VF randn(i64 n, std::uint32_t seed, float sd = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, sd);
  VF v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

inline V to_d(const VF& v) { return V(v.begin(), v.end()); }
inline VF to_f(const V& v) { return VF(v.begin(), v.end()); }

// ||a - b|| / ||b|| (b is the reference); 0 when both are zero.
template <class A, class B>
double rel_l2(const A& a, const B& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  if (den == 0) return std::sqrt(num);
  return std::sqrt(num / den);
}

inline double dot(const V& a, const V& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// d loss / d x by central differences, loss(x) a scalar function in double.
inline V fd_grad(const std::function<double(const V&)>& loss, V x, double h = 1e-6) {
  V g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double lp = loss(x);
    x[i] = x0 - h;
    const double lm = loss(x);
    x[i] = x0;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

// ---- gemm ----------------------------------------------------------------
inline void gemm(bool tA, bool tB, i64 M, i64 N, i64 K, double alpha, const V& A, i64 lda,
                 const V& B, i64 ldb, double beta, V& C, i64 ldc) {
  for (i64 i = 0; i < M; ++i)
    for (i64 j = 0; j < N; ++j) {
      double s = 0;
      for (i64 k = 0; k < K; ++k) {
        const double a = tA ? A[k * lda + i] : A[i * lda + k];
        const double b = tB ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      double& c = C[i * ldc + j];
      c = alpha * s + (beta == 0 ? 0.0 : beta * c);
    }
}

// ---- linear: out = in W^T + b ---------------------------------------------
inline V linear(const V& in, const V& W, const V* b, i64 rows, i64 in_f, i64 out_f) {
  V out(std::size_t(rows * out_f));
  for (i64 r = 0; r < rows; ++r)
    for (i64 o = 0; o < out_f; ++o) {
      double s = b ? (*b)[o] : 0.0;
      for (i64 i = 0; i < in_f; ++i) s += in[r * in_f + i] * W[o * in_f + i];
      out[r * out_f + o] = s;
    }
  return out;
}

inline void linear_backward(V& din, V& dW, V& db, const V& dout, const V& in, const V& W, i64 rows,
                            i64 in_f, i64 out_f) {
  din.assign(std::size_t(rows * in_f), 0.0);
  dW.assign(std::size_t(out_f * in_f), 0.0);
  db.assign(std::size_t(out_f), 0.0);
  for (i64 r = 0; r < rows; ++r)
    for (i64 o = 0; o < out_f; ++o) {
      const double g = dout[r * out_f + o];
      db[o] += g;
      for (i64 i = 0; i < in_f; ++i) {
        din[r * in_f + i] += g * W[o * in_f + i];
        dW[o * in_f + i] += g * in[r * in_f + i];
      }
    }
}

// ---- layer norm ------------------------------------------------------------
inline V layer_norm(const V& x, const V& g, const V& b, i64 rows, i64 dim, double eps) {
  V y(x.size());
  for (i64 r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (i64 i = 0; i < dim; ++i) m += x[r * dim + i];
    m /= double(dim);
    for (i64 i = 0; i < dim; ++i) v += (x[r * dim + i] - m) * (x[r * dim + i] - m);
    v /= double(dim);
    const double rs = 1.0 / std::sqrt(v + eps);
    for (i64 i = 0; i < dim; ++i) y[r * dim + i] = (x[r * dim + i] - m) * rs * g[i] + b[i];
  }
  return y;
}

// Backward written out from the chain rule through mean and variance.
inline void layer_norm_backward(V& dx, V& dg, V& db, const V& dy, const V& x, const V& g, i64 rows,
                                i64 dim, double eps) {
  dx.assign(x.size(), 0.0);
  dg.assign(std::size_t(dim), 0.0);
  db.assign(std::size_t(dim), 0.0);
  for (i64 r = 0; r < rows; ++r) {
    const double* xr = &x[std::size_t(r * dim)];
    double m = 0, v = 0;
    for (i64 i = 0; i < dim; ++i) m += xr[i];
    m /= double(dim);
    for (i64 i = 0; i < dim; ++i) v += (xr[i] - m) * (xr[i] - m);
    v /= double(dim);
    const double rs = 1.0 / std::sqrt(v + eps);
    // y_i = (x_i - m) rs g_i + b_i ; dL/dxhat_i = dy_i g_i
    double dvar = 0, dmean = 0;
    for (i64 i = 0; i < dim; ++i) {
      const double dxh = dy[r * dim + i] * g[i];
      dvar += dxh * (xr[i] - m) * -0.5 * rs * rs * rs;
      dmean += -dxh * rs;
      dg[i] += dy[r * dim + i] * (xr[i] - m) * rs;
      db[i] += dy[r * dim + i];
    }
    double sdev = 0;
    for (i64 i = 0; i < dim; ++i) sdev += -2.0 * (xr[i] - m) / double(dim);
    dmean += dvar * sdev;
    for (i64 i = 0; i < dim; ++i)
      dx[r * dim + i] = dy[r * dim + i] * g[i] * rs + dvar * 2.0 * (xr[i] - m) / double(dim) +
                        dmean / double(dim);
  }
}

// ---- softmax ---------------------------------------------------------------
inline V softmax(const V& x, i64 rows, i64 cols) {
  V y(x.size());
  for (i64 r = 0; r < rows; ++r) {
    double mx = -std::numeric_limits<double>::infinity(), s = 0;
    for (i64 j = 0; j < cols; ++j) mx = std::max(mx, x[r * cols + j]);
    for (i64 j = 0; j < cols; ++j) s += std::exp(x[r * cols + j] - mx);
    for (i64 j = 0; j < cols; ++j) y[r * cols + j] = std::exp(x[r * cols + j] - mx) / s;
  }
  return y;
}

// Full Jacobian product: dx_j = sum_i dy_i * y_i (delta_ij - y_j).
inline V softmax_backward(const V& dy, const V& y, i64 rows, i64 cols) {
  V dx(y.size(), 0.0);
  for (i64 r = 0; r < rows; ++r)
    for (i64 j = 0; j < cols; ++j) {
      double s = 0;
      for (i64 i = 0; i < cols; ++i)
        s += dy[r * cols + i] * y[r * cols + i] * ((i == j ? 1.0 : 0.0) - y[r * cols + j]);
      dx[r * cols + j] = s;
    }
  return dx;
}

// ---- activations -----------------------------------------------------------
inline double gelu(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
inline double dgelu(double x) {
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-x * x / 2) / std::sqrt(2 * M_PI);
}
inline double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
inline double quick_gelu(double x) { return x * sigmoid(1.702 * x); }
inline double dquick_gelu(double x) {
  const double s = sigmoid(1.702 * x);
  return s + x * 1.702 * s * (1 - s);
}
inline double silu(double x) { return x * sigmoid(x); }
inline double dsilu(double x) {
  const double s = sigmoid(x);
  return s + x * s * (1 - s);
}

// ---- attention -------------------------------------------------------------
struct Attn {
  i64 B, H, Tq, Tk, D;
  i64 q_bs, q_ts, k_bs, k_ts, v_bs, v_ts;
  i64 qi(i64 b, i64 t, i64 h, i64 d) const { return b * q_bs + t * q_ts + h * D + d; }
  i64 ki(i64 b, i64 t, i64 h, i64 d) const { return b * k_bs + t * k_ts + h * D + d; }
  i64 vi(i64 b, i64 t, i64 h, i64 d) const { return b * v_bs + t * v_ts + h * D + d; }
  i64 oi(i64 b, i64 t, i64 h, i64 d) const { return ((b * Tq + t) * H + h) * D + d; }
  i64 pi(i64 b, i64 h, i64 i, i64 j) const { return ((b * H + h) * Tq + i) * Tk + j; }
};

// out [B, Tq, H*D] and probs [B, H, Tq, Tk].
inline void attention(V& out, V& probs, const V& q, const V& k, const V& v, const Attn& a,
                      double scale, bool causal) {
  out.assign(std::size_t(a.B * a.Tq * a.H * a.D), 0.0);
  probs.assign(std::size_t(a.B * a.H * a.Tq * a.Tk), 0.0);
  V s(std::size_t(a.Tk));
  for (i64 b = 0; b < a.B; ++b)
    for (i64 h = 0; h < a.H; ++h)
      for (i64 i = 0; i < a.Tq; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (i64 j = 0; j < a.Tk; ++j) {
          double d = 0;
          for (i64 e = 0; e < a.D; ++e) d += q[a.qi(b, i, h, e)] * k[a.ki(b, j, h, e)];
          s[j] = (causal && j > i) ? -std::numeric_limits<double>::infinity() : d * scale;
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (i64 j = 0; j < a.Tk; ++j) z += std::exp(s[j] - mx);
        for (i64 j = 0; j < a.Tk; ++j) {
          const double p = std::exp(s[j] - mx) / z;
          probs[a.pi(b, h, i, j)] = p;
          for (i64 e = 0; e < a.D; ++e) out[a.oi(b, i, h, e)] += p * v[a.vi(b, j, h, e)];
        }
      }
}

// Gradients laid out like q/k/v (same strides); sizes given by the caller.
inline void attention_backward(V& dq, V& dk, V& dv, const V& dout, const V& probs, const V& q,
                               const V& k, const V& v, const Attn& a, double scale) {
  std::fill(dq.begin(), dq.end(), 0.0);
  std::fill(dk.begin(), dk.end(), 0.0);
  std::fill(dv.begin(), dv.end(), 0.0);
  V dp(std::size_t(a.Tk));
  for (i64 b = 0; b < a.B; ++b)
    for (i64 h = 0; h < a.H; ++h)
      for (i64 i = 0; i < a.Tq; ++i) {
        for (i64 j = 0; j < a.Tk; ++j) {
          double d = 0;
          for (i64 e = 0; e < a.D; ++e) {
            d += dout[a.oi(b, i, h, e)] * v[a.vi(b, j, h, e)];
            dv[a.vi(b, j, h, e)] += probs[a.pi(b, h, i, j)] * dout[a.oi(b, i, h, e)];
          }
          dp[j] = d;
        }
        // dscore_j = sum_l dp_l * p_l (delta_lj - p_j)
        for (i64 j = 0; j < a.Tk; ++j) {
          double ds = 0;
          for (i64 l = 0; l < a.Tk; ++l)
            ds += dp[l] * probs[a.pi(b, h, i, l)] * ((l == j ? 1.0 : 0.0) - probs[a.pi(b, h, i, j)]);
          ds *= scale;
          for (i64 e = 0; e < a.D; ++e) {
            dq[a.qi(b, i, h, e)] += ds * k[a.ki(b, j, h, e)];
            dk[a.ki(b, j, h, e)] += ds * q[a.qi(b, i, h, e)];
          }
        }
      }
}

// ---- adaln + silu ------------------------------------------------------------
// out[g, r, :] = silu(LN(h[g, r, :]) * (1 + scale[g]) + shift[g]), ss = [G, 2*dim]
inline V adaln_silu(const V& h, const V& gamma, const V& beta, const V& ss, i64 G, i64 R, i64 dim,
                    double eps) {
  V y = layer_norm(h, gamma, beta, G * R, dim, eps);
  for (i64 g = 0; g < G; ++g)
    for (i64 r = 0; r < R; ++r)
      for (i64 i = 0; i < dim; ++i) {
        double& o = y[(g * R + r) * dim + i];
        o = silu(o * (1 + ss[g * 2 * dim + i]) + ss[g * 2 * dim + dim + i]);
      }
  return y;
}

inline void adaln_silu_backward(V& dh, V& dgamma, V& dbeta, V& dss, const V& dout, const V& h,
                                const V& gamma, const V& beta, const V& ss, i64 G, i64 R, i64 dim,
                                double eps) {
  const V y = layer_norm(h, gamma, beta, G * R, dim, eps);
  V dy(y.size());
  dss.assign(std::size_t(G * 2 * dim), 0.0);
  for (i64 g = 0; g < G; ++g)
    for (i64 r = 0; r < R; ++r)
      for (i64 i = 0; i < dim; ++i) {
        const i64 idx = (g * R + r) * dim + i;
        const double sc = ss[g * 2 * dim + i], sh = ss[g * 2 * dim + dim + i];
        const double z = y[idx] * (1 + sc) + sh;
        const double dz = dout[idx] * dsilu(z);
        dss[g * 2 * dim + i] += dz * y[idx];
        dss[g * 2 * dim + dim + i] += dz;
        dy[idx] = dz * (1 + sc);
      }
  layer_norm_backward(dh, dgamma, dbeta, dy, h, gamma, G * R, dim, eps);
}

}  // namespace ref
