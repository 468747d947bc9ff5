// The augmentation on the host CPU, one view at a time (src/engine/host-augment.ts): the same
// function as the augmentation graph (src/engine/augment-graph.ts) and the reference
// (src/core/augment-reference.ts), for the cpu provider and a GPU provider's small views
// (src/engine/batch-pipeline.ts, defaultAugmentSite). A view goes through only the stages it
// uses, while its pixels sit in the caches; the graph takes every view through every stage of the
// batch, a pass over all of the batch's views each (see the README's benchmark notes).
//
// augment(sources, sourceSizes, ints, floats, taps, out, size, constants)
//   sources      Uint8Array [S, Hmax, Wmax, 3] (the graph's packed sources)
//   sourceSizes  Int32Array [S, 4]: height, width, Hmax, Wmax
//   ints         Int32Array [V, INTS]: source, flip, jitter order (4 ops, −1 = none), grayscale,
//                blur kernel size (0 = none), solarize, crop top, left, height, width
//   floats       Float32Array [V, FLOATS]: brightness, contrast, saturation, hue (at their jitter
//                op codes, view-params.ts JITTER_*), solarize threshold (float32, as the graph's
//                inputs hold them)
//   taps         Float32Array [V, kmax]: the view's blur kernel (gaussianKernel1d), first taps
//   out          Float32Array [V, 3, oh, ow] (NCHW) or [V, oh, ow, 3] (NHWC)
//   size         Int32Array [oh, ow, nhwc, kmax]
//   constants    Float32Array [9]: per-channel scale a and offset b of the normalization
//                (out = a·x + b), then the grey weights (augment-reference.ts, GRAY_WEIGHTS)
#include <node_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

constexpr int INTS = 13;
constexpr int FLOATS = 5;
constexpr int BRIGHTNESS = 0, CONTRAST = 1, SATURATION = 2, HUE = 3;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HOT
#endif

inline float clip01(float v) { return std::min(std::max(v, 0.0f), 1.0f); }

