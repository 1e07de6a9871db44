#pragma once
// Optimal assignment (the Hungarian method, shortest augmenting paths with
// potentials, O(n^2 m)): rows to columns of a cost matrix, each row to at
// most one column, minimising the summed cost. Used by the tracker to match
// tracks (rows) to a frame's detections (columns).
#include <cstdint>
#include <limits>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose::wild {

// cost: rows x cols, row-major, finite. Returns, for each row, its column or
// -1. With rows <= cols every row gets a column; with rows > cols every
// column gets a row. The caller rejects pairs whose cost is too high (gating)
// after the assignment, so an infeasible pair should carry a large cost.
inline std::vector<int64_t> hungarian_assign(const std::vector<double>& cost, int64_t rows, int64_t cols) {
  FINEPOSE_CHECK(rows >= 0 && cols >= 0 && int64_t(cost.size()) == rows * cols, "hungarian_assign: cost has ", cost.size(),
                 " entries for ", rows, " x ", cols);
  std::vector<int64_t> out(size_t(rows), -1);
  if (rows == 0 || cols == 0) return out;
  const bool transpose = rows > cols;  // the method wants n <= m
  const int64_t n = transpose ? cols : rows, m = transpose ? rows : cols;
  auto a = [&](int64_t i, int64_t j) { return transpose ? cost[size_t(j * cols + i)] : cost[size_t(i * cols + j)]; };
  const double inf = std::numeric_limits<double>::infinity();
  // 1-based potentials u (rows), v (columns); p[j]: the row matched to column j (0 = none)
  std::vector<double> u(size_t(n + 1), 0), v(size_t(m + 1), 0);
  std::vector<int64_t> p(size_t(m + 1), 0), way(size_t(m + 1), 0);
  for (int64_t i = 1; i <= n; ++i) {
    p[0] = i;
    int64_t j0 = 0;
    std::vector<double> minv(size_t(m + 1), inf);
    std::vector<char> used(size_t(m + 1), 0);
    do {
      used[size_t(j0)] = 1;
      const int64_t i0 = p[size_t(j0)];
      double delta = inf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= m; ++j) {
        if (used[size_t(j)]) continue;
        const double cur = a(i0 - 1, j - 1) - u[size_t(i0)] - v[size_t(j)];
        if (cur < minv[size_t(j)]) minv[size_t(j)] = cur, way[size_t(j)] = j0;
        if (minv[size_t(j)] < delta) delta = minv[size_t(j)], j1 = j;
      }
      FINEPOSE_CHECK(j1 > 0, "hungarian_assign: the cost matrix is not finite");
      for (int64_t j = 0; j <= m; ++j) {
        if (used[size_t(j)]) {
          u[size_t(p[size_t(j)])] += delta;
          v[size_t(j)] -= delta;
        } else {
          minv[size_t(j)] -= delta;
        }
      }
      j0 = j1;
    } while (p[size_t(j0)] != 0);
    do {
      const int64_t j1 = way[size_t(j0)];
      p[size_t(j0)] = p[size_t(j1)];
      j0 = j1;
    } while (j0);
  }
  for (int64_t j = 1; j <= m; ++j) {
    if (!p[size_t(j)]) continue;
    if (transpose) out[size_t(j - 1)] = p[size_t(j)] - 1;
    else out[size_t(p[size_t(j)] - 1)] = j - 1;
  }
  return out;
}

}  // namespace finepose::wild
