// finepose._finepose: the C++ side of the Python module. It only converts
// between numpy and the library's types and calls the library; argument
// defaults, docstrings and friendly shapes live in finepose/__init__.py.
//
// Threads: every call that computes releases the GIL; calls on one Model are
// serialised by the model's mutex (the model's scratch buffers are shared),
// calls on different models run side by side. The thread count set with
// set_num_threads() is applied in the computing thread (OpenMP's setting is
// per thread).
//
// Errors: finepose::IoError -> OSError, every other finepose::Error ->
// ValueError, with the library's message.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/array.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "finepose/model/config_json.hpp"
#include "finepose/model/default_model.hpp"
#include "finepose/model/model_file.hpp"
#include "finepose/ops/precision.hpp"
#include "finepose/pose/bvh.hpp"
#include "finepose/pose/metrics_report.hpp"
#include "finepose/version.hpp"
#include "finepose/wild/keypoint_input.hpp"
#include "finepose/wild/multi_person.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace finepose;

namespace {

std::atomic<int> g_threads{0};  // 0: OpenMP's default (all cores), as found at import
int g_default_threads = 1;
int threads_now() {
  const int n = g_threads.load();
  return n ? n : g_default_threads;
}
void apply_threads() { set_num_threads(threads_now()); }

nb::object metric_values(const pose::MetricValues& v) {
  nb::dict d;
  auto num = [](double x) { return std::isfinite(x) ? nb::cast(x) : nb::none(); };
  d["mpjpe"] = num(v.mpjpe), d["p_mpjpe"] = num(v.p_mpjpe), d["n_mpjpe"] = num(v.n_mpjpe);
  d["mpjve"] = num(v.mpjve), d["pck"] = num(v.pck), d["auc"] = num(v.auc);
  return d;
}

using KeypointsIn = nb::ndarray<const double, nb::ndim<3>, nb::c_contig, nb::device::cpu>;
using PosesIn = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;
using DoublesIn = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;

// A numpy array that owns the tensor's storage: no copy of the result.
template <class T>
nb::ndarray<nb::numpy, T> to_numpy(Tensor<T> t) {
  auto* held = new Tensor<T>(t.is_contiguous() ? std::move(t) : t.contiguous());
  nb::capsule owner(held, [](void* p) noexcept { delete static_cast<Tensor<T>*>(p); });
  std::vector<size_t> shape(held->shape().begin(), held->shape().end());
  return nb::ndarray<nb::numpy, T>(held->data(), shape.size(), shape.data(), owner);
}

template <class T, class A>
Tensor<T> to_tensor(const A& a) {
  Shape s;
  for (size_t i = 0; i < a.ndim(); ++i) s.push_back(int64_t(a.shape(i)));
  Tensor<T> t(s);
  std::copy(a.data(), a.data() + a.size(), t.data());
  return t;
}

struct Model {
  FinePoseModel model;
  std::string path;
  std::mutex mu;
  Model(FinePoseModel m, std::string p) : model(std::move(m)), path(std::move(p)) {}
};

wild::LiftOptions lift_options(const std::string& action, int64_t hypotheses, int64_t steps, bool flip, uint64_t seed,
                               const std::string& aggregation, std::optional<std::array<double, 4>> intrinsics,
                               bool keep_hypotheses, double min_score, int64_t overlap, const std::string& smooth,
                               std::optional<int64_t> smooth_window, std::optional<int64_t> smooth_order,
                               std::optional<double> min_cutoff, std::optional<double> beta, double fps) {
  wild::LiftOptions o;
  o.action = action;
  o.hypotheses = hypotheses, o.steps = steps, o.flip = flip, o.seed = seed;
  o.aggregation = wild::aggregation_from_name(aggregation);
  if (intrinsics) {
    const auto& k = *intrinsics;
    FINEPOSE_CHECK(std::isfinite(k[0]) && std::isfinite(k[1]) && std::isfinite(k[2]) && std::isfinite(k[3]) && k[0] > 0 &&
                   k[1] > 0, "lift: intrinsics (fx, fy, cx, cy) must be finite with positive focal lengths");
    pose::CameraIntrinsics ci;
    ci.fx = k[0], ci.fy = k[1], ci.cx = k[2], ci.cy = k[3];
    o.intrinsics = ci;
  }
  o.keep_hypotheses = keep_hypotheses;
  FINEPOSE_CHECK(min_score >= 0 && min_score <= 1, "lift: min_score = ", min_score, " out of range 0..1");
  o.min_score = min_score;
  o.overlap = overlap;
  // the CLI's defaults (infer --smooth): the setting measured best, savgol
  pose::SmoothOptions s = pose::default_smooth_options();
  s.kind = pose::parse_smoother(smooth);
  FINEPOSE_CHECK(!(smooth_window || smooth_order) || s.kind == pose::Smoother::savgol,
                 "lift: smooth_window/smooth_order are savgol's (give smooth='savgol')");
  FINEPOSE_CHECK(!(min_cutoff || beta) || s.kind == pose::Smoother::one_euro,
                 "lift: min_cutoff/beta are one-euro's (give smooth='one-euro')");
  if (smooth_window) s.window = *smooth_window;
  if (smooth_order) s.order = *smooth_order;
  if (min_cutoff) s.min_cutoff = *min_cutoff;
  if (beta) s.beta = *beta;
  s.fps = fps;
  pose::check_smooth_options(s);
  o.smooth = s;
  return o;
}

nb::dict lifted_dict(wild::Lifted&& l) {
  nb::dict d;
  d["poses"] = to_numpy(std::move(l.poses));
  d["hypotheses"] = l.hypotheses.defined() ? nb::cast(to_numpy(std::move(l.hypotheses))) : nb::none();
  d["trajectory"] = l.trajectory.defined() ? nb::cast(to_numpy(std::move(l.trajectory))) : nb::none();
  d["keypoints"] = to_numpy(std::move(l.keypoints));
  d["action"] = l.action;
  d["notes"] = l.notes;
  d["filled_joints"] = l.gaps.filled;
  return d;
}

Tensor<double> keypoints_tensor(const KeypointsIn& kp) { return to_tensor<double>(kp); }

nb::dict keypoint_input_dict(wild::KeypointInput&& in) {
  nb::dict d;
  d["keypoints"] = to_numpy(std::move(in.kp));
  d["first_frame"] = in.first_frame;
  d["missing_frames"] = in.missing_frames;
  d["source_layout"] = std::string(pose::layout_name(in.source_layout));
  d["person"] = in.person;
  d["notes"] = in.notes;
  d["image_width"] = in.image_width;
  d["image_height"] = in.image_height;
  return d;
}

wild::InputFormat format_of(const std::optional<std::string>& f) {
  return f ? wild::input_format_from_name(*f) : wild::InputFormat::auto_detect;
}
std::optional<pose::KeypointLayout> layout_of(const std::optional<std::string>& l) {
  if (!l) return std::nullopt;
  return pose::layout_from_name(*l);
}

// The streaming lifter with the model it reads (kept alive by the binding).
struct Stream {
  Model* owner;
  std::unique_ptr<wild::StreamingLifter> lifter;
  bool has_trajectory = false;
};

nb::tuple frames_tuple(std::vector<wild::LiftedFrame>&& frames, bool trajectory) {
  const int64_t n = int64_t(frames.size());
  Tensor<int64_t> idx({n});
  TensorF poses({n, 17, 3}), traj;
  if (trajectory) traj = TensorF({n, 3});
  for (int64_t i = 0; i < n; ++i) {
    idx.data()[i] = frames[size_t(i)].index;
    std::copy(frames[size_t(i)].pose.begin(), frames[size_t(i)].pose.end(), poses.data() + i * 51);
    if (trajectory) std::copy(frames[size_t(i)].trajectory, frames[size_t(i)].trajectory + 3, traj.data() + i * 3);
  }
  return nb::make_tuple(to_numpy(std::move(idx)), to_numpy(std::move(poses)),
                        trajectory ? nb::cast(to_numpy(std::move(traj))) : nb::none());
}

}  // namespace

