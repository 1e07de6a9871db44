#pragma once
// Sliding model-frame windows over a sequence of any length: windows of the
// model's frame count T start every T - overlap frames, a last one is aligned
// to the end of the sequence, and where windows overlap their outputs are
// blended with a trapezoid weight (ramping over `overlap` frames at each
// side), so seams do not jump. Sequences shorter than T are padded by
// replicating their first and last frames.
#include <algorithm>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose::wild {

struct WindowPlan {
  int64_t window = 0, overlap = 0;
  std::vector<int64_t> starts;  // first frame of each window (F >= T), or {0} with padding
  int64_t pad_before = 0, pad_after = 0;  // replicated frames (only when F < T)
};

// Default overlap: a quarter of the window (61 frames for T = 243).
inline int64_t default_overlap(int64_t window) { return window / 4; }

// The windows the streaming lifter runs: regular windows at 0, S, 2S, ...
// (S = window - overlap) while they fit; then, if frames are left uncovered,
// one final window aligned to the end (starting at max(0, F - T), padded when
// F < T). The final window only contributes to frames after the last regular
// window's successor start (frames before it were already emitted).
inline WindowPlan plan_windows(int64_t frames, int64_t window, int64_t overlap) {
  FINEPOSE_CHECK(frames > 0, "windowing: empty sequence (no frames)");
  FINEPOSE_CHECK(window > 0, "windowing: window must be positive");
  FINEPOSE_CHECK(overlap >= 0 && overlap < window, "windowing: overlap ", overlap, " must be in 0..", window - 1);
  WindowPlan p;
  p.window = window, p.overlap = overlap;
  const int64_t stride = window - overlap;
  int64_t covered = 0;
  for (int64_t s = 0; s + window <= frames; s += stride) p.starts.push_back(s), covered = s + window;
  if (covered < frames) {
    p.starts.push_back(std::max<int64_t>(0, frames - window));
    if (frames < window) {
      p.pad_before = (window - frames) / 2;
      p.pad_after = window - frames - p.pad_before;
    }
  }
  return p;
}

// Weight of frame t (0..T-1) of a window: 1 in the middle, ramping down to
// 1 / (overlap + 1) at the edges; always > 0, so a frame seen by one window
// only gets exactly that window's value after normalisation.
inline double window_weight(int64_t t, int64_t window, int64_t overlap) {
  const double r = double(overlap + 1);
  return std::min({1.0, double(t + 1) / r, double(window - t) / r});
}

}  // namespace finepose::wild
