#pragma once
// finepose bench: times one denoiser call and a full DDIM sampling run of a
// FinePOSE model with random weights (paper dims by default), and a square
// fp32 GEMM as the machine's reference peak, all in one process.
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "args.hpp"
#include "finepose/core/philox.hpp"
#include "finepose/model/finepose_model.hpp"
#include "finepose/model/flop_count.hpp"
#include "finepose/model/model_file.hpp"
#include "finepose/ops/gemm.hpp"
#include "finepose/ops/packed_linear.hpp"

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

namespace finepose::cli {

namespace bench_detail {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds used by this process (all threads): with other work on the machine this
// is a steadier measure of our own cost than the wall clock.
inline double cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Peak resident set of this process so far: VmHWM from /proc/self/status (reset by
// exec; getrusage's ru_maxrss is not, so a big parent process would leak into it),
// else ru_maxrss (KiB on Linux).
inline double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string key;
  while (f >> key) {
    if (key == "VmHWM:") {
      double kb = 0;
      if (f >> kb) return kb / 1024.0;
      break;
    }
    std::getline(f, key);
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

// Current resident set, from /proc/self/statm (0 where unavailable).
inline double current_rss_mb() {
  std::ifstream f("/proc/self/statm");
  long long pages = 0, resident = 0;
  if (!(f >> pages >> resident)) return 0;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// Random weights of a plausible scale: LayerNorm weights near 1, the rest N(0, 0.02^2),
// so activations stay in range (no overflow, no denormal storms) through depth 8.
inline void randomise(FinePoseModel& m, std::uint64_t seed) {
  std::uint64_t stream = 0;
  m.visit([&](const std::string& name, TensorF& p) {
    NormalStream(seed, ++stream).fill(p.data(), p.numel());
    const bool norm_weight = p.dim() == 1 && name.size() >= 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
    for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] = norm_weight ? 1.f + 0.02f * p.data()[i] : 0.02f * p.data()[i];
  });
}

// Our two GEMMs on n x n x n: ops::gemm (Eigen, C = A B) and ops::linear_packed (the
// AVX-512 micro-kernel the model runs on, C = A W^T with W packed): median GFLOP/s by the
// wall clock and per CPU-second. The better of the two is the peak we compare against.
struct GemmRate {
  double wall = 0, per_cpu = 0;
};
struct GemmRates {
  GemmRate eigen, packed, reduced;  // reduced: linear_packed at the bench's --precision (fp32: = packed)
  double peak_wall() const { return std::max(eigen.wall, packed.wall); }
  double peak_per_cpu() const { return std::max(eigen.per_cpu, packed.per_cpu); }
};
template <class Fn>
inline GemmRate time_gemm(double gflop, int repeats, Fn&& fn) {
  fn();  // warm-up
  std::vector<double> t, ct;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now_s(), c0 = cpu_s();
    fn();
    t.push_back(now_s() - t0);
    ct.push_back(cpu_s() - c0);
  }
  return {gflop / median(t), gflop / median(ct)};
}
inline GemmRates gemm_gflops(int64_t n, int repeats, Precision prec = Precision::fp32) {
  TensorF a = NormalStream(1, 1).normal({n, n}), b = NormalStream(1, 2).normal({n, n}), c({n, n});
  const double gflop = 2.0 * double(n) * double(n) * double(n) / 1e9;
  GemmRates r;
  r.eigen = time_gemm(gflop, repeats, [&] {
    ops::gemm(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
  });
  const ops::PackedWeight w(b.data(), n, n);
  r.packed = time_gemm(gflop, repeats, [&] { ops::linear_packed(c.data(), n, a.data(), n, n, w, nullptr, false); });
  r.reduced = r.packed;
  if (prec != Precision::fp32) {
    const ops::PackedWeight wr(b.data(), n, n, prec);
    r.reduced = time_gemm(gflop, repeats, [&] { ops::linear_packed(c.data(), n, a.data(), n, n, wr, nullptr, false); });
  }
  return r;
}

// Register-only roofs. Every thread runs kRoofIters rounds of kRoofChains independent
// chains of one vector instruction (no memory traffic; 12 chains cover the instruction latency at the
// issue rate of Zen 4 and recent Intel cores), best of 3 runs of ~0.2 s. `ops_per_instr` counts a multiply-add
// as 2, so all roofs compare with GFLOP/s. The chains' results are stored, so they
// cannot be optimised away.
constexpr int kRoofChains = 12;
constexpr int64_t kRoofIters = 20'000'000;  // ~0.2 s on a 3.5 GHz core with 512-bit FMAs
template <class Chains>
inline double roof_gops(double ops_per_instr, Chains&& chains) {
  const int threads = num_threads();
  std::vector<float> sink(std::size_t(threads), 0.f);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now_s();
    parallel_for(threads, [&](int64_t th) { sink[std::size_t(th)] = chains(th); }, 1);
    const double dt = now_s() - t0;
    best = std::max(best, ops_per_instr * kRoofChains * double(kRoofIters) * threads / dt / 1e9);
  }
  volatile float keep = 0;
  for (float v : sink) keep = keep + v;
  return best;
}

// The machine's fp32 arithmetic roof: fused multiply-adds on full vector registers.
// 0 where the build has no FMA instructions.
inline double fma_peak_gflops() {
#if defined(__AVX512F__) || defined(__FMA__)
#if defined(__AVX512F__)
  using V = __m512;
  constexpr int kLanes = 16;
  const auto set1 = [](float x) { return _mm512_set1_ps(x); };
  const auto fma = [](V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); };
  const auto lane0 = [](V a) { return _mm512_cvtss_f32(a); };
#else
  using V = __m256;
  constexpr int kLanes = 8;
  const auto set1 = [](float x) { return _mm256_set1_ps(x); };
  const auto fma = [](V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); };
  const auto lane0 = [](V a) { return _mm256_cvtss_f32(a); };
#endif
  return roof_gops(2.0 * kLanes, [&](int64_t th) {
    V acc[kRoofChains];
    for (int i = 0; i < kRoofChains; ++i) acc[i] = set1(1.f + 1e-7f * float(i + th));
    const V b = set1(0.9999999f), c = set1(1e-7f);
    for (int64_t it = 0; it < kRoofIters; ++it)
      for (int i = 0; i < kRoofChains; ++i) acc[i] = fma(acc[i], b, c);
    float s = 0;
    for (int i = 0; i < kRoofChains; ++i) s += lane0(acc[i]);
    return s;
  });
#else
  return 0;
#endif
}

// The roof of a reduced precision: VDPBF16PS (bf16: 32 multiply-adds a zmm instruction)
// or VPDPBUSD (int8: 64). fp32: fma_peak_gflops. 0 where the build lacks the instruction.
inline double dot_peak_gops(Precision p) {
  if (p == Precision::fp32) return fma_peak_gflops();
#if defined(__AVX512BF16__)
  if (p == Precision::bf16)
    return roof_gops(2.0 * 32, [](int64_t th) {
      __m512 acc[kRoofChains];
      for (int i = 0; i < kRoofChains; ++i) acc[i] = _mm512_set1_ps(float(i + th));
      const __m512bh b = (__m512bh)_mm512_set1_epi32(0x3F803F80), c = (__m512bh)_mm512_set1_epi32(0x33D633D6);
      for (int64_t it = 0; it < kRoofIters; ++it)
        for (int i = 0; i < kRoofChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], b, c);
      float s = 0;
      for (int i = 0; i < kRoofChains; ++i) s += _mm512_cvtss_f32(acc[i]);
      return s;
    });
#endif
#if defined(__AVX512VNNI__)
  if (p == Precision::int8)
    return roof_gops(2.0 * 64, [](int64_t th) {
      __m512i acc[kRoofChains];
      for (int i = 0; i < kRoofChains; ++i) acc[i] = _mm512_set1_epi32(int(i + th));
      const __m512i b = _mm512_set1_epi32(0x01010101), c = _mm512_set1_epi32(0x01FF01FF);
      for (int64_t it = 0; it < kRoofIters; ++it)
        for (int i = 0; i < kRoofChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], b, c);
      int s = 0;
      alignas(64) int lanes[16];  // (not _mm512_castsi512_si128: GCC 12 warns inside its header)
      for (int i = 0; i < kRoofChains; ++i) {
        _mm512_store_si512(lanes, acc[i]);
        s += lanes[0];
      }
      return float(s);
    });
