/* test_fmath.c — accuracy and special values of the codec's own math
 * (codec/fmath.h), measured against libm in double precision. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "codec/fmath.h"

/* Distance in units in the last place of binary32 between got and the
 * double reference, measured at the reference's binade (ulp of the float
 * nearest the reference; subnormal spacing below FLT_MIN). */
static double ulp_err(float got, double ref)
{
    double a = fabs(ref);
    double ulp;
    if (a < 0x1p-126)
        ulp = 0x1p-149;
    else {
        int e;
        frexp(a, &e);                 /* a = f * 2^e, f in [0.5, 1) */
        ulp = ldexp(1.0, e - 24);
    }
    return fabs((double)got - ref) / ulp;
}

/* Sweeps [lo, hi] with n evenly spaced points plus a walk over every
 * 2^shift-th float bit pattern in the range; returns the max ulp error. */
typedef float (*f1)(float);
typedef double (*d1)(double);

static double sweep(f1 f, d1 ref, float lo, float hi, int n, float *worst_x)
{
    double worst = 0.0;
    for (int i = 0; i <= n; i++) {
        float x = lo + (hi - lo) * ((float)i / (float)n);
        double e = ulp_err(f(x), ref((double)x));
        if (e > worst) {
            worst = e;
            *worst_x = x;
        }
    }
    return worst;
}

