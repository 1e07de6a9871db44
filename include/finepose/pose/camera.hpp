#pragma once
// Cameras: intrinsics with Brown distortion, quaternion extrinsics, the
// screen-coordinate normalisation of VideoPose3D, and the two projections
// (distorted, as the Human3.6M MATLAB code; linear, pinhole only). Every
// function takes any Tensor<T> whose last dimension is 3 (points) or 2
// (pixels) and computes in double.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose::pose {

// Pinhole intrinsics plus radial (k1 k2 k3) and tangential (p1 p2) distortion.
// Units are whatever the 2D coordinates are: pixels, or VideoPose3D's
// normalised screen coordinates (see normalized()).
struct CameraIntrinsics {
  double fx = 1, fy = 1, cx = 0, cy = 0;
  double k1 = 0, k2 = 0, k3 = 0, p1 = 0, p2 = 0;
  int res_w = 0, res_h = 0;  // image size in pixels (0 = unknown)

  // VideoPose3D's 9-vector: f(2), c(2), k(3), p(2).
  std::array<double, 9> as_vector() const { return {fx, fy, cx, cy, k1, k2, k3, p1, p2}; }
  static CameraIntrinsics from_vector(const std::array<double, 9>& v, int w = 0, int h = 0) {
    return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], w, h};
  }
  // Pixel intrinsics -> intrinsics that project straight into normalised screen
  // coordinates ([0,w] -> [-1,1], aspect kept), as h36m_dataset.py prepares them.
  // Distortion acts on x/z, so it is unchanged.
  CameraIntrinsics normalized() const {
    if (res_w <= 0 || res_h <= 0) fail("camera intrinsics: normalized() needs res_w and res_h, got ", res_w, "x", res_h);
    CameraIntrinsics n = *this;
    n.fx = fx / res_w * 2;
    n.fy = fy / res_w * 2;
    n.cx = cx / res_w * 2 - 1;
    n.cy = cy / res_w * 2 - double(res_h) / res_w;
    return n;
  }
};

// Orientation as a unit quaternion (w, x, y, z) rotating camera axes into the
// world, and the camera centre in world coordinates (Human3.6M: millimetres).
struct CameraExtrinsics {
  std::array<double, 4> orientation{1, 0, 0, 0};
  std::array<double, 3> translation{0, 0, 0};
};

struct Camera {
  std::string id;
  CameraIntrinsics intrinsics;
  CameraExtrinsics extrinsics;
  int azimuth = 0;  // degrees; only used to orient renderings
};

namespace detail {
template <class T>
void check_last_dim(const Tensor<T>& x, std::int64_t d, const char* fn, const char* what) {
  if (!x.defined() || x.dim() < 1 || x.shape().back() != d)
    fail(fn, ": ", what, " must have last dimension ", d, ", got shape ", x.defined() ? shape_str(x.shape()) : "(undefined)");
}
// v + 2 (w (q x v) + q x (q x v)) for a unit quaternion q = (w, qv).
inline void quat_rotate(const std::array<double, 4>& q, const double v[3], double out[3]) {
  const double x = q[1], y = q[2], z = q[3];
  const double uv[3] = {y * v[2] - z * v[1], z * v[0] - x * v[2], x * v[1] - y * v[0]};
  const double uuv[3] = {y * uv[2] - z * uv[1], z * uv[0] - x * uv[2], x * uv[1] - y * uv[0]};
  for (int i = 0; i < 3; ++i) out[i] = v[i] + 2 * (q[0] * uv[i] + uuv[i]);
}
}  // namespace detail

inline std::array<double, 4> quaternion_inverse(const std::array<double, 4>& q) { return {q[0], -q[1], -q[2], -q[3]}; }

// Rotate points (..., 3) by the unit quaternion q.
template <class T>
Tensor<T> quaternion_rotate(const std::array<double, 4>& q, const Tensor<T>& points) {
  detail::check_last_dim(points, 3, "quaternion_rotate", "points");
  Tensor<T> src = points.contiguous(), out(points.shape());
  const std::int64_t n = points.numel() / 3;
  for (std::int64_t i = 0; i < n; ++i) {
    double v[3] = {double(src.data()[3 * i]), double(src.data()[3 * i + 1]), double(src.data()[3 * i + 2])}, r[3];
    detail::quat_rotate(q, v, r);
    for (int c = 0; c < 3; ++c) out.data()[3 * i + c] = T(r[c]);
  }
  return out;
}

