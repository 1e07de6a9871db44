#pragma once
// Fused multi-head attention forward, flash style: for one (batch, head) and
// a tile of query rows, K/V tiles of 32 keys stream through shared memory and
// each query row keeps an online softmax (running max m, running sum l, fp32
// accumulator), so no [Tq, Tk] score matrix ever reaches global memory.
// One warp owns a query row at a time: lane j scores key j of the tile, warp
// shuffles give the tile max and sum, and the probabilities go through a
// per-warp shared buffer for the P*V product (lane owns head dims lane,
// lane+32, ...). Covers FinePOSE's spatial (17 tokens, many sequences),
// temporal (243+ tokens), cross attention to 77 prompt tokens and CLIP's
// causal self attention. CPU twin: ops::attention_forward (same strides,
// output [B, Tq, H*dh], scale multiplies q.k, causal masks key j > query i).
// Storage T = float, bfloat16 or half; softmax and accumulation are fp32.
// Optional lse [B, H, Tq] = max + log(sum) of the scaled scores, what a
// flash-style backward needs instead of the probability matrix.
#include "finepose/kernels/common.cuh"
#include "finepose/kernels/reduce.cuh"

namespace finepose::kernels {

constexpr int kAttnKeyTile = 32;  // keys per shared-memory tile: one per lane
constexpr int kAttnWarps = 4;     // warps per block

struct AttentionArgs {
  std::int64_t batch, heads, q_len, kv_len, head_dim;
  std::int64_t q_bs, q_ts, k_bs, k_ts, v_bs, v_ts;  // element strides (batch, token)
  float scale;
  bool causal;
};

// D: head_dim rounded up to 32/64/128; RW: query rows per warp.
template <class T, int D, int RW>
FP_GLOBAL void FP_LAUNCH_BOUNDS(kAttnWarps* kWarpSize)
    attention_forward_kernel(T* out, float* lse, const T* q, const T* k, const T* v, AttentionArgs a) {
  constexpr int BQ = kAttnWarps * RW;  // query rows per block
  constexpr int DL = D / kWarpSize;    // head dims per lane
  FP_SHARED(float, sQ, [BQ][D]);
  FP_SHARED(float, sK, [kAttnKeyTile][D + 1]);  // +1: lane j reads row j without bank conflicts
  FP_SHARED(float, sV, [kAttnKeyTile][D]);
  FP_SHARED(float, sP, [kAttnWarps][kAttnKeyTile]);

  const int lane = int(threadIdx.x), warp = int(threadIdx.y), tid = warp * kWarpSize + lane;
  const int nthreads = kAttnWarps * kWarpSize;
  const std::int64_t n_qt = ceil_div(a.q_len, BQ);
  const std::int64_t qt = std::int64_t(blockIdx.x) % n_qt;
  const std::int64_t bh = std::int64_t(blockIdx.x) / n_qt;
  const std::int64_t h = bh % a.heads, b = bh / a.heads;
  const std::int64_t q0 = qt * BQ;
  const int hd = int(a.head_dim);

  // the query tile, pre-scaled (as the reference: (scale * q) . k)
  for (int i = tid; i < BQ * D; i += nthreads) {
    const int r = i / D, d = i % D;
    const std::int64_t t = q0 + r;
    sQ[r][d] = (t < a.q_len && d < hd) ? a.scale * load(q + b * a.q_bs + t * a.q_ts + h * hd + d) : 0.f;
  }

  float m[RW], l[RW], acc[RW][DL];
  for (int r = 0; r < RW; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
    for (int i = 0; i < DL; ++i) acc[r][i] = 0.f;
  }

  // causal: no row of this tile sees keys past its last row
  const std::int64_t kv_end = a.causal ? (q0 + BQ < a.kv_len ? q0 + BQ : a.kv_len) : a.kv_len;
  for (std::int64_t k0 = 0; k0 < kv_end; k0 += kAttnKeyTile) {
    sync_threads();  // everyone is done with the previous K/V tile (and sQ is written)
    for (int i = tid; i < kAttnKeyTile * D; i += nthreads) {
      const int j = i / D, d = i % D;
      const std::int64_t t = k0 + j;
      const bool ok = t < a.kv_len && d < hd;
      sK[j][d] = ok ? load(k + b * a.k_bs + t * a.k_ts + h * hd + d) : 0.f;
      sV[j][d] = ok ? load(v + b * a.v_bs + t * a.v_ts + h * hd + d) : 0.f;
    }
    sync_threads();
    const int tile_keys = int(a.kv_len - k0 < kAttnKeyTile ? a.kv_len - k0 : kAttnKeyTile);

    for (int r = 0; r < RW; ++r) {
      const int lr = warp + kAttnWarps * r;  // row within the tile
      const std::int64_t row = q0 + lr;
      if (row >= a.q_len) break;               // same for the whole warp
      if (a.causal && row < k0) continue;      // every key of this tile is masked
      const std::int64_t j = k0 + lane;
      const bool valid = lane < tile_keys && (!a.causal || j <= row);
      float s = 0.f;
      for (int d = 0; d < D; ++d) s += sQ[lr][d] * sK[lane][d];
      s = valid ? s : -INFINITY;
      const float m_new = fmaxf(m[r], warp_max(s));
      // m_new is finite: the first tile this row visits holds key 0 or an
      // unmasked key, and later tiles only raise it
      const float p = valid ? expf(s - m_new) : 0.f;
      const float corr = expf(m[r] - m_new);  // 0 on the first visit (m = -inf)
      l[r] = l[r] * corr + warp_sum(p);
      m[r] = m_new;
      sP[warp][lane] = p;
      sync_warp();
      for (int i = 0; i < DL; ++i) {
        const int d = lane + kWarpSize * i;
        float o = acc[r][i] * corr;
        for (int jj = 0; jj < tile_keys; ++jj) o += sP[warp][jj] * sV[jj][d];
        acc[r][i] = o;
      }
      sync_warp();  // sP is rewritten by the next row
    }
  }

  for (int r = 0; r < RW; ++r) {
    const int lr = warp + kAttnWarps * r;
    const std::int64_t row = q0 + lr;
    if (row >= a.q_len) break;
    const float inv = 1.f / l[r];
    T* o = out + (b * a.q_len + row) * a.heads * hd + h * hd;
    for (int i = 0; i < DL; ++i) {
      const int d = lane + kWarpSize * i;
      if (d < hd) store(o + d, acc[r][i] * inv);
    }
    if (lse && lane == 0) lse[(b * a.heads + h) * a.q_len + row] = m[r] + logf(l[r]);
  }
}

namespace detail {
template <class T, int D, int RW>
void launch_attention_forward(T* out, float* lse, const T* q, const T* k, const T* v, const AttentionArgs& a,
                              stream_t stream) {
  constexpr int BQ = kAttnWarps * RW;
  const std::int64_t blocks = ceil_div(a.q_len, BQ) * a.heads * a.batch;
  if (blocks > 2147483647) fail("kernel attention_forward: ", blocks, " blocks is too many for one launch");
  launch_kernel("attention_forward", &attention_forward_kernel<T, D, RW>, dim3(unsigned(blocks)),
                dim3(kWarpSize, kAttnWarps), 0, stream, out, lse, q, k, v, a);
}

template <class T, int D>
void attention_forward_rows(T* out, float* lse, const T* q, const T* k, const T* v, const AttentionArgs& a,
                            stream_t stream) {
  // enough rows per warp that a block covers a short sequence (spatial: 17)
  // in one go and reuses each K/V tile for up to 32 query rows
  if (a.q_len <= 4) return launch_attention_forward<T, D, 1>(out, lse, q, k, v, a, stream);
  if (a.q_len <= 8) return launch_attention_forward<T, D, 2>(out, lse, q, k, v, a, stream);
  if (a.q_len <= 16) return launch_attention_forward<T, D, 4>(out, lse, q, k, v, a, stream);
  // 8 rows per warp for head_dim 128 would need 49 KiB of static shared memory
  return launch_attention_forward<T, D, (D > 64 ? 4 : 8)>(out, lse, q, k, v, a, stream);
}

inline void check_attention_strides(const char* who, const char* name, std::int64_t bs, std::int64_t ts,
                                    std::int64_t len, const AttentionArgs& a) {
  const std::int64_t row = a.heads * a.head_dim;
  if (bs < 0 || ts < 0) fail("kernel ", who, ": negative stride for ", name, " (bs=", bs, ", ts=", ts, ")");
  if (len > 1 && ts < row) fail("kernel ", who, ": ", name, " token stride ", ts, " is smaller than heads*head_dim=", row);
}
}  // namespace detail

// out [B, Tq, H*dh]; lse (nullable) [B, H, Tq]. head_dim <= 128.
template <class T>
void attention_forward(T* out, float* lse, const T* q, std::int64_t q_bs, std::int64_t q_ts, const T* k,
                       std::int64_t k_bs, std::int64_t k_ts, const T* v, std::int64_t v_bs, std::int64_t v_ts,
                       std::int64_t batch, std::int64_t heads, std::int64_t q_len, std::int64_t kv_len,
                       std::int64_t head_dim, float scale, bool causal, stream_t stream = nullptr) {
  const char* who = "attention_forward";
  if (batch < 0 || heads <= 0 || q_len <= 0 || kv_len <= 0 || head_dim <= 0)
    fail("kernel ", who, ": bad shape batch=", batch, " heads=", heads, " q_len=", q_len, " kv_len=", kv_len,
         " head_dim=", head_dim);
  if (head_dim > 128) fail("kernel ", who, ": head_dim ", head_dim, " > 128 is not supported");
  const AttentionArgs a{batch, heads, q_len, kv_len, head_dim, q_bs, q_ts, k_bs, k_ts, v_bs, v_ts, scale, causal};
  detail::check_attention_strides(who, "q", q_bs, q_ts, q_len, a);
  detail::check_attention_strides(who, "k", k_bs, k_ts, kv_len, a);
  detail::check_attention_strides(who, "v", v_bs, v_ts, kv_len, a);
  if (batch == 0) return;
  check_ptr(who, "out", out);
  check_ptr(who, "q", q);
  check_ptr(who, "k", k);
  check_ptr(who, "v", v);
  if (head_dim <= 32) return detail::attention_forward_rows<T, 32>(out, lse, q, k, v, a, stream);
  if (head_dim <= 64) return detail::attention_forward_rows<T, 64>(out, lse, q, k, v, a, stream);
  return detail::attention_forward_rows<T, 128>(out, lse, q, k, v, a, stream);
}

}  // namespace finepose::kernels
