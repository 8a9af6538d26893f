/* fmath_avx2.h — eight-lane AVX2+FMA versions of the fmath.h functions
 * that the model applies to whole arrays (exp, GELU with its Phi, the
 * GELU derivative, sigmoid), giving in every lane exactly the bits of the
 * scalar function.
 *
 * Each lane performs the scalar function's operations in the same order:
 * _mm256_fmadd_ps is fmaf (one rounding), add/sub/mul/div are the IEEE
 * operations, min/max/and/xor/shift only move exact bits.  Where the
 * scalar code branches, both sides are computed and the lane's side is
 * selected with a blend; out-of-range intermediates of the discarded side
 * never reach a result.  tests/codec/test_fmath.c compares every function
 * bit for bit with fmath.h over sweeps and special values.
 *
 * Only for translation units built with -mavx2 -mfma. */
#ifndef FADE_FMATH_AVX2_H
#define FADE_FMATH_AVX2_H

#include <immintrin.h>
#include "codec/fmath.h"

#define FMV_S(c) _mm256_set1_ps(c)

static inline __m256 fmv_neg(__m256 x)
{
    return _mm256_xor_ps(x, FMV_S(-0.0f));
}

/* 2^k for k in [-126, 127] (other k give unused garbage). */
static inline __m256 fmv_pow2i(__m256i k)
{
    __m256i e = _mm256_add_epi32(k, _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}

/* fm_exp */
static inline __m256 fmv_exp(__m256 x)
{
    const __m256 hi_lim = FMV_S(89.0f), lo_lim = FMV_S(-104.0f);
    __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    __m256 big = _mm256_cmp_ps(x, hi_lim, _CMP_GT_OQ);
    __m256 tiny = _mm256_cmp_ps(x, lo_lim, _CMP_LT_OQ);
    /* in-range lanes keep x bit for bit; the others are replaced below */
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo_lim), hi_lim);
    __m256 kf = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(xc, FMV_S(1.44269502163f)),
                                            FMV_S(12582912.0f)), FMV_S(12582912.0f));
    __m256i k = _mm256_cvttps_epi32(kf);
    __m256 r = _mm256_sub_ps(xc, _mm256_mul_ps(kf, FMV_S(0.693145751953125f)));
    r = _mm256_fmadd_ps(fmv_neg(kf), FMV_S(1.42860682031e-6f), r);
    __m256 p = FMV_S(1.98412698e-4f);
    p = _mm256_fmadd_ps(p, r, FMV_S(1.38888889e-3f));
    p = _mm256_fmadd_ps(p, r, FMV_S(8.33333377e-3f));
    p = _mm256_fmadd_ps(p, r, FMV_S(4.16666679e-2f));
    p = _mm256_fmadd_ps(p, r, FMV_S(1.66666672e-1f));
    p = _mm256_fmadd_ps(p, r, FMV_S(0.5f));
    p = _mm256_fmadd_ps(p, r, FMV_S(1.0f));
    p = _mm256_fmadd_ps(p, r, FMV_S(1.0f));
    __m256 y_hi = _mm256_mul_ps(_mm256_mul_ps(p, FMV_S(0x1p127f)),
                                fmv_pow2i(_mm256_sub_epi32(k, _mm256_set1_epi32(127))));
    __m256 y_lo = _mm256_mul_ps(_mm256_mul_ps(p, FMV_S(0x1p-100f)),
                                fmv_pow2i(_mm256_add_epi32(k, _mm256_set1_epi32(100))));
    __m256 y = _mm256_mul_ps(p, fmv_pow2i(k));
    __m256 k_hi = _mm256_castsi256_ps(_mm256_cmpgt_epi32(k, _mm256_set1_epi32(127)));
    __m256 k_lo = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(-125), k));
    y = _mm256_blendv_ps(y, y_hi, k_hi);
    y = _mm256_blendv_ps(y, y_lo, k_lo);
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), tiny);
    y = _mm256_blendv_ps(y, FMV_S(__builtin_inff()), big);
    return _mm256_blendv_ps(y, _mm256_add_ps(x, x), is_nan);
}