NB_MODULE(_finepose, m) {
  m.doc() = "finepose's compiled core (use the finepose package, not this module)";
  m.attr("__version__") = FINEPOSE_VERSION_STRING;

  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def("set_num_threads", [](int n) {
    FINEPOSE_CHECK(n >= 0 && n <= kMaxThreads, "set_num_threads: ", n, " out of range 0..", kMaxThreads, " (0: all cores)");
    g_threads = n;
  }, "n"_a);
  g_default_threads = num_threads();
  m.def("num_threads", []() { return threads_now(); });

  m.def(
      "to_h36m17",
      [](const KeypointsIn& kp, const std::string& layout) {
        return to_numpy(pose::to_h36m17(to_tensor<double>(kp), pose::layout_from_name(layout)));
      },
      "keypoints"_a, "layout"_a);

  m.def("joint_names", []() { return pose::h36m17().joint_names; });

  m.def("default_model_path", [](const std::string& package_models_dir) { return find_default_model(package_models_dir); },
        "package_models_dir"_a);

  nb::class_<Model>(m, "Model")
      .def_ro("path", &Model::path)
      .def("config_json", [](const Model& s) { return config_to_json(s.model.config()); })
      .def("precision", [](const Model& s) { return std::string(precision_name(s.model.precision())); })
      .def(
          "lift",
          [](Model& s, const KeypointsIn& kp, int width, int height, const std::string& action, int64_t hypotheses,
             int64_t steps, bool flip, uint64_t seed, const std::string& aggregation,
             std::optional<std::array<double, 4>> intrinsics, bool keep_hypotheses, double min_score, int64_t overlap,
             const std::string& smooth, std::optional<int64_t> smooth_window, std::optional<int64_t> smooth_order,
             std::optional<double> min_cutoff, std::optional<double> beta, double fps) {
            const wild::LiftOptions o = lift_options(action, hypotheses, steps, flip, seed, aggregation, intrinsics,
                                                     keep_hypotheses, min_score, overlap, smooth, smooth_window,
                                                     smooth_order, min_cutoff, beta, fps);
            Tensor<double> k = keypoints_tensor(kp);
            wild::Lifted l;
            {
              nb::gil_scoped_release release;
              std::lock_guard<std::mutex> lock(s.mu);
              apply_threads();
              l = wild::lift_sequence(s.model, k, width, height, o);
            }
            return lifted_dict(std::move(l));
          },
          "keypoints"_a, "width"_a, "height"_a, "action"_a, "hypotheses"_a, "steps"_a, "flip"_a, "seed"_a,
          "aggregation"_a, "intrinsics"_a.none(), "keep_hypotheses"_a, "min_score"_a, "overlap"_a, "smooth"_a,
          "smooth_window"_a.none(), "smooth_order"_a.none(), "min_cutoff"_a.none(), "beta"_a.none(), "fps"_a)
      .def(
          "lift_persons",
          [](Model& s, const std::vector<KeypointsIn>& kps, int width, int height, const std::string& action,
             int64_t hypotheses, int64_t steps, bool flip, uint64_t seed, const std::string& aggregation,
             std::optional<std::array<double, 4>> intrinsics, double min_score, int64_t overlap,
             const std::string& smooth, std::optional<int64_t> smooth_window, std::optional<int64_t> smooth_order,
             std::optional<double> min_cutoff, std::optional<double> beta, double fps) {
            FINEPOSE_CHECK(!kps.empty(), "lift: no persons given (an empty list)");
            const wild::LiftOptions o = lift_options(action, hypotheses, steps, flip, seed, aggregation, intrinsics,
                                                     false, min_score, overlap, smooth, smooth_window, smooth_order,
                                                     min_cutoff, beta, fps);
            std::vector<Tensor<double>> ks;
            for (const auto& k : kps) ks.push_back(keypoints_tensor(k));
            std::vector<const Tensor<double>*> ptrs;
            for (const auto& k : ks) ptrs.push_back(&k);
            std::vector<wild::Lifted> ls;
            {
              nb::gil_scoped_release release;
              std::lock_guard<std::mutex> lock(s.mu);
              apply_threads();
              ls = wild::lift_sequences(s.model, ptrs, width, height, o);
            }
            nb::list out;
            for (auto& l : ls) out.append(lifted_dict(std::move(l)));
            return out;
          },
          "persons"_a, "width"_a, "height"_a, "action"_a, "hypotheses"_a, "steps"_a, "flip"_a, "seed"_a,
          "aggregation"_a, "intrinsics"_a.none(), "min_score"_a, "overlap"_a, "smooth"_a, "smooth_window"_a.none(),
          "smooth_order"_a.none(), "min_cutoff"_a.none(), "beta"_a.none(), "fps"_a);

  m.def(
      "load_model",
      [](const std::string& path, const std::string& config_json, const std::string& vocab, const std::string& precision) {
        const Precision prec = parse_precision(precision);  // refused before the file is read
        ModelFileOptions mo;
        mo.overrides_json = config_json;
        std::optional<FinePoseModel> fm;
        {
          nb::gil_scoped_release release;
          fm.emplace(load_model(path, mo));
          if (!vocab.empty()) set_tokenizer_from_vocab(*fm, vocab);
          fm->set_precision(prec);
        }
        return new Model(std::move(*fm), path);
      },
      "path"_a, "config_json"_a = "", "vocab"_a = "", "precision"_a = "fp32", nb::rv_policy::take_ownership);

  nb::class_<Stream>(m, "Stream")
      .def(
          "__init__",
          [](Stream* st, Model& model, int width, int height, const std::string& action, int64_t hypotheses,
             int64_t steps, bool flip, uint64_t seed, const std::string& aggregation,
             std::optional<std::array<double, 4>> intrinsics, double min_score, int64_t overlap) {
            const wild::LiftOptions o = lift_options(action, hypotheses, steps, flip, seed, aggregation, intrinsics,
                                                     false, min_score, overlap, "none", std::nullopt, std::nullopt,
                                                     std::nullopt, std::nullopt, 30);
            new (st) Stream{&model, std::make_unique<wild::StreamingLifter>(model.model, width, height, o), bool(intrinsics)};
          },
          "model"_a, "width"_a, "height"_a, "action"_a, "hypotheses"_a, "steps"_a, "flip"_a, "seed"_a,
          "aggregation"_a, "intrinsics"_a.none(), "min_score"_a, "overlap"_a, nb::keep_alive<1, 2>())
      .def_prop_ro("latency_frames", [](const Stream& s) { return s.lifter->latency_frames(); })
      .def_prop_ro("action", [](const Stream& s) { return s.lifter->action(); })
      .def_prop_ro("notes", [](const Stream& s) { return s.lifter->notes(); })
      .def(
          "push",
          [](Stream& s, nb::ndarray<const double, nb::shape<17, 3>, nb::c_contig, nb::device::cpu> xys) {
            double buf[51];
            std::copy(xys.data(), xys.data() + 51, buf);
            std::vector<wild::LiftedFrame> fr;
            {
              nb::gil_scoped_release release;
              std::lock_guard<std::mutex> lock(s.owner->mu);
              apply_threads();
              fr = s.lifter->push_xys(buf);
            }
            return frames_tuple(std::move(fr), s.has_trajectory);
          },
          "xys"_a)
      .def("flush", [](Stream& s) {
        std::vector<wild::LiftedFrame> fr;
        {
          nb::gil_scoped_release release;
          std::lock_guard<std::mutex> lock(s.owner->mu);
          apply_threads();
          fr = s.lifter->flush();
        }
        return frames_tuple(std::move(fr), s.has_trajectory);
      });

  m.def(
      "read_keypoints",
      [](const std::string& path, std::optional<std::string> format, std::optional<std::string> layout,
         std::optional<int64_t> track, int64_t max_gap) {
        wild::ReadOptions ro;
        if (max_gap >= 0) ro.max_gap = max_gap;
        return keypoint_input_dict(wild::read_keypoints(path, format_of(format), layout_of(layout), track, ro));
      },
      "path"_a, "format"_a.none(), "layout"_a.none(), "track"_a.none(), "max_gap"_a);

  m.def(
      "read_persons",
      [](const std::string& path, std::optional<std::string> format, std::optional<std::string> layout, bool retrack,
         int64_t max_gap) {
        wild::PersonsOptions po;
        po.retrack = retrack;
        if (max_gap >= 0) po.read.max_gap = max_gap;
        wild::PersonsInput in = wild::read_persons(path, format_of(format), layout_of(layout), po);
        nb::list out;
        for (size_t p = 0; p < in.persons.size(); ++p) {
          nb::dict d = keypoint_input_dict(std::move(in.persons[p]));
          d["track_id"] = in.track_ids[p];
          d["image_width"] = in.image_width, d["image_height"] = in.image_height;
          out.append(d);
        }
        return nb::make_tuple(out, in.notes);
      },
      "path"_a, "format"_a.none(), "layout"_a.none(), "retrack"_a, "max_gap"_a);

  m.def(
      "metrics",
      [](const DoublesIn& pred, const DoublesIn& target, std::optional<DoublesIn> keypoints_2d,
         std::optional<std::array<double, 4>> intrinsics, std::optional<DoublesIn> root,
         std::optional<std::vector<bool>> valid, const std::string& skeleton, bool zero_root,
         int64_t pose_best_group_frames) {
        pose::MetricsInput in;
        in.pred = to_tensor<double>(pred);
        in.target = to_tensor<double>(target);
        if (keypoints_2d) in.keypoints_2d = to_tensor<double>(*keypoints_2d);
        if (root) in.root = to_tensor<double>(*root);
        if (intrinsics) {
          pose::CameraIntrinsics ci;
          ci.fx = (*intrinsics)[0], ci.fy = (*intrinsics)[1], ci.cx = (*intrinsics)[2], ci.cy = (*intrinsics)[3];
          in.intrinsics = ci;
        }
        if (valid) in.valid = *valid;
        pose::MetricsOptions mo;
        mo.skeleton = skeleton;
        mo.zero_root = zero_root;
        FINEPOSE_CHECK(pose_best_group_frames >= 0, "metrics: pose_best_group_frames must be >= 0");
        mo.pose_best_group_frames = pose_best_group_frames;
        pose::MetricsReport r;
        {
          nb::gil_scoped_release release;
          apply_threads();
          r = pose::compute_metrics(in, mo);
        }
        if (!r.multi_hypothesis) return metric_values(r.single);
        nb::dict d;
        for (const auto& [name, v] : r.aggregations) d[name.c_str()] = metric_values(v);
        return nb::object(d);
      },
      "pred"_a, "target"_a, "keypoints_2d"_a.none(), "intrinsics"_a.none(), "root"_a.none(), "valid"_a.none(),
      "skeleton"_a, "zero_root"_a, "pose_best_group_frames"_a);

  m.def(
      "write_bvh",
      [](const PosesIn& poses, std::optional<PosesIn> root, const std::string& path, double fps, bool z_up, bool overwrite) {
        FINEPOSE_CHECK(poses.ndim() == 3 && poses.shape(1) == 17 && poses.shape(2) == 3,
                       "export_bvh: poses must be (F, 17, 3) mm, H36M-17 order");
        const TensorF p = to_tensor<float>(poses);
        TensorF r;
        if (root) {
          FINEPOSE_CHECK(root->ndim() == 2 && root->shape(0) == poses.shape(0) && root->shape(1) == 3,
                         "export_bvh: root must be (F, 3) mm, one per pose");
          r = to_tensor<float>(*root);
        }
        FINEPOSE_CHECK(std::isfinite(fps) && fps > 0 && fps <= 10000, "export_bvh: fps = ", fps, " out of range (0, 10000]");
        pose::BvhOptions o;
        o.fps = fps, o.z_up = z_up;
        nb::gil_scoped_release release;
        const pose::BvhMotion m = pose::fit_bvh(p, r, o);
        io::write_file(path, pose::write_bvh(m), overwrite ? io::Existing::replace : io::Existing::refuse);
        return m.fit_error_mm;
      },
      "poses"_a, "root"_a.none(), "path"_a, "fps"_a, "z_up"_a, "overwrite"_a);
}
