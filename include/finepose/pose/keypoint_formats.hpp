#pragma once
// 2D detector joint layouts and their conversion to the Human3.6M-17 layout
// FinePOSE is trained on.
//
// COCO-17 -> H36M-17 follows MMPose's convert_keypoint_definition (the
// conversion its 2D->3D lifting demo uses):
//   pelvis = mean(left_hip, right_hip)        thorax = mean(left_shoulder, right_shoulder)
//   spine  = mean(pelvis, thorax)             head   = mean(left_eye, right_eye)
//   neck_nose = nose; limbs are copied (COCO is left-first, H36M right-first).
// Halpe-26 (AlphaPose) starts with the COCO-17 joints and is converted the same
// way (its own "hip"/"neck" points sit elsewhere than H36M's pelvis/thorax, so
// they are not used). OpenPose BODY_25 and COCO-18 name the same body joints
// under other indices (their "neck"/"MidHip" are likewise not used, so every
// format yields the same geometry).
//
// A converted joint's score is the minimum of the scores it is made from: a
// pelvis built from one visible and one missing hip is missing too (and gets
// filled by the gap filler rather than placed halfway to (0, 0)).
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose::pose {

enum class KeypointLayout { h36m17, coco17, halpe26, openpose_body25, openpose_coco18 };

inline const char* layout_name(KeypointLayout l) {
  switch (l) {
    case KeypointLayout::h36m17: return "h36m17";
    case KeypointLayout::coco17: return "coco17";
    case KeypointLayout::halpe26: return "halpe26";
    case KeypointLayout::openpose_body25: return "body25";
    case KeypointLayout::openpose_coco18: return "coco18";
  }
  return "?";
}

inline KeypointLayout layout_from_name(const std::string& n) {
  if (n == "h36m17" || n == "h36m") return KeypointLayout::h36m17;
  if (n == "coco17" || n == "coco") return KeypointLayout::coco17;
  if (n == "halpe26" || n == "halpe") return KeypointLayout::halpe26;
  if (n == "body25" || n == "openpose-body25") return KeypointLayout::openpose_body25;
  if (n == "coco18" || n == "openpose-coco18") return KeypointLayout::openpose_coco18;
  fail("unknown keypoint layout '", n, "' (h36m17, coco17, halpe26, body25, coco18)");
}

inline int layout_joints(KeypointLayout l) {
  switch (l) {
    case KeypointLayout::h36m17: return 17;
    case KeypointLayout::coco17: return 17;
    case KeypointLayout::halpe26: return 26;
    case KeypointLayout::openpose_body25: return 25;
    case KeypointLayout::openpose_coco18: return 18;
  }
  return 0;
}

namespace detail {
// Indices of the COCO-17 body joints inside a layout (COCO order: nose, eyes
// L/R, ears L/R, shoulders L/R, elbows L/R, wrists L/R, hips L/R, knees L/R,
// ankles L/R).
inline std::array<int, 17> coco_joints_in(KeypointLayout l) {
  switch (l) {
    case KeypointLayout::coco17:
    case KeypointLayout::halpe26:
      return {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    case KeypointLayout::openpose_body25:  // 0 nose 1 neck 2-4 R arm 5-7 L arm 8 midhip 9-11 R leg 12-14 L leg 15/16 R/L eye 17/18 R/L ear
      return {0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11};
    case KeypointLayout::openpose_coco18:  // 0 nose 1 neck 2-4 R arm 5-7 L arm 8-10 R leg 11-13 L leg 14/15 R/L eye 16/17 R/L ear
      return {0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10};
    default: break;
  }
  fail("coco_joints_in: layout ", layout_name(l), " is not a detector layout");
}
}  // namespace detail

// kp: (F, K, 3) x, y, score in `layout`; returns (F, 17, 3) in H36M-17 order.
inline Tensor<double> to_h36m17(const Tensor<double>& kp, KeypointLayout layout) {
  FINEPOSE_CHECK(kp.dim() == 3 && kp.size(2) == 3, "to_h36m17: keypoints must be (F, K, 3), got ", shape_str(kp.shape()));
  const int K = layout_joints(layout);
  FINEPOSE_CHECK(kp.size(1) == K, "to_h36m17: layout ", layout_name(layout), " has ", K, " joints, the keypoints have ",
                 kp.size(1));
  const Tensor<double> src = kp.contiguous();
  const int64_t F = kp.size(0);
  if (layout == KeypointLayout::h36m17) return src.clone();
  const auto c = detail::coco_joints_in(layout);
  Tensor<double> out({F, 17, 3});
  // H36M joint <- COCO joint, for the copied joints
  static const int copy_h36m[13] = {1, 2, 3, 4, 5, 6, 9, 11, 12, 13, 14, 15, 16};
  static const int copy_coco[13] = {12, 14, 16, 11, 13, 15, 0, 5, 7, 9, 6, 8, 10};
  for (int64_t f = 0; f < F; ++f) {
    const double* s = src.data() + f * K * 3;
    double* o = out.data() + f * 17 * 3;
    auto at = [&](int coco) { return s + c[size_t(coco)] * 3; };
    auto mean2 = [](const double* a, const double* b, double* d) {
      d[0] = (a[0] + b[0]) / 2;
      d[1] = (a[1] + b[1]) / 2;
      d[2] = std::min(a[2], b[2]);
    };
    for (int i = 0; i < 13; ++i)
      for (int d = 0; d < 3; ++d) o[copy_h36m[i] * 3 + d] = at(copy_coco[i])[d];
    mean2(at(11), at(12), o + 0 * 3);  // pelvis
    mean2(at(5), at(6), o + 8 * 3);    // thorax
    mean2(o + 0 * 3, o + 8 * 3, o + 7 * 3);  // spine
    mean2(at(1), at(2), o + 10 * 3);   // head
  }
  return out;
}

}  // namespace finepose::pose