/* fm_erfc_core */
static inline __m256 fmv_erfc_core(__m256 w, __m256 hi, __m256 lo)
{
    __m256 v = _mm256_sub_ps(w, FMV_S(0.546875f));
    __m256 s = FMV_S(-0.151664332f);
    s = _mm256_fmadd_ps(s, v, FMV_S(0.1265916761f));
    s = _mm256_fmadd_ps(s, v, FMV_S(0.03932628195f));
    s = _mm256_fmadd_ps(s, v, FMV_S(-0.09824221525f));
    s = _mm256_fmadd_ps(s, v, FMV_S(0.08765786847f));
    s = _mm256_fmadd_ps(s, v, FMV_S(-0.06236456809f));
    s = _mm256_fmadd_ps(s, v, FMV_S(0.01315809925f));
    s = _mm256_fmadd_ps(s, v, FMV_S(0.04959514199f));
    s = _mm256_fmadd_ps(s, v, FMV_S(-0.09779329779f));
    s = _mm256_fmadd_ps(s, v, FMV_S(0.09957643519f));
    s = _mm256_fmadd_ps(s, v, FMV_S(-0.0212916788f));
    s = _mm256_fmadd_ps(s, v, FMV_S(-0.1699049626f));
    s = _mm256_fmadd_ps(s, v, FMV_S(0.5028845812f));
    __m256 q = _mm256_mul_ps(s, w);
    q = _mm256_fmadd_ps(fmv_neg(lo), q, q);
    return _mm256_mul_ps(fmv_exp(fmv_neg(hi)), q);
}

/* fm_erf */
static inline __m256 fmv_erf(__m256 x)
{
    __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 a = _mm256_blendv_ps(x, fmv_neg(x), neg);
    /* |x| < 1 */
    __m256 u = _mm256_mul_ps(x, x);
    __m256 p = FMV_S(-9.667044571e-6f);
    p = _mm256_fmadd_ps(p, u, FMV_S(1.126595903e-4f));
    p = _mm256_fmadd_ps(p, u, FMV_S(-8.484080406e-4f));
    p = _mm256_fmadd_ps(p, u, FMV_S(5.221031808e-3f));
    p = _mm256_fmadd_ps(p, u, FMV_S(-2.686543073e-2f));
    p = _mm256_fmadd_ps(p, u, FMV_S(1.12837825e-1f));
    p = _mm256_fmadd_ps(p, u, FMV_S(-3.761263847e-1f));
    p = _mm256_fmadd_ps(p, u, FMV_S(0.1283791671f));
    __m256 y_small = _mm256_fmadd_ps(x, p, x);
    /* 1 <= |x| < 4: 1 - erfc(|x|) (the t > 10.5 case cannot occur) */
    __m256 hi = _mm256_mul_ps(a, a);
    __m256 lo = _mm256_fmsub_ps(a, a, hi);
    __m256 ec = fmv_erfc_core(_mm256_div_ps(FMV_S(1.0f), a), hi, lo);
    __m256 r = _mm256_sub_ps(FMV_S(1.0f), ec);
    r = _mm256_blendv_ps(FMV_S(1.0f), r, _mm256_cmp_ps(a, FMV_S(4.0f), _CMP_LT_OQ));
    r = _mm256_blendv_ps(r, fmv_neg(r), neg);
    __m256 y = _mm256_blendv_ps(r, y_small, _mm256_cmp_ps(a, FMV_S(1.0f), _CMP_LT_OQ));
    return _mm256_blendv_ps(y, _mm256_add_ps(x, x), is_nan);
}

/* fm_phi.  A lane takes at most one of fm_phi's two erfc evaluations
 * (the tail for t <= -1, or 1 - erfc(t) inside fm_erf for t >= 1), so
 * the lane's own arguments are selected first and fm_erfc_core runs once:
 * the same function of the same arguments, hence the same bits. */
