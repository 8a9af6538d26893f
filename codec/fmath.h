/* fmath.h — the codec's own elementary functions (exp, erf, GELU, sigmoid,
 * rsqrt, log), defined bit for bit.
 *
 * Coded probabilities must be identical on every machine, so nothing in the
 * coded path may call libm or a vendor intrinsic whose last bit is
 * unspecified.  Every function here is built from IEEE binary32 + - * /,
 * fmaf() (only where written), sqrtf() (correctly rounded everywhere) and
 * exact bit manipulation; with -ffp-contract=off (C) or -fmad=false (CUDA)
 * the result is the same on any conforming compiler and device.  The same
 * header is compiled by the C compiler and by nvcc (FM_FN marks the
 * functions __host__ __device__ there).
 *
 * Accuracy (tests/codec/test_fmath.c checks it against libm in double):
 * fm_exp, fm_erf and fm_log within 2 ulp, the erfc tail within 5 ulp
 * relative, GELU within 8 ulp (1 + erf cancels near x = -1.4); GELU and its
 * derivative inherit that.  Accuracy matters for compression only;
 * determinism is what the format relies on.
 *
 * Polynomial coefficients are Chebyshev fits made for this file; they are
 * written in decimal with enough digits to round to one binary32 value.
 */
#ifndef FADE_FMATH_H
#define FADE_FMATH_H

#include <stdint.h>
#include <math.h>       /* sqrtf, fmaf: correctly rounded, allowed */
#include <string.h>

#ifdef __CUDACC__
#define FM_FN static inline __host__ __device__
#else
#define FM_FN static inline
#endif

/* ---- exact bit access ---- */
FM_FN uint32_t fm_bits(float x)
{
#ifdef __CUDA_ARCH__            /* nvcc's device pass; its host pass uses memcpy */
    return (uint32_t)__float_as_uint(x);
#else
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
#endif
}

FM_FN float fm_from_bits(uint32_t u)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
#endif
}

FM_FN int fm_isnan(float x) { return (fm_bits(x) & 0x7fffffffu) > 0x7f800000u; }

/* 2^k for k in [-126, 127], built from the exponent bits (exact). */
FM_FN float fm_pow2i(int k)
{
    return fm_from_bits((uint32_t)(k + 127) << 23);
}

/* 1/sqrt(x): one correctly rounded sqrtf and one division. */
FM_FN float fm_rsqrt(float x) { return 1.0f / sqrtf(x); }

/* exp(x).  k = nearest integer to x/ln2 (rounded by the 1.5*2^23 trick,
 * exact for |x/ln2| < 2^22), r = x - k*ln2 with ln2 split so that k*LN2_HI
 * is exact (LN2_HI has 12 trailing zero bits) and the subtraction is exact
 * (Sterbenz), |r| <= ~0.347; exp(r) by its degree-7 Taylor polynomial
 * (truncation < 1e-8 relative) in Horner form; then the exact scaling by
 * 2^k, done in two exact-power steps where 2^k alone is out of range so
 * that the single final product rounds once (overflow -> +inf, gradual
 * underflow -> subnormals, below that +0). */
FM_FN float fm_exp(float x)
{
    const float LN2_HI = 0.693145751953125f;
    const float LN2_LO = 1.42860682031e-6f;
    const float INV_LN2 = 1.44269502163f;
    const float SHIFTER = 12582912.0f;              /* 1.5 * 2^23 */
    if (fm_isnan(x))
        return x + x;
    if (x > 89.0f)
        return fm_from_bits(0x7f800000u);          /* +inf */
    if (x < -104.0f)
        return 0.0f;
    float kf = (x * INV_LN2 + SHIFTER) - SHIFTER;
    int k = (int)kf;
    float r = x - kf * LN2_HI;
    r = fmaf(-kf, LN2_LO, r);
    float p = 1.98412698e-4f;                      /* 1/7! */
    p = fmaf(p, r, 1.38888889e-3f);                /* 1/6! */
    p = fmaf(p, r, 8.33333377e-3f);                /* 1/5! */
    p = fmaf(p, r, 4.16666679e-2f);                /* 1/4! */
    p = fmaf(p, r, 1.66666672e-1f);                /* 1/3! */
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    if (k > 127)
        return (p * fm_pow2i(127)) * fm_pow2i(k - 127);
    if (k < -125)
        return (p * fm_pow2i(-100)) * fm_pow2i(k + 100);
    return p * fm_pow2i(k);
}

/* erfc(t) for t >= 1 from w = 1/t and t*t = hi + lo (lo the exact
 * rounding error of hi): exp(-t*t) * (S(w) * w) with S a degree-12 fit of
 * erfc(t)*t*exp(t*t) in (w - 0.546875) over w in [1/10.5, 1], and
 * exp(-hi - lo) taken as exp(-hi) * (1 - lo) so that the rounding of t*t
 * costs no accuracy. */
FM_FN float fm_erfc_core(float w, float hi, float lo)
{
    float v = w - 0.546875f;
    float s = -0.151664332f;
    s = fmaf(s, v, 0.1265916761f);
    s = fmaf(s, v, 0.03932628195f);
    s = fmaf(s, v, -0.09824221525f);
    s = fmaf(s, v, 0.08765786847f);
    s = fmaf(s, v, -0.06236456809f);
    s = fmaf(s, v, 0.01315809925f);
    s = fmaf(s, v, 0.04959514199f);
    s = fmaf(s, v, -0.09779329779f);
    s = fmaf(s, v, 0.09957643519f);
    s = fmaf(s, v, -0.0212916788f);
    s = fmaf(s, v, -0.1699049626f);
    s = fmaf(s, v, 0.5028845812f);
    float q = s * w;
    q = fmaf(-lo, q, q);                           /* q * (1 - lo) */
    return fm_exp(-hi) * q;
}

