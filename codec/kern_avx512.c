/* kern_avx512.c — the kernels for AVX-512 F/VL/BW/DQ (16 lanes),
 * instantiated from the template kern_simd.h.  Built with -mavx512f...;
 * reached only through kern_get() after a CPUID + XCR0 check. */
#include <immintrin.h>
#include "codec/kern_isa.h"

#define KS(name) ks_avx512_##name
#define VT __m512
#define VL 16
/* 6 rows x 4 vectors: 24 accumulators + 4 row vectors + 1 broadcast of
 * the 32 zmm registers; per reduction step 24 FMAs against 10 loads. */
#define KS_MR 6
#define KS_NV 4
#define KS_MASK_FREE 1
#define KS_FMA_ACCS 24

typedef __mmask16 ks_mask;
#define KS_MASK(n) ((__mmask16)(0xffffu >> (16 - (n))))

#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_LOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define V_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define V_STOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_SUB(a, b) _mm512_sub_ps((a), (b))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_DIV(a, b) _mm512_div_ps((a), (b))
#define V_SQRT(a) _mm512_sqrt_ps(a)

/* dst[j][i] = src[i][j] for a 16 x 16 block (row strides lds, ldd): four
 * rounds of in-lane unpacks/shuffles and cross-lane 128-bit shuffles.
 * Pure data movement, so exactness is not at stake. */
static inline void ks_avx512_transpose(const float *src, size_t lds, float *dst, size_t ldd)
{
    __m512 r[16], t[16];
    #pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + (size_t)i * lds);
    #pragma GCC unroll 16
    for (int p = 0; p < 8; p++) {
        t[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
        t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
    /* r[4q + c], 128-bit lane L: column 4L + c of rows 4q..4q+3. */
    #pragma GCC unroll 16
    for (int q = 0; q < 4; q++) {
        r[4 * q + 0] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
        r[4 * q + 1] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0xee);
        r[4 * q + 2] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
        r[4 * q + 3] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xee);
    }
    #pragma GCC unroll 16
    for (int c = 0; c < 4; c++) {
        const __m512 v0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        const __m512 w0 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        const __m512 v1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
        const __m512 w1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
        _mm512_storeu_ps(dst + (size_t)c * ldd, _mm512_shuffle_f32x4(v0, w0, 0x88));
        _mm512_storeu_ps(dst + (size_t)(8 + c) * ldd, _mm512_shuffle_f32x4(v0, w0, 0xdd));
        _mm512_storeu_ps(dst + (size_t)(4 + c) * ldd, _mm512_shuffle_f32x4(v1, w1, 0x88));
        _mm512_storeu_ps(dst + (size_t)(12 + c) * ldd, _mm512_shuffle_f32x4(v1, w1, 0xdd));
    }
}
#define KS_HAVE_TRANSPOSE 1

#include "codec/kern_simd.h"

float kern_avx512_fma_burst(uint64_t iters, double *flops_per_iter)
{
    return ks_avx512_fma_burst(iters, flops_per_iter);
}

const struct kern_ops kern_avx512_ops = {
    .version      = KERN_V2,
    .isa          = FADE_ISA_AVX512,
    .name         = "avx512",
    .linear_fwd   = ks_avx512_linear_fwd,
    .linear_bwd_x = ks_avx512_linear_bwd_x,
    .linear_bwd_w = ks_avx512_linear_bwd_w,
    .adam         = ks_avx512_adam,
};
