// Scale searches for the reference quantizers (see quant_search.h). Every sum is a float
// accumulated in element order and every product is written in the order the reference
// evaluates it: changing either changes which candidate wins on near-ties, and with it the bytes.
#include "tensor/quant_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pocket::quant {
namespace {

int clamp_level(int l, int lo, int hi) {
  return std::max(lo, std::min(hi, l));
}

// Index and value of the element with the largest |x| (first one on ties).
float signed_max(int n, const float* x, float* abs_max) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  *abs_max = amax;
  return max;
}

}  // namespace

int nearest_int(float value) {
  // lrintf rounds ties to even in the default rounding mode, like the reference's
  // "add 1.5 * 2^23" trick does for |value| < 2^22.
  constexpr float kLimit = 4194303.0f;
  if (!(value > -kLimit)) return -4194303;  // also catches NaN
  if (value > kLimit) return 4194303;
  return static_cast<int>(std::lrint(value));
}

float search_signed_scale(int n, int nmax, const float* x, int8_t* L, const float* weights) {
  float amax;
  const float max = signed_max(n, x, &amax);
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  auto weight = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };

  float iscale = -nmax / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = weight(i);
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  // For the least-squares scale, error = sum w x^2 - scale * sumlx: maximize scale * sumlx.
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(nmax + 0.1f * step) / max;
    sumlx = 0;
    suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = weight(i);
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        L[i] = static_cast<int8_t>(nmax + clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float search_signed_scale_greedy(int n, int nmax, const float* x, int8_t* L) {
  float amax;
  const float max = signed_max(n, x, &amax);
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  // Coordinate descent: re-choose one level with the others fixed; keep the change when the
  // fitted error (-sumlx^2 / suml2) drops.
  for (int pass = 0; pass < 5; ++pass) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        const int new_l = clamp_level(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (new_l != L[i]) {
          slx += w * x[i] * new_l;
          sl2 += w * new_l * new_l;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return sumlx / suml2;
}

float search_scale_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* neg_min, uint8_t* aux, float rmin, float rdelta, int n_steps,
                       bool use_abs) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;  // the format subtracts a non-negative min: 0 must stay representable
  if (max <= min) {
    std::memset(L, 0, static_cast<size_t>(n));
    *neg_min = -min;
    return 0.0f;
  }
  auto error_of = [use_abs](float diff) { return use_abs ? std::fabs(diff) : diff * diff; };

  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(clamp_level(nearest_int(iscale * (x[i] - min)), 0, nmax));
    const float diff = scale * L[i] + min - x[i];
    best_error += weights[i] * error_of(diff);
  }
  for (int step = 0; step <= n_steps; ++step) {
    iscale = (rmin + rdelta * step + nmax) / (max - min);
    float sum_l = 0;
    float sum_l2 = 0;
    float sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_level(nearest_int(iscale * (x[i] - min)), 0, nmax);
      aux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    // Weighted least squares for x ~ scale * l + offset, solved in closed form.
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * aux[i] + this_min - x[i];
        error += weights[i] * error_of(diff);
      }
      if (error < best_error) {
        std::memcpy(L, aux, static_cast<size_t>(n));
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *neg_min = -min;
  return scale;
}

float search_positive_scale(int n, int nmax, const float* x, uint8_t* L, const float* weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max == 0) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  auto level = [&](float iscale, int i) {
    return clamp_level(nearest_int(iscale * x[i]), 0, nmax);
  };
  // Pick the inverse scale among nmax/max and 8 neighbours by weighted squared error ...
  float best_iscale = nmax / max;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - level(best_iscale, i) / best_iscale;
    best_error += weights[i] * diff * diff;
  }
  for (int step = -4; step <= 4; ++step) {
    if (step == 0) continue;
    const float iscale = (0.1f * step + nmax) / max;
    float error = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = x[i] - level(iscale, i) / iscale;
      error += weights[i] * diff * diff;
    }
    if (error < best_error) {
      best_error = error;
      best_iscale = iscale;
    }
  }
  // ... then refine single levels against the least-squares scale, as in the greedy search.
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = level(best_iscale, i);
    L[i] = static_cast<uint8_t>(l);
    sumlx += weights[i] * x[i] * l;
    suml2 += weights[i] * l * l;
  }
  for (int pass = 0; pass < 5; ++pass) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = weights[i];
      float slx = sumlx - w * x[i] * L[i];
      float sl2 = suml2 - w * L[i] * L[i];
      if (slx > 0 && sl2 > 0) {
        const int new_l = clamp_level(nearest_int(x[i] * sl2 / slx), 0, nmax);
        if (new_l != L[i]) {
          slx += w * x[i] * new_l;
          sl2 += w * new_l * new_l;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  return suml2 > 0 ? sumlx / suml2 : 0.0f;
}

}  // namespace pocket::quant