#endif
  return 0;
}

}  // namespace bench_detail

inline int cmd_bench(int argc, char** argv) {
  using namespace bench_detail;
  Args a("bench", "[--depth D] [--frames F] [--batch B] [--hypotheses H] [--steps K] [--flip] [--threads T] [--json]",
         {{"depth", "D", "transformer depth (default 8)"},
          {"frames", "F", "frames per clip (default 243)"},
          {"batch", "B", "clips per call (default 1)"},
          {"hypotheses", "H", "hypotheses per clip (default 1)"},
          {"steps", "K", "DDIM steps of the sampling run (default 10; 0 skips it)"},
          {"flip", "", "flip augmentation in the sampling run (and the denoiser call's batch doubled)"},
          {"threads", "T", "CPU threads (default: all)"},
          {"dim", "N", "latent width (default 512)"},
          {"heads", "N", "attention heads (default 8)"},
          {"repeats", "N", "timed repeats of the denoiser call (default 5; median reported)"},
          {"sampling-repeats", "N", "timed repeats of the sampling run (default 1)"},
          {"gemm", "N", "also time our fp32 GEMM at N x N x N and the FMA peak (default 2048; 0 skips both)"},
          {"seed", "S", "seed of the random weights and inputs (default 0)"},
          {"model", "FILE", "time this model (official checkpoint or .safetensors) instead of random weights; its config "
                            "replaces --depth/--frames/--dim/--heads"},
          {"config", "FILE", "with --model: JSON overriding what an official checkpoint cannot tell (heads, ...)"},
          precision_option(),
          {"json", "", "print one JSON object"}});
  if (!a.parse(argc, argv)) return 0;
  a.apply_threads();
  const bool from_file = a.has("model");
  for (const char* shape : {"depth", "frames", "dim", "heads"})
    FINEPOSE_CHECK(!from_file || !a.has(shape), "bench: --", shape, " cannot be combined with --model (the model file sets it)");
  FINEPOSE_CHECK(from_file || !a.has("config"), "bench: --config needs --model");
  FinePoseConfig cfg;
  cfg.depth = a.get_int_in("depth", 8, 1, 64);
  cfg.frames = a.get_int_in("frames", 243, 1, 100000);
  cfg.dim = a.get_int_in("dim", 512, 1, 65536);
  cfg.heads = a.get_int_in("heads", 8, 1, 1024);
  cfg.mlp_hidden = 2 * cfg.dim;
  cfg.validate();
  ModelFileOptions mo;
  if (a.has("config")) mo.overrides_json = io::read_text_file(a.get("config"));
  const int64_t B = a.get_int("batch", 1), H = a.get_int("hypotheses", 1), K = a.get_int("steps", 10);
  const bool flip = a.has("flip");
  const int repeats = int(a.get_int_in("repeats", 5, 1, 1000)), srepeats = int(a.get_int_in("sampling-repeats", 1, 1, 100));
  const int64_t gemm_n = a.get_int("gemm", 2048);
  const std::uint64_t seed = std::uint64_t(a.get_int("seed", 0));
  FINEPOSE_CHECK(B >= 1 && B <= 4096, "bench: --batch ", B, " is out of range");
  FINEPOSE_CHECK(H >= 1 && H <= 1000, "bench: --hypotheses ", H, " is out of range");
  FINEPOSE_CHECK(K >= 0 && K <= 1000, "bench: --steps ", K, " is out of range");
  FINEPOSE_CHECK(repeats >= 1 && repeats <= 1000 && srepeats >= 1 && srepeats <= 100, "bench: repeats out of range");
  FINEPOSE_CHECK(gemm_n >= 0 && gemm_n <= 16384, "bench: --gemm ", gemm_n, " is out of range");
  const bool json = a.has("json");
  const Precision precision = precision_of(a);

  FinePoseModel model = from_file ? load_model(a.get("model"), mo) : FinePoseModel(cfg);
  if (from_file) cfg = model.config();
  else randomise(model, seed);
  model.set_precision(precision);
  const std::string action = model.config().variant == PromptVariant::h36m ? "Walking" : "";  // 3DHP models take no label

  // text branch: once per label (cached afterwards)
  double t0 = now_s();
  const TextFeatures& tf = model.text_features(action);
  const double text_s = now_s() - t0;

  // one denoiser call: the flipped copy rides in the same batch, as in sampling
  const int64_t NB = flip ? 2 * B : B;
  const TensorF x2d = NormalStream(seed, 1001).normal({NB, cfg.frames, cfg.joints, cfg.in_chans});
  const TensorF x3d = NormalStream(seed, 1002).normal({NB, H, cfg.frames, cfg.joints, 3});
  const std::vector<int64_t> t(std::size_t(NB), 500);
  const std::vector<const TextFeatures*> texts(std::size_t(NB), &tf);
  // a reduced precision's reference: the same call at fp32, made first, so that the warm-up
  // packs the weights at `precision` once, outside every timed call (sampling's too)
  TensorF ref;
  if (precision != Precision::fp32) {
    model.set_precision(Precision::fp32);
    model.net().forward(x2d, x3d, t, texts, ref);
    model.set_precision(precision);
  }
  model.net().forward(x2d, x3d, t, texts);  // warm-up
  std::vector<double> dt, dct;
  TensorF pred;
  for (int r = 0; r < repeats; ++r) {
    t0 = now_s();
    const double c0 = cpu_s();
    model.net().forward(x2d, x3d, t, texts, pred);
    dt.push_back(now_s() - t0);
    dct.push_back(cpu_s() - c0);
  }
  const double denoiser_s = median(dt), denoiser_cpu_s = median(dct);
  // the reduced precision's error against the fp32 reference call, rel L2
  double rel_l2_fp32 = 0;
  if (precision != Precision::fp32) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) {
      const double d = double(pred.data()[i]) - double(ref.data()[i]);
      num += d * d;
      den += double(ref.data()[i]) * double(ref.data()[i]);
    }
    rel_l2_fp32 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  }
  const FlopCount fc = model_flops(cfg, NB, H);
  const double gflops = fc.pose / denoiser_s / 1e9, gflops_per_core = fc.pose / denoiser_cpu_s / 1e9;

  // full sampling run
  double sampling_s = 0, rss_before = current_rss_mb(), rss_after = 0;
  if (K > 0) {
    const TensorF clip = NormalStream(seed, 1003).normal({B, cfg.frames, cfg.joints, cfg.in_chans});
    SampleOptions opt;
    opt.hypotheses = H;
    opt.steps = K;
    opt.flip = flip;
    opt.seed = seed;
    std::vector<double> st;
    for (int r = 0; r < srepeats; ++r) {
      t0 = now_s();
      TensorF out = model.sample(clip, {action}, opt);
      st.push_back(now_s() - t0);
    }
    sampling_s = median(st);
    rss_after = current_rss_mb();
  }
  const GemmRates gr = gemm_n > 0 ? gemm_gflops(gemm_n, 5, precision) : GemmRates{};
  const double gemm = gr.peak_wall(), gemm_cpu = gr.peak_per_cpu();
  const double fma_peak = gemm_n > 0 ? fma_peak_gflops() : 0.0;
  const double roof = gemm_n > 0 ? (precision == Precision::fp32 ? fma_peak : dot_peak_gops(precision)) : 0.0;
  const char* kernel = ops::packed_kernel_name(precision, false);
  const double peak = peak_rss_mb();

  if (json) {
    std::printf(
        "{\"depth\": %lld, \"frames\": %lld, \"batch\": %lld, \"hypotheses\": %lld, \"steps\": %lld, \"flip\": %s, "
        "\"threads\": %d, \"dim\": %lld, \"heads\": %lld, \"denoiser_s\": %.6f, \"sampling_s\": %.6f, \"text_s\": %.6f, "
        "\"denoiser_gflop\": %.3f, \"text_gflop\": %.3f, \"gflops\": %.3f, \"gemm_n\": %lld, \"gemm_gflops\": %.3f, "
        "\"gemm_eigen_gflops\": %.3f, \"gemm_packed_gflops\": %.3f, "
        "\"gemm_fraction\": %.4f, \"rss_before_sampling_mb\": %.1f, \"rss_after_sampling_mb\": %.1f, "
        "\"peak_rss_mb\": %.1f, \"denoiser_cpu_s\": %.6f, \"gflops_per_core\": %.3f, \"gemm_gflops_per_core\": %.3f, "
        "\"gemm_fraction_per_core\": %.4f, \"fma_peak_gflops\": %.3f, \"peak_fraction\": %.4f, "
        "\"precision\": \"%s\", \"kernel\": \"%s\", \"gemm_precision_gflops\": %.3f, \"precision_peak_gops\": %.3f, "
        "\"precision_peak_fraction\": %.4f, \"denoiser_rel_l2_vs_fp32\": %.3e, \"weights\": \"%s\"}\n",
        (long long)cfg.depth, (long long)cfg.frames, (long long)B, (long long)H, (long long)K, flip ? "true" : "false",
        num_threads(), (long long)cfg.dim, (long long)cfg.heads, denoiser_s, sampling_s, text_s, fc.pose / 1e9,
        fc.text / 1e9, gflops, (long long)gemm_n, gemm, gr.eigen.wall, gr.packed.wall, gemm > 0 ? gflops / gemm : 0.0, rss_before, rss_after, peak, denoiser_cpu_s, gflops_per_core, gemm_cpu,
        gemm_cpu > 0 ? gflops_per_core / gemm_cpu : 0.0, fma_peak, fma_peak > 0 ? gflops / fma_peak : 0.0,
        precision_name(precision), kernel, gr.reduced.wall, roof, roof > 0 ? gflops / roof : 0.0, rel_l2_fp32,
        from_file ? "file" : "random");
  } else {
    if (from_file) std::printf("finepose bench: weights from %s\n", a.get("model").c_str());
    std::printf("finepose bench: %s, depth %lld, %lld frames, dim %lld, %lld heads, batch %lld%s, %lld hypotheses, %d threads\n",
                precision_name(precision), (long long)cfg.depth, (long long)cfg.frames, (long long)cfg.dim, (long long)cfg.heads, (long long)B,
                flip ? " (+ flipped copy)" : "", (long long)H, num_threads());
    std::printf("  text branch (once per label): %.3f s (%.2f GFLOP)\n", text_s, fc.text / 1e9);
    std::printf("  denoiser call: %.4f s median of %d (%.2f GFLOP, %.1f GFLOP/s); %.3f CPU-s, %.1f GFLOP per CPU-s\n",
                denoiser_s, repeats, fc.pose / 1e9, gflops, denoiser_cpu_s, gflops_per_core);
    if (K > 0) std::printf("  sampling, %lld steps: %.3f s\n", (long long)K, sampling_s);
    if (gemm > 0)
      std::printf("  our GEMM %lld^3: Eigen %.1f, packed AVX-512 %.1f GFLOP/s (per CPU-s %.1f / %.1f); denoiser at %.0f%% "
                  "of the better (%.0f%% per CPU-s)\n", (long long)gemm_n, gr.eigen.wall, gr.packed.wall, gr.eigen.per_cpu,
                  gr.packed.per_cpu, 100.0 * gflops / gemm, 100.0 * gflops_per_core / gemm_cpu);
    if (fma_peak > 0)
      std::printf("  FMA peak (%d threads, register-only fused multiply-adds): %.1f GFLOP/s; denoiser at %.0f%% of it\n",
                  num_threads(), fma_peak, 100.0 * gflops / fma_peak);
    if (precision != Precision::fp32) {
      std::printf("  precision %s (%s)", precision_name(precision), kernel);
      if (gemm_n > 0) std::printf(": GEMM %lld^3 %.1f GOP/s", (long long)gemm_n, gr.reduced.wall);
      if (roof > 0) std::printf("; roof %.1f GOP/s, denoiser at %.0f%% of it", roof, 100.0 * gflops / roof);
      std::printf("; denoiser output vs fp32: rel L2 %.2e", rel_l2_fp32);
      std::printf("\n");
    }
    std::printf("  RSS before/after sampling %.0f / %.0f MB, peak %.0f MB\n", rss_before, rss_after, peak);
  }
  return 0;
}

}  // namespace finepose::cli
