/* The ceiling for the stencil energy benchmark (benchmarks/kernels.py): value and gradient of
   E(u) = sum 0.5 (u[i+1] - u[i])^2 + sum (0.25 u^4 - 0.5 u^2 + 0.1 sin 3u) in one hand-fused loop
   (the two boundary points peeled off so the interior loop is branch-free), compiled with the same
   flags as dsl's C backend: vector sin/cos from glibc's libmvec, no -ffast-math. */
#include <math.h>
#include <stdint.h>

#pragma omp declare simd notinbranch
extern double sin(double);
#pragma omp declare simd notinbranch
extern double cos(double);

static inline double site(double x, double* g)
{
    const double x2 = x * x;
    *g = x2 * x - x + 0.3 * cos(3.0 * x);
    return 0.25 * x2 * x2 - 0.5 * x2 + 0.1 * sin(3.0 * x);
}

double stencil_vg(int64_t n, const double* restrict u, double* restrict g)
{
    if (n < 2) {
        return n == 1 ? site(u[0], &g[0]) : 0.0;
    }
    double e = 0.0;
    #pragma omp parallel for simd schedule(static) reduction(+:e)
    for (int64_t i = 1; i < n - 1; i++) {
        const double x = u[i], x2 = x * x, left = x - u[i - 1], right = u[i + 1] - x;
        e += 0.5 * right * right + 0.25 * x2 * x2 - 0.5 * x2 + 0.1 * sin(3.0 * x);
        g[i] = left - right + x2 * x - x + 0.3 * cos(3.0 * x);
    }
    double g0, gn;
    const double d0 = u[1] - u[0], dn = u[n - 1] - u[n - 2];
    e += 0.5 * d0 * d0 + site(u[0], &g0) + site(u[n - 1], &gn);
    g[0] = g0 - d0;
    g[n - 1] = gn + dn;
    return e;
}

double stencil_e(int64_t n, const double* restrict u)
{
    double e = 0.0;
    #pragma omp parallel for simd schedule(static) reduction(+:e)
    for (int64_t i = 0; i < n; i++) {
        const double x = u[i], x2 = x * x;
        e += 0.25 * x2 * x2 - 0.5 * x2 + 0.1 * sin(3.0 * x);
    }
    #pragma omp parallel for simd schedule(static) reduction(+:e)
    for (int64_t i = 0; i < n - 1; i++) {
        const double d = u[i + 1] - u[i];
        e += 0.5 * d * d;
    }
    return e;
}