static inline __m256 fmv_phi(__m256 x)
{
    __m256 t = _mm256_mul_ps(x, FMV_S(0.707106781187f));
    __m256 tail = _mm256_cmp_ps(t, FMV_S(-1.0f), _CMP_LE_OQ);
    /* fm_erf(t) operands */
    __m256 neg = _mm256_cmp_ps(t, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 a = _mm256_blendv_ps(t, fmv_neg(t), neg);
    /* when every lane has |t| < 1 (or NaN) no lane uses erfc: skip it */
    __m256 ec = _mm256_setzero_ps();
    if (_mm256_movemask_ps(_mm256_cmp_ps(a, FMV_S(1.0f), _CMP_GE_OQ))) {
        __m256 ha = _mm256_mul_ps(a, a);
        __m256 la = _mm256_fmsub_ps(a, a, ha);
        __m256 wa = _mm256_div_ps(FMV_S(1.0f), a);
        /* tail operands: t*t = x*x/2 split exactly */
        __m256 hx = _mm256_mul_ps(x, x);
        __m256 lx = _mm256_fmsub_ps(x, x, hx);
        __m256 wx = _mm256_div_ps(FMV_S(-1.41421356237f), x);
        ec = fmv_erfc_core(_mm256_blendv_ps(wa, wx, tail),
                           _mm256_blendv_ps(ha, _mm256_mul_ps(FMV_S(0.5f), hx), tail),
                           _mm256_blendv_ps(la, _mm256_mul_ps(FMV_S(0.5f), lx), tail));
    }
    /* t <= -1: 0.5 * erfc, or 0 below -10.5 */
    __m256 y_tail = _mm256_mul_ps(FMV_S(0.5f), ec);
    y_tail = _mm256_blendv_ps(y_tail, _mm256_setzero_ps(),
                              _mm256_cmp_ps(t, FMV_S(-10.5f), _CMP_LT_OQ));
    /* t > -1: 0.5 * (1 + erf(t)), erf as in fmv_erf */
    __m256 u = _mm256_mul_ps(t, t);
    __m256 p = FMV_S(-9.667044571e-6f);
    p = _mm256_fmadd_ps(p, u, FMV_S(1.126595903e-4f));
    p = _mm256_fmadd_ps(p, u, FMV_S(-8.484080406e-4f));
    p = _mm256_fmadd_ps(p, u, FMV_S(5.221031808e-3f));
    p = _mm256_fmadd_ps(p, u, FMV_S(-2.686543073e-2f));
    p = _mm256_fmadd_ps(p, u, FMV_S(1.12837825e-1f));
    p = _mm256_fmadd_ps(p, u, FMV_S(-3.761263847e-1f));
    p = _mm256_fmadd_ps(p, u, FMV_S(0.1283791671f));
    __m256 e_small = _mm256_fmadd_ps(t, p, t);
    __m256 r = _mm256_sub_ps(FMV_S(1.0f), ec);
    r = _mm256_blendv_ps(FMV_S(1.0f), r, _mm256_cmp_ps(a, FMV_S(4.0f), _CMP_LT_OQ));
    r = _mm256_blendv_ps(r, fmv_neg(r), neg);
    __m256 e = _mm256_blendv_ps(r, e_small, _mm256_cmp_ps(a, FMV_S(1.0f), _CMP_LT_OQ));
    e = _mm256_blendv_ps(e, _mm256_add_ps(t, t), _mm256_cmp_ps(t, t, _CMP_UNORD_Q));
    __m256 y = _mm256_mul_ps(FMV_S(0.5f), _mm256_add_ps(FMV_S(1.0f), e));
    return _mm256_blendv_ps(y, y_tail, tail);
}

/* fm_gelu_grad given phi = fm_phi(x) */
static inline __m256 fmv_gelu_grad_phi(__m256 x, __m256 phi)
{
    __m256 e = fmv_exp(fmv_neg(_mm256_mul_ps(_mm256_mul_ps(FMV_S(0.5f), x), x)));
    __m256 pdf = _mm256_mul_ps(e, FMV_S(0.398942280401f));
    return _mm256_fmadd_ps(x, pdf, phi);
}

/* fm_sigmoid */
static inline __m256 fmv_sigmoid(__m256 x)
{
    return _mm256_div_ps(FMV_S(1.0f), _mm256_add_ps(FMV_S(1.0f), fmv_exp(fmv_neg(x))));
}

#endif /* FADE_FMATH_AVX2_H */