// World points -> camera frame: R^-1 (X - t).
template <class T>
Tensor<T> world_to_camera(const Tensor<T>& points, const CameraExtrinsics& e) {
  detail::check_last_dim(points, 3, "world_to_camera", "points");
  Tensor<T> src = points.contiguous(), out(points.shape());
  const auto qi = quaternion_inverse(e.orientation);
  for (std::int64_t i = 0, n = points.numel() / 3; i < n; ++i) {
    double v[3], r[3];
    for (int c = 0; c < 3; ++c) v[c] = double(src.data()[3 * i + c]) - e.translation[c];
    detail::quat_rotate(qi, v, r);
    for (int c = 0; c < 3; ++c) out.data()[3 * i + c] = T(r[c]);
  }
  return out;
}

// Camera frame -> world: R X + t.
template <class T>
Tensor<T> camera_to_world(const Tensor<T>& points, const CameraExtrinsics& e) {
  detail::check_last_dim(points, 3, "camera_to_world", "points");
  Tensor<T> src = points.contiguous(), out(points.shape());
  for (std::int64_t i = 0, n = points.numel() / 3; i < n; ++i) {
    double v[3] = {double(src.data()[3 * i]), double(src.data()[3 * i + 1]), double(src.data()[3 * i + 2])}, r[3];
    detail::quat_rotate(e.orientation, v, r);
    for (int c = 0; c < 3; ++c) out.data()[3 * i + c] = T(r[c] + e.translation[c]);
  }
  return out;
}

// Pixels -> [-1, 1] along x, keeping the aspect ratio: X / w * 2 - [1, h / w].
template <class T>
Tensor<T> normalize_screen_coordinates(const Tensor<T>& xy, int w, int h) {
  detail::check_last_dim(xy, 2, "normalize_screen_coordinates", "coordinates");
  if (w <= 0 || h <= 0) fail("normalize_screen_coordinates: image size ", w, "x", h, " must be positive");
  Tensor<T> src = xy.contiguous(), out(xy.shape());
  for (std::int64_t i = 0, n = xy.numel() / 2; i < n; ++i) {
    out.data()[2 * i] = T(double(src.data()[2 * i]) / w * 2 - 1);
    out.data()[2 * i + 1] = T(double(src.data()[2 * i + 1]) / w * 2 - double(h) / w);
  }
  return out;
}

// Inverse of normalize_screen_coordinates: (X + [1, h / w]) * w / 2.
template <class T>
Tensor<T> image_coordinates(const Tensor<T>& xy, int w, int h) {
  detail::check_last_dim(xy, 2, "image_coordinates", "coordinates");
  if (w <= 0 || h <= 0) fail("image_coordinates: image size ", w, "x", h, " must be positive");
  Tensor<T> src = xy.contiguous(), out(xy.shape());
  for (std::int64_t i = 0, n = xy.numel() / 2; i < n; ++i) {
    out.data()[2 * i] = T((double(src.data()[2 * i]) + 1) * w / 2);
    out.data()[2 * i + 1] = T((double(src.data()[2 * i + 1]) + double(h) / w) * w / 2);
  }
  return out;
}

enum class Projection { Distorted, Linear };

// One camera-frame point -> 2D. x/z and y/z are clamped to [-1, 1] first, as
// the reference projection does (it keeps points far off-axis or behind the
// camera from exploding the distortion polynomial).
inline void project_point(const CameraIntrinsics& k, Projection mode, const double p[3], double uv[2]) {
  const double x = std::clamp(p[0] / p[2], -1.0, 1.0), y = std::clamp(p[1] / p[2], -1.0, 1.0);
  double xd = x, yd = y;
  if (mode == Projection::Distorted) {
    const double r2 = x * x + y * y;
    const double radial = 1 + k.k1 * r2 + k.k2 * r2 * r2 + k.k3 * r2 * r2 * r2;
    const double tan = k.p1 * x + k.p2 * y;
    xd = x * (radial + tan) + k.p1 * r2;
    yd = y * (radial + tan) + k.p2 * r2;
  }
  uv[0] = k.fx * xd + k.cx;
  uv[1] = k.fy * yd + k.cy;
}

