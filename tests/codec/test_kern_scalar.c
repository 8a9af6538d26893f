/* test_kern_scalar.c — the scalar kernels compute what kern.h defines. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include "codec/kern.h"

Test(kern_scalar, linear_fwd_small)
{
    /* X 2x3, W 3x2, bias 2: hand-computed sums are exact in binary32. */
    const float X[6] = {1, 2, 3, 4, 5, 6};
    const float W[6] = {1, 0.5f, -1, 2, 0.25f, 0};
    const float b[2] = {10, -10};
    float Y[4];
    kern_scalar_ops.linear_fwd(NULL, 2, 3, 2, X, 3, W, b, Y, 2);
    cr_expect_eq(Y[0], 10 + 1 - 2 + 0.75f);
    cr_expect_eq(Y[1], -10 + 0.5f + 4 + 0);
    cr_expect_eq(Y[2], 10 + 4 - 5 + 1.5f);
    cr_expect_eq(Y[3], -10 + 2 + 10 + 0);
}

Test(kern_scalar, bwd_x_is_transpose_of_fwd)
{
    const float dY[2] = {1, 2};
    const float W[6] = {1, 0.5f, -1, 2, 0.25f, 0};
    float dX[3];
    kern_scalar_ops.linear_bwd_x(NULL, 1, 3, 2, dY, 2, W, dX, 3, 0, NULL);
    cr_expect_eq(dX[0], 2.0f);
    cr_expect_eq(dX[1], 3.0f);
    cr_expect_eq(dX[2], 0.25f);
}
