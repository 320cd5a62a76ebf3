// Soft capsule rasteriser: forward and recomputing backward, frames spread over torch's threads.
// Plain C ABI (called through ctypes) so that it compiles in about a second without torch headers.
// Must compute exactly the function of drrender/reference.py; see that module for the image model.
//
// prims  (N, P, 8): ax, ay, az, bx, by, bz, radius, opacity  (pixels; depth in pixels)
// colors (N, P, 3), background (N, 3), out (N, 3, H, W); grad_out (N, 3, H, W) with element strides
// gstrides[4] (any, including the zero strides of an expanded scalar gradient).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>
#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/mman.h>
#endif

namespace {

constexpr double kAlphaMax = 0.9999;
constexpr double kEps = 1e-3;
constexpr double kLogitEps = -6.906754778648554;  // log(eps / (1 - eps))
constexpr double kDistEps2 = 1e-6;
constexpr double kDegenerate2 = 1e-12;

// Value-semantics min/max (std::min/max return references, which keeps GCC from if-converting loops).
template <typename T>
__attribute__((always_inline)) inline T vmax(T a, T b) { return a > b ? a : b; }
template <typename T>
__attribute__((always_inline)) inline T vmin(T a, T b) { return a < b ? a : b; }

// Branch-free exp (Cephes polynomial, ~1 ulp in float) that GCC vectorises inside `omp simd` loops;
// doubles use libm (they serve gradient checks, not speed).
__attribute__((always_inline)) inline float vexp(float x) {
  x = vmin(vmax(x, -87.0f), 88.0f);
  float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
inline double vexp(double x) { return std::exp(x); }

template <typename T>
struct Capsule {
  T ax, ay, az, bx, by, bz, r, o;
  T dx, dy, dd, inv_dd;
  bool seg;
  int x0, x1, y0, y1;
  T R;  // support radius

  // Returns false when the capsule touches no pixel.
  bool setup(const T* p, T s, int H, int W) {
    ax = p[0]; ay = p[1]; az = p[2]; bx = p[3]; by = p[4]; bz = p[5]; r = p[6]; o = p[7];
    R = r - T(kLogitEps) / s;
    if (!(R > 0)) return false;  // also rejects NaN
    dx = bx - ax; dy = by - ay; dd = dx * dx + dy * dy;
    seg = dd > T(kDegenerate2);
    inv_dd = seg ? T(1) / dd : T(0);
    // Pixel centre j + 0.5 inside [lo, hi]  <=>  ceil(lo - 0.5) <= j <= floor(hi - 0.5)
    T lox = std::min(ax, bx) - R - T(0.5), hix = std::max(ax, bx) + R - T(0.5);
    T loy = std::min(ay, by) - R - T(0.5), hiy = std::max(ay, by) + R - T(0.5);
    if (!(hix >= 0 && hiy >= 0 && lox <= W - 1 && loy <= H - 1)) return false;
    x0 = std::max(0, (int)std::ceil(std::max(lox, T(-1))));
    x1 = std::min(W - 1, (int)std::floor(std::min(hix, T(W))));
    y0 = std::max(0, (int)std::ceil(std::max(loy, T(-1))));
    y1 = std::min(H - 1, (int)std::floor(std::min(hiy, T(H))));
    return x0 <= x1 && y0 <= y1;
  }

  // Columns of row py (pixel-centre ordinate) that may lie within R of the segment: the capsule is
  // convex, so its intersection with a row is one interval (the union of the two end discs' and the
  // band's). A half-pixel slack keeps the bound conservative against rounding.
  bool row_span(T py, int& c0, int& c1) const {
    T lo = std::numeric_limits<T>::infinity(), hi = -lo;
    auto disc = [&](T cx, T cy) {
      T h = R * R - (py - cy) * (py - cy);
      if (h >= 0) { T w = std::sqrt(h); lo = std::min(lo, cx - w); hi = std::max(hi, cx + w); }
    };
    disc(ax, ay);
    disc(bx, by);
    if (seg) {
      // Band: |cross(p - a, D)| <= R |D|  and  0 <= dot(p - a, D) <= |D|^2, linear in px along the row.
      T len = std::sqrt(dd);
      T blo = -std::numeric_limits<T>::infinity(), bhi = -blo;
      auto clip = [&](T c, T m, T lo_v, T hi_v) {  // lo_v <= c + m * px <= hi_v
        if (m > 0) { blo = std::max(blo, (lo_v - c) / m); bhi = std::min(bhi, (hi_v - c) / m); }
        else if (m < 0) { blo = std::max(blo, (hi_v - c) / m); bhi = std::min(bhi, (lo_v - c) / m); }
        else if (c < lo_v || c > hi_v) { blo = 1; bhi = 0; }
      };
      // cross = (px - ax) * dy - (py - ay) * dx
      clip(-ax * dy - (py - ay) * dx, dy, -R * len, R * len);
      // dot = (px - ax) * dx + (py - ay) * dy
      clip(-ax * dx + (py - ay) * dy, dx, T(0), dd);
      if (blo <= bhi) { lo = std::min(lo, blo); hi = std::max(hi, bhi); }
    }
    if (!(lo <= hi)) return false;
    T l = lo - T(1), h = hi + T(1);
    c0 = std::max(x0, (int)std::ceil(std::max(l - T(0.5), T(x0 - 1))));
    c1 = std::min(x1, (int)std::floor(std::min(h - T(0.5), T(x1 + 1))));
    return c0 <= c1;
  }
};

template <typename T>
struct Sample {
  T t, qx, qy, d, z, sig, st, alpha;
};

// Evaluates capsule c at pixel centre (px, py); false outside its support.
template <typename T>
inline bool sample(const Capsule<T>& c, T px, T py, T s, Sample<T>& out) {
  T wx = px - c.ax, wy = py - c.ay;
  T t = T(0);
  if (c.seg) {
    t = (wx * c.dx + wy * c.dy) * c.inv_dd;
    t = t < 0 ? T(0) : (t > 1 ? T(1) : t);
  }
  T qx = c.ax + t * c.dx, qy = c.ay + t * c.dy;
  T ex = px - qx, ey = py - qy;
  T d = std::sqrt(ex * ex + ey * ey + T(kDistEps2));
  T u = s * (c.r - d);
  if (!(u > T(kLogitEps) - T(1e-3))) return false;
  T sig = T(1) / (T(1) + vexp(-u));
  if (!(sig > T(kEps))) return false;
  out.t = t; out.qx = qx; out.qy = qy; out.d = d;
  out.z = c.az + t * (c.bz - c.az);
  out.sig = sig;
  out.st = (sig - T(kEps)) / (T(1) - T(kEps));
  out.alpha = T(kAlphaMax) * c.o * out.st;
  return true;
}

// Per-pixel accumulators of one frame: running max m of the depth terms -k z of covering primitives
// (finite sentinel so that the branch-free update never computes inf - inf), normaliser
// S = sum alpha exp(-k z - m), weighted colour planes, transmittance. The weights alpha exp(-k z) / S are
// the soft z-buffer's softmax of log(alpha) - k z, shifted by m instead of by that softmax's own maximum.
template <typename T>
struct Accum {
  static constexpr T kNone = T(-1e30);
  static constexpr int kBlock = 8;  // pixels per vector block; rows are padded to a multiple of it
  std::vector<T> m, S, C, Tr;
  int64_t HW = 0;  // padded plane size
  int stride = 0;
  void reset(int H, int W) {
    stride = (W + kBlock - 1) / kBlock * kBlock;
    HW = (int64_t)H * stride;
    m.assign(HW, kNone);
    S.assign(HW, T(0));
    C.assign(3 * HW, T(0));
    Tr.assign(HW, T(1));
  }
};

template <typename T, typename F>
inline void for_each_sample(const Capsule<T>& c, T s, F&& f) {
  for (int y = c.y0; y <= c.y1; ++y) {
    T py = T(y) + T(0.5);
    int c0, c1;
    if (!c.row_span(py, c0, c1)) continue;
    for (int x = c0; x <= c1; ++x) {
      Sample<T> smp;
      if (sample(c, T(x) + T(0.5), py, s, smp)) f(y, x, smp);
    }
  }
}

// Adds capsule c to the accumulators; one vectorised loop per image row.
template <typename T>
void splat(const Capsule<T>& c, const T* col, int W, T s, T k, Accum<T>& acc) {
  const T am_o = T(kAlphaMax) * c.o, eps = T(kEps), inv1meps = T(1) / (T(1) - T(kEps));
  const T dz = c.bz - c.az, rr = c.r;
  const T c0v = col[0], c1v = col[1], c2v = col[2];
  for (int y = c.y0; y <= c.y1; ++y) {
    const T py = T(y) + T(0.5);
    int x0, x1;
    if (!c.row_span(py, x0, x1)) continue;
    const int64_t base = (int64_t)y * acc.stride;
    T* __restrict m = acc.m.data() + base;
    T* __restrict S = acc.S.data() + base;
    T* __restrict C0 = acc.C.data() + base;
    T* __restrict C1 = acc.C.data() + acc.HW + base;
    T* __restrict C2 = acc.C.data() + 2 * acc.HW + base;
    T* __restrict Tr = acc.Tr.data() + base;
    const T wy = py - c.ay;
    // Whole aligned blocks: pixels outside the span (or in the row padding) get alpha = 0, a no-op, and
    // the fixed trip count lets the compiler vectorise without a scalar remainder loop.
    for (int xb = x0 / Accum<T>::kBlock * Accum<T>::kBlock; xb <= x1; xb += Accum<T>::kBlock) {
#pragma omp simd
    for (int x = xb; x < xb + Accum<T>::kBlock; ++x) {
      const T wx = T(x) + T(0.5) - c.ax;
      T t = (wx * c.dx + wy * c.dy) * c.inv_dd;  // inv_dd = 0 for discs -> t = 0
      t = vmin(vmax(t, T(0)), T(1));
      const T ex = wx - t * c.dx, ey = wy - t * c.dy;
      const T d = std::sqrt(ex * ex + ey * ey + T(kDistEps2));
      const T u = vmax(s * (rr - d), T(-80));
      const T sig = T(1) / (T(1) + vexp(-u));
      const T alpha = am_o * vmax((sig - eps) * inv1meps, T(0));
      const bool on = alpha > T(0);
      // Weight alpha * exp(-k z), kept relative to the running maximum of -k z: of the old sums' and the
      // new term's factors one is exp(0) = 1, so one exp serves both. Computed unconditionally and then
      // selected, so the loop has no branches to block vectorisation.
      const T L = on ? -k * (c.az + t * dz) : Accum<T>::kNone;
      const T mo = m[x];
      const T dl = L - mo;
      const T e = vexp(dl > 0 ? -dl : dl);
      const bool up = dl > 0;
      const T mn = up ? L : mo;
      const T eo = up ? e : T(1);
      const T en = alpha * (up ? T(1) : e);
      S[x] = S[x] * eo + en;
      C0[x] = C0[x] * eo + en * c0v;
      C1[x] = C1[x] * eo + en * c1v;
      C2[x] = C2[x] * eo + en * c2v;
      m[x] = mn;
      Tr[x] *= (T(1) - alpha);
    }
    }
  }
}

template <typename T>
void accumulate(const T* prims, const T* colors, int64_t P, int H, int W, T s, T k, Accum<T>& acc) {
  for (int64_t p = 0; p < P; ++p) {
    Capsule<T> c;
    if (!c.setup(prims + 8 * p, s, H, W)) continue;
    splat(c, colors + 3 * p, W, s, k, acc);
  }
  // Normalise the weighted colours (uncovered pixels keep 0: their transmittance is 1).
  T* __restrict S = acc.S.data();
  T* __restrict C = acc.C.data();
  const int64_t n = acc.HW;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T inv = S[i] > 0 ? T(1) / vmax(S[i], T(1e-30)) : T(0);
    C[i] *= inv;
    C[n + i] *= inv;
    C[2 * n + i] *= inv;
  }
}

// Runs body(n, state) for every frame n in [0, N) on `threads` threads pulling frames from a shared
// counter. Built with OpenMP, the team is torch's own intra-op pool: the library links libgomp.so.1,
// which the dynamic loader resolves to the copy torch has already loaded, so the frames run on the
// workers torch just used (and that are still spinning after its last op) instead of on new threads
// that would have to take the cores from them. Without OpenMP: std::thread with blocking joins.
// Cleared from Python when the process holds a second OpenMP runtime besides torch's (then a team would
// be a pool of its own, whose spinning workers would contend with torch's).
std::atomic<bool> g_openmp(true);

template <typename State, typename F>
void parallel_frames(int64_t N, int threads, F&& body) {
  std::atomic<int64_t> next(0);
  auto work = [&]() {
    State st;
    for (int64_t n = next.fetch_add(1); n < N; n = next.fetch_add(1)) body(n, st);
  };
  const int nt = (int)std::max<int64_t>(1, std::min<int64_t>(threads, N));
  if (nt == 1) return work();
#if defined(_OPENMP)
  if (g_openmp.load()) {
#pragma omp parallel num_threads(nt)
    work();
    return;
  }
#endif
  std::vector<std::thread> pool;
  for (int i = 1; i < nt; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

// Large fresh outputs are first touched here; asking for transparent huge pages turns ~500 page faults
// per 2 MB into one (a large share of the time for 224x224 batches). Advisory only: failures are ignored.
inline void advise_huge(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = uintptr_t(2) << 20;
  uintptr_t lo = (reinterpret_cast<uintptr_t>(p) + huge - 1) & ~(huge - 1);
  uintptr_t hi = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(huge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

template <typename T>
void forward(const T* prims, const T* colors, const T* bg, int64_t N, int64_t P, int H, int W, T s, T g,
             int threads, T* out) {
  const int64_t HW = (int64_t)H * W;
  const T k = s * g;
  advise_huge(out, sizeof(T) * 3 * HW * N);
  parallel_frames<Accum<T>>(N, threads, [&](int64_t n, Accum<T>& acc) {
      acc.reset(H, W);
      accumulate(prims + n * P * 8, colors + n * P * 3, P, H, W, s, k, acc);
      T* o = out + n * 3 * HW;
      const T* b = bg + 3 * n;
      const int64_t PW = acc.HW;
      for (int y = 0; y < H; ++y) {
        const T* tr = acc.Tr.data() + (int64_t)y * acc.stride;
        for (int ch = 0; ch < 3; ++ch) {
          const T* cc = acc.C.data() + ch * PW + (int64_t)y * acc.stride;
          T* oo = o + ch * HW + (int64_t)y * W;
          const T bc = b[ch];
#pragma omp simd
          for (int x = 0; x < W; ++x) oo[x] = (T(1) - tr[x]) * cc[x] + tr[x] * bc;
        }
      }
  });
}

template <typename T>
struct BackwardState {
  Accum<T> acc;
  std::vector<T> gC, gT, Sg, invS;
};

template <typename T>
void backward(const T* prims, const T* colors, const T* bg, const T* grad_out, const int64_t* gs, int64_t N,
              int64_t P, int H, int W, T s, T g, int threads, T* g_prims, T* g_colors, T* g_bg) {
  const int64_t HW = (int64_t)H * W;
  const T k = s * g;
  const T am = T(kAlphaMax), eps = T(kEps);
  parallel_frames<BackwardState<T>>(N, threads, [&](int64_t n, BackwardState<T>& state) {
      Accum<T>& acc = state.acc;
      std::vector<T>&gC = state.gC, &gT = state.gT, &Sg = state.Sg, &invS = state.invS;
      const T* pr = prims + n * P * 8;
      const T* co = colors + n * P * 3;
      const T* b = bg + 3 * n;
      const T* G = grad_out + n * gs[0];  // strided (e.g. expanded) gradient, never copied
      acc.reset(H, W);
      accumulate(pr, co, P, H, W, s, k, acc);
      const int64_t PW = acc.HW, st = acc.stride;
      gC.assign(3 * HW, T(0));
      gT.assign(HW, T(0));
      Sg.assign(HW, T(0));
      invS.assign(HW, T(0));
      T gb[3] = {0, 0, 0};
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t y = i / W, x = i % W;
        const int64_t a = y * st + x;
        T tr = acc.Tr[a];
        T gt = 0, sg = 0;
        for (int ch = 0; ch < 3; ++ch) {
          T go = G[ch * gs[1] + y * gs[2] + x * gs[3]];
          T gc = go * (T(1) - tr);
          gC[3 * i + ch] = gc;
          gt += go * (b[ch] - acc.C[ch * PW + a]);
          sg += gc * acc.C[ch * PW + a];
          gb[ch] += go * tr;
        }
        gT[i] = gt;
        Sg[i] = sg;
        invS[i] = acc.S[a] > 0 ? T(1) / acc.S[a] : T(0);
        if (!(acc.S[a] > 0)) acc.m[a] = 0;
      }
      for (int ch = 0; ch < 3; ++ch) g_bg[3 * n + ch] = gb[ch];
      for (int64_t p = 0; p < P; ++p) {
        Capsule<T> c;
        T* gp = g_prims + (n * P + p) * 8;
        T* gcol = g_colors + (n * P + p) * 3;
        if (!c.setup(pr + 8 * p, s, H, W)) continue;
        const T* col = co + 3 * p;
        T acc_p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        T acc_c[3] = {0, 0, 0};
        for_each_sample(c, s, [&](int y, int x, const Sample<T>& smp) {
          int64_t i = (int64_t)y * W + x;
          T px = T(x) + T(0.5), py = T(y) + T(0.5);
          // d(weight)/d(alpha); the clamp only matters for zero-opacity primitives at uncovered pixels.
          const int64_t a = (int64_t)y * st + x;
          T beta = invS[i] > 0 ? vexp(vmin(-k * smp.z - acc.m[a], T(80))) * invS[i] : T(0);
          T w = smp.alpha * beta;
          T dot = -Sg[i];
          for (int ch = 0; ch < 3; ++ch) {
            acc_c[ch] += gC[3 * i + ch] * w;
            dot += gC[3 * i + ch] * col[ch];
          }
          T tr = acc.Tr[a];
          T ga = beta * dot - gT[i] * tr / (T(1) - smp.alpha);
          T gz = -k * w * dot;
          acc_p[7] += ga * am * smp.st;
          T gu = ga * am * c.o * smp.sig * (T(1) - smp.sig) / (T(1) - eps);
          acc_p[6] += s * gu;
          T gd = -s * gu / smp.d;
          T gqx = gd * (smp.qx - px), gqy = gd * (smp.qy - py);
          T t = smp.t;
          acc_p[0] += (T(1) - t) * gqx;
          acc_p[1] += (T(1) - t) * gqy;
          acc_p[3] += t * gqx;
          acc_p[4] += t * gqy;
          acc_p[2] += (T(1) - t) * gz;
          acc_p[5] += t * gz;
          if (c.seg && t > 0 && t < 1) {
            T gt_ = gz * (c.bz - c.az) * c.inv_dd;
            T wx = px - c.ax, wy = py - c.ay;
            acc_p[0] += gt_ * (-c.dx - wx + 2 * t * c.dx);
            acc_p[1] += gt_ * (-c.dy - wy + 2 * t * c.dy);
            acc_p[3] += gt_ * (wx - 2 * t * c.dx);
            acc_p[4] += gt_ * (wy - 2 * t * c.dy);
          }
        });
        for (int j = 0; j < 8; ++j) gp[j] = acc_p[j];
        for (int ch = 0; ch < 3; ++ch) gcol[ch] = acc_c[ch];
      }
  });
}

}  // namespace

extern "C" {

int drr_abi_version() { return 3; }

// Whether frames run on an OpenMP team (torch's pool) rather than on threads of the kernel's own.
int drr_openmp() {
#if defined(_OPENMP)
  return g_openmp.load() ? 1 : 0;
#else
  return 0;
#endif
}

void drr_set_openmp(int on) { g_openmp.store(on != 0); }

// Kernel threads of the team parallel_frames uses for `threads` threads and N frames (each frame sleeps
// a little so that every member takes one); writes min(N, 64) Linux thread ids, or -1 elsewhere.
void drr_team_tids(int64_t N, int threads, int64_t* tids) {
  struct None {};
  const int64_t n = std::min<int64_t>(N, 64);
  parallel_frames<None>(n, threads, [&](int64_t i, None&) {
#if defined(__linux__)
    tids[i] = (int64_t)syscall(SYS_gettid);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
#else
    tids[i] = -1;
#endif
  });
}

void drr_forward_f32(const float* prims, const float* colors, const float* bg, int64_t N, int64_t P, int H,
                     int W, double s, double g, int threads, float* out) {
  forward<float>(prims, colors, bg, N, P, H, W, (float)s, (float)g, threads, out);
}
void drr_forward_f64(const double* prims, const double* colors, const double* bg, int64_t N, int64_t P, int H,
                     int W, double s, double g, int threads, double* out) {
  forward<double>(prims, colors, bg, N, P, H, W, s, g, threads, out);
}
void drr_backward_f32(const float* prims, const float* colors, const float* bg, const float* grad_out,
                      const int64_t* gstrides, int64_t N,
                      int64_t P, int H, int W, double s, double g, int threads, float* g_prims, float* g_colors,
                      float* g_bg) {
  backward<float>(prims, colors, bg, grad_out, gstrides, N, P, H, W, (float)s, (float)g, threads, g_prims, g_colors,
                  g_bg);
}
void drr_backward_f64(const double* prims, const double* colors, const double* bg, const double* grad_out,
                      const int64_t* gstrides,                      int64_t N, int64_t P, int H, int W, double s, double g, int threads, double* g_prims,
                      double* g_colors, double* g_bg) {
  backward<double>(prims, colors, bg, grad_out, gstrides, N, P, H, W, s, g, threads, g_prims, g_colors, g_bg);
}
}