// Camera-frame points (..., 3) -> image points (..., 2).
template <class T>
Tensor<T> project_to_2d(const Tensor<T>& points, const CameraIntrinsics& k, Projection mode = Projection::Distorted) {
  detail::check_last_dim(points, 3, "project_to_2d", "points");
  Tensor<T> src = points.contiguous();
  Shape s = points.shape();
  s.back() = 2;
  Tensor<T> out(s);
  for (std::int64_t i = 0, n = points.numel() / 3; i < n; ++i) {
    const double p[3] = {double(src.data()[3 * i]), double(src.data()[3 * i + 1]), double(src.data()[3 * i + 2])};
    double uv[2];
    project_point(k, mode, p, uv);
    out.data()[2 * i] = T(uv[0]);
    out.data()[2 * i + 1] = T(uv[1]);
  }
  return out;
}

template <class T>
Tensor<T> project_to_2d_linear(const Tensor<T>& points, const CameraIntrinsics& k) {
  return project_to_2d(points, k, Projection::Linear);
}

// ---- Human3.6M cameras (public calibration, as distributed with VideoPose3D) --

// Pixel intrinsics of the four Human3.6M cameras (index 0..3), shared by all subjects.
inline Camera h36m_camera_intrinsics(int index) {
  struct Row { const char* id; double fx, fy, cx, cy, k1, k2, k3, p1, p2; int w, h, az; };
  static const Row rows[4] = {
      {"54138969", 1145.0494384765625, 1143.7811279296875, 512.54150390625, 515.4514770507812, -0.20709891617298126,
       0.24777518212795258, -0.0030751503072679043, -0.0009756988729350269, -0.00142447161488235, 1000, 1002, 70},
      {"55011271", 1149.6756591796875, 1147.5916748046875, 508.8486328125, 508.0649108886719, -0.1942136287689209,
       0.2404085397720337, 0.006819975562393665, -0.0016190266469493508, -0.0027408944442868233, 1000, 1000, -70},
      {"58860488", 1149.1407470703125, 1148.7989501953125, 519.8158569335938, 501.40264892578125, -0.2083381861448288,
       0.25548800826072693, -0.0024604974314570427, 0.0014843869721516967, -0.0007599993259645998, 1000, 1000, 110},
      {"60457274", 1145.5113525390625, 1144.77392578125, 514.9682006835938, 501.88201904296875, -0.198384091258049,
       0.21832367777824402, -0.008947807364165783, -0.0005872055771760643, -0.0018133620033040643, 1000, 1002, -110},
  };
  if (index < 0 || index > 3) fail("Human3.6M camera index ", index, " out of range 0..3");
  const Row& r = rows[index];
  Camera c;
  c.id = r.id;
  c.intrinsics = {r.fx, r.fy, r.cx, r.cy, r.k1, r.k2, r.k3, r.p1, r.p2, r.w, r.h};
  c.azimuth = r.az;
  return c;
}

