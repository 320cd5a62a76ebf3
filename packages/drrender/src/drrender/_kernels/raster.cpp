// Soft capsule rasteriser: forward and recomputing backward, one OpenMP task per frame.
// Plain C ABI (called through ctypes) so that it compiles in about a second without torch headers.
// Must compute exactly the function of drrender/reference.py; see that module for the image model.
//
// prims  (N, P, 8): ax, ay, az, bx, by, bz, radius, opacity  (pixels; depth in pixels)
// colors (N, P, 3), background (N, 3), out / grad_out (N, 3, H, W)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

constexpr double kAlphaMax = 0.9999;
constexpr double kEps = 1e-3;
constexpr double kLogitEps = -6.906754778648554;  // log(eps / (1 - eps))
constexpr double kDistEps2 = 1e-6;
constexpr double kDegenerate2 = 1e-12;

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
  T sig = T(1) / (T(1) + std::exp(-u));
  if (!(sig > T(kEps))) return false;
  out.t = t; out.qx = qx; out.qy = qy; out.d = d;
  out.z = c.az + t * (c.bz - c.az);
  out.sig = sig;
  out.st = (sig - T(kEps)) / (T(1) - T(kEps));
  out.alpha = T(kAlphaMax) * c.o * out.st;
  return true;
}

// Per-pixel accumulators of one frame: running max of log-weights, softmax normaliser, weighted colour,
// transmittance.
template <typename T>
struct Accum {
  std::vector<T> m, S, C, Tr;
  void reset(int64_t HW) {
    m.assign(HW, -std::numeric_limits<T>::infinity());
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

template <typename T>
void accumulate(const T* prims, const T* colors, int64_t P, int H, int W, T s, T k, Accum<T>& acc) {
  for (int64_t p = 0; p < P; ++p) {
    Capsule<T> c;
    if (!c.setup(prims + 8 * p, s, H, W)) continue;
    const T* col = colors + 3 * p;
    for_each_sample(c, s, [&](int y, int x, const Sample<T>& smp) {
      if (!(smp.alpha > 0)) return;
      int64_t i = (int64_t)y * W + x;
      acc.Tr[i] *= (T(1) - smp.alpha);
      T L = std::log(smp.alpha) - k * smp.z;
      if (L > acc.m[i]) {
        T sc = std::exp(acc.m[i] - L);
        acc.S[i] = acc.S[i] * sc + T(1);
        for (int ch = 0; ch < 3; ++ch) acc.C[3 * i + ch] = acc.C[3 * i + ch] * sc + col[ch];
        acc.m[i] = L;
      } else {
        T e = std::exp(L - acc.m[i]);
        acc.S[i] += e;
        for (int ch = 0; ch < 3; ++ch) acc.C[3 * i + ch] += e * col[ch];
      }
    });
  }
  int64_t HW = (int64_t)H * W;
  for (int64_t i = 0; i < HW; ++i) {
    if (acc.S[i] > 0) {
      T inv = T(1) / acc.S[i];
      for (int ch = 0; ch < 3; ++ch) acc.C[3 * i + ch] *= inv;
    }
  }
}

template <typename T>
void forward(const T* prims, const T* colors, const T* bg, int64_t N, int64_t P, int H, int W, T s, T g,
             int threads, T* out) {
  const int64_t HW = (int64_t)H * W;
  const T k = s * g;
#pragma omp parallel num_threads(threads)
  {
    Accum<T> acc;
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < N; ++n) {
      acc.reset(HW);
      accumulate(prims + n * P * 8, colors + n * P * 3, P, H, W, s, k, acc);
      T* o = out + n * 3 * HW;
      const T* b = bg + 3 * n;
      for (int64_t i = 0; i < HW; ++i) {
        T tr = acc.Tr[i];
        for (int ch = 0; ch < 3; ++ch) o[ch * HW + i] = (T(1) - tr) * acc.C[3 * i + ch] + tr * b[ch];
      }
    }
  }
}

template <typename T>
void backward(const T* prims, const T* colors, const T* bg, const T* grad_out, int64_t N, int64_t P, int H,
              int W, T s, T g, int threads, T* g_prims, T* g_colors, T* g_bg) {
  const int64_t HW = (int64_t)H * W;
  const T k = s * g;
  const T am = T(kAlphaMax), eps = T(kEps);
#pragma omp parallel num_threads(threads)
  {
    Accum<T> acc;
    std::vector<T> gC, gT, Sg, invS;
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < N; ++n) {
      const T* pr = prims + n * P * 8;
      const T* co = colors + n * P * 3;
      const T* b = bg + 3 * n;
      const T* G = grad_out + n * 3 * HW;
      acc.reset(HW);
      accumulate(pr, co, P, H, W, s, k, acc);
      gC.assign(3 * HW, T(0));
      gT.assign(HW, T(0));
      Sg.assign(HW, T(0));
      invS.assign(HW, T(0));
      T gb[3] = {0, 0, 0};
      for (int64_t i = 0; i < HW; ++i) {
        T tr = acc.Tr[i];
        T gt = 0, sg = 0;
        for (int ch = 0; ch < 3; ++ch) {
          T go = G[ch * HW + i];
          T gc = go * (T(1) - tr);
          gC[3 * i + ch] = gc;
          gt += go * (b[ch] - acc.C[3 * i + ch]);
          sg += gc * acc.C[3 * i + ch];
          gb[ch] += go * tr;
        }
        gT[i] = gt;
        Sg[i] = sg;
        invS[i] = acc.S[i] > 0 ? T(1) / acc.S[i] : T(0);
        if (!(acc.m[i] > -std::numeric_limits<T>::infinity())) acc.m[i] = 0;
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
          T beta = invS[i] > 0 ? std::exp(std::min(-k * smp.z - acc.m[i], T(80))) * invS[i] : T(0);
          T w = smp.alpha * beta;
          T dot = -Sg[i];
          for (int ch = 0; ch < 3; ++ch) {
            acc_c[ch] += gC[3 * i + ch] * w;
            dot += gC[3 * i + ch] * col[ch];
          }
          T tr = acc.Tr[i];
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
    }
  }
}

}  // namespace

extern "C" {

int drr_abi_version() { return 1; }

void drr_forward_f32(const float* prims, const float* colors, const float* bg, int64_t N, int64_t P, int H,
                     int W, double s, double g, int threads, float* out) {
  forward<float>(prims, colors, bg, N, P, H, W, (float)s, (float)g, threads, out);
}
void drr_forward_f64(const double* prims, const double* colors, const double* bg, int64_t N, int64_t P, int H,
                     int W, double s, double g, int threads, double* out) {
  forward<double>(prims, colors, bg, N, P, H, W, s, g, threads, out);
}
void drr_backward_f32(const float* prims, const float* colors, const float* bg, const float* grad_out, int64_t N,
                      int64_t P, int H, int W, double s, double g, int threads, float* g_prims, float* g_colors,
                      float* g_bg) {
  backward<float>(prims, colors, bg, grad_out, N, P, H, W, (float)s, (float)g, threads, g_prims, g_colors, g_bg);
}
void drr_backward_f64(const double* prims, const double* colors, const double* bg, const double* grad_out,
                      int64_t N, int64_t P, int H, int W, double s, double g, int threads, double* g_prims,
                      double* g_colors, double* g_bg) {
  backward<double>(prims, colors, bg, grad_out, N, P, H, W, s, g, threads, g_prims, g_colors, g_bg);
}
}