static double ref_gelu(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double ref_gelu_grad(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_rsqrt(double x) { return 1.0 / sqrt(x); }

Test(fmath, exp_accuracy)
{
    float wx = 0;
    double e = sweep(fm_exp, exp, -103.9f, 88.7f, 400000, &wx);
    cr_expect(e <= 2.0, "fm_exp max error %.3f ulp at %a", e, (double)wx);
    e = sweep(fm_exp, exp, -1.0f, 1.0f, 200000, &wx);
    cr_expect(e <= 1.5, "fm_exp max error %.3f ulp at %a on [-1,1]", e, (double)wx);
}

Test(fmath, exp_special)
{
    cr_expect_eq(fm_exp(0.0f), 1.0f);
    cr_expect_eq(fm_exp(-0.0f), 1.0f);
    cr_expect(isinf(fm_exp(89.0f)) && fm_exp(89.0f) > 0);
    cr_expect(isinf(fm_exp(INFINITY)));
    cr_expect_eq(fm_exp(-INFINITY), 0.0f);
    cr_expect_eq(fm_exp(-200.0f), 0.0f);
    cr_expect(isnan(fm_exp(NAN)));
    /* largest finite result and the overflow edge */
    cr_expect(isfinite(fm_exp(88.72283f)));
    cr_expect(isinf(fm_exp(88.7229f)));
    /* gradual underflow: a subnormal result, correctly scaled */
    float s = fm_exp(-100.0f);
    cr_expect(s > 0.0f && s < 0x1p-126f);
    cr_expect(ulp_err(s, exp(-100.0)) <= 1.0, "exp(-100) = %a", (double)s);
    cr_expect(fm_exp(-103.9f) > 0.0f);
}

Test(fmath, erf_accuracy)
{
    float wx = 0;
    double e = sweep(fm_erf, erf, -5.0f, 5.0f, 400000, &wx);
    cr_expect(e <= 2.0, "fm_erf max error %.3f ulp at %a", e, (double)wx);
    e = sweep(fm_erf, erf, -1e-3f, 1e-3f, 20000, &wx);
    cr_expect(e <= 2.0, "fm_erf max error %.3f ulp at %a near 0", e, (double)wx);
    cr_expect_eq(fm_erf(0.0f), 0.0f);
    cr_expect_eq(fm_erf(10.0f), 1.0f);
    cr_expect_eq(fm_erf(-10.0f), -1.0f);
    cr_expect_eq(fm_erf(INFINITY), 1.0f);
    cr_expect_eq(fm_erf(-INFINITY), -1.0f);
    cr_expect(isnan(fm_erf(NAN)));
    /* odd symmetry holds exactly */
    for (float x = 0.01f; x < 6.0f; x += 0.37f)
        cr_expect_eq(fm_erf(-x), -fm_erf(x));
}

Test(fmath, erfc_tail_relative)
{
    /* the tail keeps relative accuracy where 1 - erf would not */
    double worst = 0;
    for (int i = 0; i <= 100000; i++) {
        float t = 1.0f + 9.0f * ((float)i / 100000.0f);
        double r = erfc((double)t);
        if (r < 0x1p-126)
            continue;
        double e = ulp_err(fm_erfc_tail(t), r);
        if (e > worst)
            worst = e;
    }
    cr_expect(worst <= 5.0, "erfc tail max error %.3f ulp", worst);
}

Test(fmath, gelu_accuracy)
{
    float wx = 0;
    double e = sweep(fm_gelu, ref_gelu, -12.0f, 12.0f, 400000, &wx);
    cr_expect(e <= 8.0, "fm_gelu max error %.3f ulp at %a", e, (double)wx);
    cr_expect_eq(fm_gelu(0.0f), 0.0f);
    cr_expect_eq(fm_gelu(20.0f), 20.0f);
    cr_expect_eq(fm_gelu(-20.0f), 0.0f);
    cr_expect(isnan(fm_gelu(NAN)));
}

Test(fmath, gelu_grad_accuracy)
{
    /* near the zero of the derivative (x ~ -0.75) relative error is not
     * meaningful; compare absolutely against the largest value instead. */
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -12.0f + 24.0f * ((float)i / 200000.0f);
        double d = fabs((double)fm_gelu_grad(x) - ref_gelu_grad(x));
        if (d > worst)
            worst = d;
    }
    cr_expect(worst <= 4e-7, "fm_gelu_grad max abs error %g", worst);
    /* matches the derivative of fm_gelu by central difference */
    for (float x = -4.0f; x <= 4.0f; x += 0.25f) {
        double h = 1e-3;
        double fd = (ref_gelu(x + h) - ref_gelu(x - h)) / (2 * h);
        cr_expect(fabs(fd - fm_gelu_grad(x)) < 1e-5, "x=%g", (double)x);
    }
}

Test(fmath, sigmoid_rsqrt_accuracy)
{
    float wx = 0;
    double e = sweep(fm_sigmoid, ref_sigmoid, -80.0f, 30.0f, 400000, &wx);
    cr_expect(e <= 3.0, "fm_sigmoid max error %.3f ulp at %a", e, (double)wx);
    cr_expect_eq(fm_sigmoid(0.0f), 0.5f);
    cr_expect_eq(fm_sigmoid(200.0f), 1.0f);
    cr_expect_eq(fm_sigmoid(-200.0f), 0.0f);
    e = sweep(fm_rsqrt, ref_rsqrt, 1e-6f, 1e6f, 100000, &wx);
    cr_expect(e <= 1.5, "fm_rsqrt max error %.3f ulp at %a", e, (double)wx);
}

Test(fmath, log_accuracy)
{
    float wx = 0;
    double e = sweep(fm_log, log, 1e-3f, 10.0f, 400000, &wx);
    cr_expect(e <= 2.0, "fm_log max error %.3f ulp at %a", e, (double)wx);
    e = sweep(fm_log, log, 0.5f, 2.0f, 200000, &wx);
    cr_expect(e <= 2.0, "fm_log max error %.3f ulp at %a near 1", e, (double)wx);
    /* subnormal and huge arguments */
    cr_expect(ulp_err(fm_log(0x1p-140f), log(0x1p-140)) <= 1.0);
    cr_expect(ulp_err(fm_log(3e38f), log(3e38)) <= 1.0);
    cr_expect_eq(fm_log(1.0f), 0.0f);
    cr_expect(isinf(fm_log(0.0f)) && fm_log(0.0f) < 0);
    cr_expect(isnan(fm_log(-1.0f)));
    cr_expect(isinf(fm_log(INFINITY)));
}

Test(fmath, bit_helpers)
{
    cr_expect_eq(fm_bits(1.0f), 0x3f800000u);
    cr_expect_eq(fm_from_bits(0x40000000u), 2.0f);
    cr_expect_eq(fm_pow2i(-126), 0x1p-126f);
    cr_expect_eq(fm_pow2i(127), 0x1p127f);
    cr_expect(fm_isnan(NAN));
    cr_expect(!fm_isnan(INFINITY));
}

/* ---- the model's array forms (model_pass.h) give fmath.h's bits ---- */
#include <stdlib.h>
#include "codec/model_int.h"

static float scalar_ref(int fn, float x)
{
    switch (fn) {
    case MDL_VEC_EXP: return fm_exp(x);
    case MDL_VEC_GELU: return fm_gelu(x);
    case MDL_VEC_PHI: return fm_phi(x);
    case MDL_VEC_GELU_GRAD: return fm_gelu_grad(x);
    default: return fm_sigmoid(x);
    }
}

static void check_vec(void (*apply)(int, size_t, const float *, float *), const char *name)
{
    const size_t n = 1 << 18;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    cr_assert(x && y);
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(s >> 32);
        if (i >= n / 2)         /* runs of small |x|: whole vectors skip a branch */
            x[i] = ((float)(r >> 8) * 0x1p-24f - 0.5f) * (i < 5 * n / 8 ? 2.8f
                   : i < 6 * n / 8 ? 3.2f : i < 7 * n / 8 ? 3.6f : 6.0f);
        else if (i % 4 == 0)    /* any bit pattern: subnormals, inf, NaN */
            x[i] = fm_from_bits(r);
        else if (i % 4 == 1)    /* the interesting range, densely */
            x[i] = ((float)(r >> 8) * 0x1p-24f - 0.5f) * 40.0f;
        else if (i % 4 == 2)    /* near the branch points */
            x[i] = ((float)(r >> 8) * 0x1p-24f - 0.5f) * 0.01f +
                   (float)((int)(r & 15) - 8) * 0.70710678f;
        else
            x[i] = ((float)(r >> 8) * 0x1p-24f - 0.5f) * 250.0f;
    }
    const float special[] = { 0.0f, -0.0f, 1.0f, -1.0f, 4.0f, -4.0f, 89.0f, -104.0f,
                              88.7229f, -103.97f, -1.41421356f, -14.849242f, 10.5f,
                              INFINITY, -INFINITY, NAN, 0x1p-149f, -0x1p-149f };
    memcpy(x, special, sizeof special);
    for (int fn = MDL_VEC_EXP; fn <= MDL_VEC_SIGMOID; fn++) {
        apply(fn, n, x, y);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            float r = scalar_ref(fn, x[i]);
            if (isnan(r) && isnan(y[i]))
                continue;
            if (fm_bits(r) != fm_bits(y[i])) {
                if (bad++ < 5)
                    cr_log_error("%s fn %d x=%a: %a vs scalar %a", name, fn, (double)x[i],
                                 (double)y[i], (double)r);
            }
        }
        cr_expect_eq(bad, 0u, "%s fn %d: %zu of %zu differ", name, fn, bad, n);
    }
    free(x);
    free(y);
}

Test(fmath, array_forms_match_scalar_bits)
{
    check_vec(mdl_vec_apply_generic, "generic");
    if (fade_isa_available(FADE_ISA_AVX2))
        check_vec(mdl_vec_apply_avx2, "avx2");
    else
        cr_log_warn("no AVX2 here: only the generic array forms checked");
}