/* erfc(t) for t >= 1 (the tail, where 1 - erf(t) would lose relative
 * accuracy); +0 for t > 10.5 where erfc(t) < 2^-150. */
FM_FN float fm_erfc_tail(float t)
{
    if (t > 10.5f)
        return 0.0f;
    float hi = t * t;
    return fm_erfc_core(1.0f / t, hi, fmaf(t, t, -hi));
}

/* erf(x).  |x| < 1: fmaf(x, P(x*x) - 1, x), P a degree-7 fit of erf(x)/x
 * in x*x over [0, 1] (its constant term stored minus one, so the one
 * rounding of the fmaf dominates); 1 <= |x| < 4: 1 - erfc(|x|) (erfc from fm_erfc_tail), sign
 * restored; |x| >= 4: +-1 (erf rounds to 1 there); NaN passes through. */
FM_FN float fm_erf(float x)
{
    if (fm_isnan(x))
        return x + x;
    float a = x < 0.0f ? -x : x;
    if (a < 1.0f) {
        float u = x * x;
        float p = -9.667044571e-6f;
        p = fmaf(p, u, 1.126595903e-4f);
        p = fmaf(p, u, -8.484080406e-4f);
        p = fmaf(p, u, 5.221031808e-3f);
        p = fmaf(p, u, -2.686543073e-2f);
        p = fmaf(p, u, 1.12837825e-1f);
        p = fmaf(p, u, -3.761263847e-1f);
        p = fmaf(p, u, 0.1283791671f);
        return fmaf(x, p, x);
    }
    float r = a < 4.0f ? 1.0f - fm_erfc_tail(a) : 1.0f;
    return x < 0.0f ? -r : r;
}

/* Phi(x) = P(N(0,1) <= x) = 0.5 * (1 + erf(x / sqrt 2)).  For
 * x / sqrt 2 <= -1 it is 0.5 * erfc(-x / sqrt 2) from fm_erfc_core with
 * w = -sqrt2 / x and t*t = x*x/2 split exactly, so the rounding of
 * x / sqrt 2 does not cost relative accuracy in the far tail.  Elsewhere
 * t = x * (1/sqrt 2) rounds once (the constant is the float nearest). */
FM_FN float fm_phi(float x)
{
    float t = x * 0.707106781187f;
    if (t <= -1.0f) {
        if (t < -10.5f)
            return 0.0f;
        float hi = x * x;
        float lo = fmaf(x, x, -hi);
        return 0.5f * fm_erfc_core(-1.41421356237f / x, 0.5f * hi, 0.5f * lo);
    }
    return 0.5f * (1.0f + fm_erf(t));
}

/* GELU with the exact erf, as PyTorch's default: x * Phi(x). */
FM_FN float fm_gelu(float x)
{
    return x * fm_phi(x);
}

/* d/dx GELU(x) = Phi(x) + x * phi(x), phi(x) = exp(-x*x/2) / sqrt(2 pi):
 * fmaf(x, pdf, cdf) with pdf = exp(-((0.5*x)*x)) * (1/sqrt(2 pi)) and
 * cdf = fm_phi(x), which a caller may have kept from the forward pass. */
FM_FN float fm_gelu_grad_phi(float x, float cdf)
{
    float pdf = fm_exp(-((0.5f * x) * x)) * 0.398942280401f;
    return fmaf(x, pdf, cdf);
}

FM_FN float fm_gelu_grad(float x)
{
    return fm_gelu_grad_phi(x, fm_phi(x));
}

/* 1 / (1 + exp(-x)); exact 0 / 1 in the far tails follow from fm_exp. */
FM_FN float fm_sigmoid(float x)
{
    return 1.0f / (1.0f + fm_exp(-x));
}

/* Natural log, for loss reporting (not on the coded path, but exact
 * anyway).  x = m * 2^e with m in [sqrt(1/2), sqrt 2), subnormals
 * normalised first; log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716,
 * odd series to s^13; log x = e*ln2 + log m with ln2 split hi/lo.
 * log(0) = -inf, log(<0) and log(NaN) = NaN, log(+inf) = +inf. */
FM_FN float fm_log(float x)
{
    const float LN2_HI = 0.693145751953125f;
    const float LN2_LO = 1.42860682031e-6f;
    uint32_t u = fm_bits(x);
    if (fm_isnan(x))
        return x + x;
    if (x < 0.0f)
        return fm_from_bits(0x7fc00000u);
    if (x == 0.0f)
        return fm_from_bits(0xff800000u);
    if (u == 0x7f800000u)
        return x;
    int e = 0;
    if (u < 0x00800000u) {                         /* subnormal: scale up */
        x = x * 16777216.0f;                       /* 2^24, exact */
        u = fm_bits(x);
        e = -24;
    }
    e += (int)(u >> 23) - 127;
    float m = fm_from_bits((u & 0x007fffffu) | 0x3f800000u);   /* [1, 2) */
    if (m > 1.41421356f) {
        m = m * 0.5f;
        e += 1;
    }
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float p = 1.0f / 13.0f;
    p = fmaf(p, s2, 1.0f / 11.0f);
    p = fmaf(p, s2, 1.0f / 9.0f);
    p = fmaf(p, s2, 1.0f / 7.0f);
    p = fmaf(p, s2, 1.0f / 5.0f);
    p = fmaf(p, s2, 1.0f / 3.0f);
    float lm = fmaf(2.0f * s, s2 * p, 2.0f * s);
    float ef = (float)e;
    return fmaf(ef, LN2_HI, fmaf(ef, LN2_LO, lm));
}

#endif /* FADE_FMATH_H */