// Full camera (pixel intrinsics, extrinsics in millimetres) for a subject
// ("S1", "S5".."S9", "S11") and camera index 0..3. S2-S4 have no published
// extrinsics and are refused.
inline Camera h36m_camera(const std::string& subject, int index) {
  struct Row { const char* subject; int cam; double q[4]; double t[3]; };
  static const Row rows[] = {
      {"S1", 0, {0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088}, {1841.1070556640625, 4955.28466796875, 1563.4454345703125}},
      {"S1", 1, {0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205}, {1761.278564453125, -5078.0068359375, 1606.2650146484375}},
      {"S1", 2, {0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696}, {-1846.7777099609375, 5215.04638671875, 1491.972412109375}},
      {"S1", 3, {0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435}, {-1794.7896728515625, -3722.698974609375, 1574.8927001953125}},
      {"S5", 0, {0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332}, {2097.3916015625, 4880.94482421875, 1605.732421875}},
      {"S5", 1, {0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915}, {2031.7008056640625, -5167.93310546875, 1612.923095703125}},
      {"S5", 2, {0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576}, {-1620.5948486328125, 5171.65869140625, 1496.43701171875}},
      {"S5", 3, {0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092}, {-1637.1737060546875, -3867.3173828125, 1547.033203125}},
      {"S6", 0, {0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938}, {1935.4517822265625, 4950.24560546875, 1618.0838623046875}},
      {"S6", 1, {0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428}, {1969.803955078125, -5128.73876953125, 1632.77880859375}},
      {"S6", 2, {0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334}, {-1769.596435546875, 5185.361328125, 1476.993408203125}},
      {"S6", 3, {0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802}, {-1721.668701171875, -3884.13134765625, 1540.4879150390625}},
      {"S7", 0, {0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778}, {1974.512939453125, 4926.3544921875, 1597.8326416015625}},
      {"S7", 1, {0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508}, {1937.0584716796875, -5119.7900390625, 1631.5665283203125}},
      {"S7", 2, {0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278}, {-1741.8111572265625, 5208.24951171875, 1464.8245849609375}},
      {"S7", 3, {0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523}, {-1734.7105712890625, -3832.42138671875, 1548.5830078125}},
      {"S8", 0, {0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773}, {2150.65185546875, 4896.1611328125, 1611.9046630859375}},
      {"S8", 1, {0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615}, {2219.965576171875, -5148.453125, 1613.0440673828125}},
      {"S8", 2, {0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755}, {-1571.2215576171875, 5137.0185546875, 1498.1761474609375}},
      {"S8", 3, {0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708}, {-1476.913330078125, -3896.7412109375, 1547.97216796875}},
      {"S9", 0, {0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243}, {2044.45849609375, 4935.1171875, 1481.2275390625}},
      {"S9", 1, {0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801}, {1990.959716796875, -5123.810546875, 1568.8048095703125}},
      {"S9", 2, {0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915}, {-1670.9921875, 5211.98583984375, 1528.387939453125}},
      {"S9", 3, {0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822}, {-1696.04345703125, -3827.099853515625, 1591.4127197265625}},
      {"S11", 0, {0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467}, {2098.440185546875, 4926.5546875, 1500.278564453125}},
      {"S11", 1, {0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085}, {2083.182373046875, -4912.1728515625, 1561.07861328125}},
      {"S11", 2, {0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407}, {-1609.8153076171875, 5177.3359375, 1537.896728515625}},
      {"S11", 3, {0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809}, {-1590.738037109375, -3854.1689453125, 1578.017578125}},
  };
  Camera c = h36m_camera_intrinsics(index);
  for (const Row& r : rows)
    if (subject == r.subject && index == r.cam) {
      c.extrinsics.orientation = {r.q[0], r.q[1], r.q[2], r.q[3]};
      c.extrinsics.translation = {r.t[0], r.t[1], r.t[2]};
      return c;
    }
  fail("Human3.6M camera: no extrinsics for subject '", subject, "' (known: S1 S5 S6 S7 S8 S9 S11)");
}

// ---- MPI-INF-3DHP test cameras --------------------------------------------
// TS1-TS4 (studio, 2048x2048) and TS5-TS6 (outdoor, 1920x1080): focal length
// and principal-point offset in millimetres on the sensor, converted to pixels
// as the FinePOSE evaluation does (f * w / sensor_w, c * w / sensor_w + w / 2).
// No distortion is modelled.
inline CameraIntrinsics mpi_inf_3dhp_test_intrinsics(int test_sequence) {
  if (test_sequence < 1 || test_sequence > 6) fail("MPI-INF-3DHP test sequence TS", test_sequence, " out of range 1..6");
  const bool outdoor = test_sequence >= 5;
  const double f_mm = outdoor ? 8.770747185 : 7.32506;
  const double cx_mm = outdoor ? -0.104908645 : -0.0322884, cy_mm = outdoor ? 0.104899704 : 0.0929296;
  const int w = outdoor ? 1920 : 2048, h = outdoor ? 1080 : 2048;
  const double sensor_w = 10, sensor_h = outdoor ? 5.625 : 10;
  const double mx = w / sensor_w, my = h / sensor_h;
  CameraIntrinsics k;
  k.fx = f_mm * mx;
  k.fy = f_mm * my;
  k.cx = cx_mm * mx + w / 2.0;
  k.cy = cy_mm * my + h / 2.0;
  k.res_w = w;
  k.res_h = h;
  return k;
}

}  // namespace finepose::pose