inline int reflect(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * (n - 1);
  const int m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

// torchvision's resized_crop coordinate (augment-reference.ts, sourceCoordinate).
inline double sourceCoordinate(double start, double length, int outLength, bool mirror, int i) {
  const int o = mirror ? outLength - 1 - i : i;
  const double c = start + (o + 0.5) * (length / outLength) - 0.5;
  return std::min(std::max(c, start), start + length - 1);
}

struct Planes {
  float* r;
  float* g;
  float* b;
  int n;
};

// clip(f·x + (1 − f)·(α·gray(x) + β·mean)) per channel: brightness α = β = 0, saturation α = 1,
// contrast β = 1 (mean = mean of gray(x), as the reference: in float32 per pixel, summed in double).
HOT void blend(Planes p, const float* w, float f, int op) {
  const float complement = 1.0f - f;
  if (op == SATURATION) {
    for (int i = 0; i < p.n; i++) {
      const float gray = w[0] * p.r[i] + w[1] * p.g[i] + w[2] * p.b[i];
      const float add = complement * gray;
      p.r[i] = clip01(f * p.r[i] + add);
      p.g[i] = clip01(f * p.g[i] + add);
      p.b[i] = clip01(f * p.b[i] + add);
    }
    return;
  }
  float add = 0.0f;
  if (op == CONTRAST) {
    double sum = 0;
    for (int i = 0; i < p.n; i++) sum += static_cast<double>(w[0] * p.r[i] + w[1] * p.g[i] + w[2] * p.b[i]);
    add = complement * static_cast<float>(sum / p.n);
  }
  for (int i = 0; i < p.n; i++) {
    p.r[i] = clip01(f * p.r[i] + add);
    p.g[i] = clip01(f * p.g[i] + add);
    p.b[i] = clip01(f * p.b[i] + add);
  }
}

// adjust_hue in the graph's piecewise-linear form (augment-graph.ts, adjustHue).
HOT void hue(Planes p, float shift) {
  const float shifted = shift + 1.0f;
  for (int i = 0; i < p.n; i++) {
    const float r = p.r[i], g = p.g[i], b = p.b[i];
    const float mx = std::max(std::max(r, g), b);
    const float cr = mx - std::min(std::min(r, g), b);
    const float notR = r < mx ? 1.0f : 0.0f;
    const float notG = g < mx ? 1.0f : 0.0f;
    const float d0 = g - b, d1 = b - r, d2 = r - g;
    const float d = d0 + notR * ((d1 - d0) + notG * (d2 - d1));
    const float twoC = notR * (notG + 1.0f) * 2.0f;
    const float h6raw = twoC + d / std::max(cr, 1e-30f);
    const float u = h6raw / 6.0f + shifted;
    const float h6 = (u - std::floor(u)) * 6.0f;
    p.r[i] = mx - cr * clip01(2.0f - std::fabs(h6 - 3.0f));
    p.g[i] = mx - cr * clip01(std::fabs(h6 - 2.0f) - 1.0f);
    p.b[i] = mx - cr * clip01(std::fabs(h6 - 4.0f) - 1.0f);
  }
}

HOT void grayscale(Planes p, const float* w) {
  for (int i = 0; i < p.n; i++) {
    const float gray = w[0] * p.r[i] + w[1] * p.g[i] + w[2] * p.b[i];
    p.r[i] = p.g[i] = p.b[i] = gray;
  }
}

// Separable blur with reflect padding, rows first, then columns (augment-reference.ts, gaussianBlur).
HOT void blurPlane(float* plane, float* scratch, int h, int w, const float* kernel, int k) {
  const int half = (k - 1) / 2;
  // Rows: the columns whose taps all fall inside the row are summed tap by tap over the row.
  const int lo = std::min(half, w), hi = std::max(w - half, lo);
  for (int y = 0; y < h; y++) {
    const float* row = plane + y * w;
    float* out = scratch + y * w;
    for (int x = 0; x < lo; x++) {
      float acc = 0;
      for (int t = 0; t < k; t++) acc += kernel[t] * row[reflect(x - half + t, w)];
      out[x] = acc;
    }
    for (int x = lo; x < hi; x++) out[x] = 0;
    for (int t = 0; t < k; t++) {
      const float weight = kernel[t];
      const float* shifted = row - half + t;
      for (int x = lo; x < hi; x++) out[x] += weight * shifted[x];
    }
    for (int x = hi; x < w; x++) {
      float acc = 0;
      for (int t = 0; t < k; t++) acc += kernel[t] * row[reflect(x - half + t, w)];
      out[x] = acc;
    }
  }
  // Columns: each output row is a weighted sum of k (reflected) rows.
  for (int y = 0; y < h; y++) {
    float* out = plane + y * w;
    std::fill(out, out + w, 0.0f);
    for (int t = 0; t < k; t++) {
      const float weight = kernel[t];
      const float* src = scratch + reflect(y - half + t, h) * w;
      for (int x = 0; x < w; x++) out[x] += weight * src[x];
    }
  }
}

struct Batch {
  const uint8_t* sources;
  int hmax, wmax;
  const int32_t* sourceSizes;
  const int32_t* ints;
  const float* floats;
  const float* taps;
  float* out;
  int oh, ow, kmax;
  bool nhwc;
  const float* constants;
};

HOT void augmentView(const Batch& b, int v, std::vector<float>& work, std::vector<float>& scratch, std::vector<int>& columns, std::vector<float>& weights, std::vector<float>& rows) {
  const int32_t* iv = b.ints + static_cast<size_t>(v) * INTS;
  const float* fv = b.floats + static_cast<size_t>(v) * FLOATS;
  const int s = iv[0];
  const int H = b.sourceSizes[s * 4], W = b.sourceSizes[s * 4 + 1];
  const uint8_t* src = b.sources + static_cast<size_t>(s) * b.hmax * b.wmax * 3;
  const int oh = b.oh, ow = b.ow, n = oh * ow;
  Planes p{work.data(), work.data() + n, work.data() + 2 * n, n};

  // Crop and resize (bilinear, no antialias) + flip: the reference's taps, rows blended first.
  const double top = iv[9], left = iv[10], height = iv[11], width = iv[12];
  for (int x = 0; x < ow; x++) {
    const double sx = sourceCoordinate(left, width, ow, iv[1] != 0, x);
    const int x0 = static_cast<int>(std::floor(sx));
    columns[2 * x] = x0 * 3;
    columns[2 * x + 1] = std::min(x0 + 1, W - 1) * 3;
    weights[x] = static_cast<float>(sx - x0);
  }
  const int from = static_cast<int>(left) * 3, to = std::min(static_cast<int>(left + width) + 1, W) * 3;
  for (int y = 0; y < oh; y++) {
    const double sy = sourceCoordinate(top, height, oh, false, y);
    const int y0 = static_cast<int>(std::floor(sy));
    const int y1 = std::min(y0 + 1, H - 1);
    const float wy = static_cast<float>(sy - y0);
    const uint8_t* r0 = src + static_cast<size_t>(y0) * b.wmax * 3;
    const uint8_t* r1 = src + static_cast<size_t>(y1) * b.wmax * 3;
    for (int i = from; i < to; i++) {
      const float a0 = r0[i] / 255.0f, a1 = r1[i] / 255.0f;
      rows[i] = a0 * (1.0f - wy) + a1 * wy;
    }
    for (int x = 0; x < ow; x++) {
      const float wx = weights[x];
      const float* c0 = rows.data() + columns[2 * x];
      const float* c1 = rows.data() + columns[2 * x + 1];
      p.r[y * ow + x] = c0[0] * (1.0f - wx) + c1[0] * wx;
      p.g[y * ow + x] = c0[1] * (1.0f - wx) + c1[1] * wx;
      p.b[y * ow + x] = c0[2] * (1.0f - wx) + c1[2] * wx;
    }
  }

  // Colour jitter in the view's order; an op of factor 1 or a hue of 0 is the identity.
  for (int i = 0; i < 4; i++) {
    const int op = iv[2 + i];
    if (op < 0) continue;
    if (op == HUE) {
      const float shift = fv[HUE];
      if (shift != 0.0f) hue(p, shift);
      continue;
    }
    const float factor = fv[op];
    if (factor != 1.0f) blend(p, b.constants + 6, factor, op);
  }
  if (iv[6] != 0) grayscale(p, b.constants + 6);
  const int k = iv[7];
  if (k > 1) {
    const float* kernel = b.taps + static_cast<size_t>(v) * b.kmax;
    for (int c = 0; c < 3; c++) blurPlane(work.data() + c * n, scratch.data(), oh, ow, kernel, k);
  }
  if (iv[8] != 0) {
    const float threshold = fv[4];
    for (int i = 0; i < 3 * n; i++) work[i] = work[i] >= threshold ? 1.0f - work[i] : work[i];
  }

  // Normalization for the encoder, in its layout.
  float* out = b.out + static_cast<size_t>(v) * 3 * n;
  const float* a = b.constants;
  if (b.nhwc) {
    for (int i = 0; i < n; i++) {
      out[3 * i] = p.r[i] * a[0] + a[3];
      out[3 * i + 1] = p.g[i] * a[1] + a[4];
      out[3 * i + 2] = p.b[i] * a[2] + a[5];
    }
  } else {
    for (int c = 0; c < 3; c++) {
      const float* plane = work.data() + c * n;
      float* dst = out + c * n;
      for (int i = 0; i < n; i++) dst[i] = plane[i] * a[c] + a[3 + c];
    }
  }
}

// ---- N-API ----

bool typedArray(napi_env env, napi_value value, napi_typedarray_type type, void** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
  napi_typedarray_type got;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &got, length, data, &buffer, &offset) != napi_ok) return false;
  return got == type;
}

