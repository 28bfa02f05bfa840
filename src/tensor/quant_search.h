// The scale searches behind the reference quantizers: given a small group of values, find
// integer levels L and a scale (and for asymmetric formats a min) that minimize a weighted
// squared (or absolute) error. The numerics follow llama.cpp's reference quantizer step by
// step (float sums in the same order, ties to even) so that our output bytes match files it
// wrote. Internal to tensor/: the format code in quants_*.cpp is the only caller.
#pragma once

#include <cstdint>

namespace pocket::quant {

// Groups whose largest magnitude is below this are treated as all zero.
inline constexpr float kGroupMaxEps = 1e-15f;

// Rounds to the nearest integer, ties to even (the rounding of every search below).
// Values beyond +-2^22 saturate instead of overflowing; callers clamp to a few bits anyway.
int nearest_int(float value);

// Symmetric levels l in [-nmax, nmax-1] for n values, stored as L[i] = l + nmax, minimizing
// sum w_i (x_i - scale * l_i)^2 with w_i = weights[i] (or x_i^2 when weights is null).
// Starts from the scale that puts the largest-magnitude value on -nmax, refits the scale by
// least squares, and tries the 18 nearby inverse scales (nmax + 0.1k)/max for k = +-1..9.
// Returns the scale (0 and all L = 0 for an all-zero group).
float search_signed_scale(int n, int nmax, const float* x, int8_t* L, const float* weights);

// As search_signed_scale with w = x^2, but after the first least-squares fit it moves single
// levels one at a time while that lowers the error (up to 5 passes). The Q3_K reference.
float search_signed_scale_greedy(int n, int nmax, const float* x, int8_t* L);

// Asymmetric levels l in [0, nmax], minimizing sum w_i |x_i - (scale * l_i - min)|^p (p = 1
// with use_abs, else 2). The min is <= 0 in x (returned negated in *neg_min, so >= 0). Tries the
// inverse scales (nmax + rmin + rdelta*k) / (max - min) for k = 0..n_steps, each followed by a
// joint least-squares fit of scale and min; keeps the best. `aux` is n bytes of scratch.
float search_scale_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* neg_min, uint8_t* aux, float rmin, float rdelta, int n_steps,
                       bool use_abs);

// Non-negative levels l in [0, nmax] for non-negative values (sub-block scales or mins),
// weighted by `weights`; used by the importance-weighted K-quant paths to quantize their
// sub-block scales. Returns the scale.
float search_positive_scale(int n, int nmax, const float* x, uint8_t* L, const float* weights);

}  // namespace pocket::quant
