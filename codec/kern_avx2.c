/* kern_avx2.c — the kernels for AVX2 + FMA (8 lanes), instantiated from
 * the template kern_simd.h.  Built with -mavx2 -mfma; reached only through
 * kern_get() after a CPUID check. */
#include <immintrin.h>
#include "codec/kern_isa.h"

#define KS(name) ks_avx2_##name
#define VT __m256
#define VL 8
/* 6 rows x 2 vectors: 12 accumulators + 2 row vectors + 1 broadcast of
 * the 16 ymm registers. */
#define KS_MR 6
#define KS_NV 2
#define KS_MASK_FREE 0
#define KS_FMA_ACCS 12

typedef __m256i ks_mask;
/* Lanes 0..n-1 on: a window into a row of 8 ones followed by 8 zeros. */
static const int32_t ks_avx2_mask_row[16] = {
    -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0,
};
#define KS_MASK(n) _mm256_loadu_si256((const __m256i *)(ks_avx2_mask_row + 8 - (n)))

#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_LOADM(p, m) _mm256_maskload_ps((p), (m))
#define V_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define V_STOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_SUB(a, b) _mm256_sub_ps((a), (b))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_DIV(a, b) _mm256_div_ps((a), (b))
#define V_SQRT(a) _mm256_sqrt_ps(a)

/* dst[j][i] = src[i][j] for an 8 x 8 block (row strides lds, ldd).  Pure
 * data movement, so exactness is not at stake. */
static inline void ks_avx2_transpose(const float *src, size_t lds, float *dst, size_t ldd)
{
    __m256 r[8], t[8];
    #pragma GCC unroll 16
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + (size_t)i * lds);
    #pragma GCC unroll 16
    for (int p = 0; p < 4; p++) {
        t[2 * p] = _mm256_unpacklo_ps(r[2 * p], r[2 * p + 1]);
        t[2 * p + 1] = _mm256_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
    /* r[4q + c], 128-bit lane L: column 4L + c of rows 4q..4q+3. */
    #pragma GCC unroll 16
    for (int q = 0; q < 2; q++) {
        r[4 * q + 0] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
        r[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0xee);
        r[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
        r[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xee);
    }
    #pragma GCC unroll 16
    for (int c = 0; c < 4; c++) {
        _mm256_storeu_ps(dst + (size_t)c * ldd, _mm256_permute2f128_ps(r[c], r[4 + c], 0x20));
        _mm256_storeu_ps(dst + (size_t)(4 + c) * ldd, _mm256_permute2f128_ps(r[c], r[4 + c], 0x31));
    }
}
#define KS_HAVE_TRANSPOSE 1

#include "codec/kern_simd.h"

float kern_avx2_fma_burst(uint64_t iters, double *flops_per_iter)
{
    return ks_avx2_fma_burst(iters, flops_per_iter);
}

const struct kern_ops kern_avx2_ops = {
    .version      = KERN_V2,
    .isa          = FADE_ISA_AVX2,
    .name         = "avx2",
    .linear_fwd   = ks_avx2_linear_fwd,
    .linear_bwd_x = ks_avx2_linear_bwd_x,
    .linear_bwd_w = ks_avx2_linear_bwd_w,
    .adam         = ks_avx2_adam,
};