napi_value fail(napi_env env, const char* message) {
  napi_throw_type_error(env, "ERR_SSLMEM_AUGMENT", message);
  return nullptr;
}

napi_value Augment(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 8) return fail(env, "augment takes 8 arguments");
  void *sources, *sourceSizes, *ints, *floats, *taps, *out, *size, *constants;
  size_t nSources, nSizes, nInts, nFloats, nTaps, nOut, nSize, nConstants;
  if (!typedArray(env, argv[0], napi_uint8_array, &sources, &nSources) || !typedArray(env, argv[1], napi_int32_array, &sourceSizes, &nSizes) ||
      !typedArray(env, argv[2], napi_int32_array, &ints, &nInts) || !typedArray(env, argv[3], napi_float32_array, &floats, &nFloats) ||
      !typedArray(env, argv[4], napi_float32_array, &taps, &nTaps) || !typedArray(env, argv[5], napi_float32_array, &out, &nOut) ||
      !typedArray(env, argv[6], napi_int32_array, &size, &nSize) || !typedArray(env, argv[7], napi_float32_array, &constants, &nConstants)) {
    return fail(env, "augment: an argument is not the typed array it should be");
  }
  if (nSize != 4 || nConstants != 9 || nSizes % 4 != 0 || nInts % INTS != 0) return fail(env, "augment: malformed sizes");
  const int32_t* sz = static_cast<const int32_t*>(size);
  Batch b{static_cast<const uint8_t*>(sources), 0, 0, static_cast<const int32_t*>(sourceSizes), static_cast<const int32_t*>(ints), static_cast<const float*>(floats),
          static_cast<const float*>(taps), static_cast<float*>(out), sz[0], sz[1], sz[3], sz[2] != 0, static_cast<const float*>(constants)};
  const size_t S = nSizes / 4, V = nInts / INTS;
  if (S == 0 || b.oh < 1 || b.ow < 1 || b.kmax < 0) return fail(env, "augment: malformed sizes");
  b.hmax = b.sourceSizes[2];
  b.wmax = b.sourceSizes[3];
  // Every index the kernel reads is checked here: a malformed call is refused, never read past.
  if (nSources != S * b.hmax * b.wmax * 3 || nFloats != V * FLOATS || nTaps != V * static_cast<size_t>(b.kmax) || nOut != V * 3 * static_cast<size_t>(b.oh) * b.ow) {
    return fail(env, "augment: array lengths do not match the sizes");
  }
  for (size_t s = 0; s < S; s++) {
    const int32_t* d = b.sourceSizes + s * 4;
    if (d[0] < 1 || d[1] < 1 || d[0] > b.hmax || d[1] > b.wmax || d[2] != b.hmax || d[3] != b.wmax) return fail(env, "augment: malformed source sizes");
  }
  for (size_t v = 0; v < V; v++) {
    const int32_t* iv = b.ints + v * INTS;
    if (iv[0] < 0 || static_cast<size_t>(iv[0]) >= S) return fail(env, "augment: a view's source is out of range");
    const int H = b.sourceSizes[iv[0] * 4], W = b.sourceSizes[iv[0] * 4 + 1];
    const int64_t top = iv[9], left = iv[10], height = iv[11], width = iv[12];
    if (!(top >= 0 && left >= 0 && height >= 1 && width >= 1 && top + height <= H && left + width <= W)) return fail(env, "augment: a view's crop lies outside its source");
    for (int i = 0; i < 4; i++) if (iv[2 + i] < -1 || iv[2 + i] > HUE) return fail(env, "augment: a view's jitter order is malformed");
    if (iv[7] < 0 || iv[7] > b.kmax || (iv[7] > 0 && iv[7] % 2 == 0)) return fail(env, "augment: a view's blur kernel size is malformed");
  }
  const int n = b.oh * b.ow;
  std::vector<float> work(3 * static_cast<size_t>(n)), scratch(n), weights(b.ow), rows(static_cast<size_t>(b.wmax) * 3 + 3);
  std::vector<int> columns(2 * static_cast<size_t>(b.ow));
  for (size_t v = 0; v < V; v++) augmentView(b, static_cast<int>(v), work, scratch, columns, weights, rows);
  return nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "augment", NAPI_AUTO_LENGTH, Augment, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "augment", fn) != napi_ok) return nullptr;
  return exports;
}
