# One integral-kernel layer of a neural operator on (0, 1), its loss against a target function, and
# the functional derivatives of the loss with respect to the kernel and the bias:
#
#   o(u) = integral of k(u, v) f(v) dv + b(u)          (the layer: a function of u)
#   L    = integral of (o(u) - t(u))^2 du              (the loss)
#   dL/dk(u, v) = 2 (o(u) - t(u)) f(v)                 (grad w.r.t. the kernel: a function of (u, v))
#   dL/db(u)    = 2 (o(u) - t(u))                      (grad w.r.t. the bias)
#
# The kernel is a function of two variables, k: (f64, f64) -> f64. Both gradients are derived
# symbolically (the transpose of the inner integral is a lift, so dL/dk is the outer cotangent
# times f, a function of (u, v)); only the integrals are quadrature (64-point Gauss-Legendre).
#
#   dsl run examples/neural_operator.dsl dL_dk --fn k="(u, v) => exp(-(u - v) ^ 2)" \
#       --fn b="u => 0.1 * u" --fn f="v => sin(pi * v)" --fn t="u => u" --at 0:1:3,0:1:3

def layer(k: (f64, f64) -> f64, b: f64 -> f64, f: f64 -> f64) -> (f64 -> f64) {
    return u => integrate(v => k(u, v) * f(v), over=(0, 1)) + b(u)
}

def loss(k: (f64, f64) -> f64, b: f64 -> f64, f: f64 -> f64, t: f64 -> f64) -> f64 {
    o = layer(k, b, f)
    return integrate(u => (o(u) - t(u)) ^ 2, over=(0, 1))
}

dL_dk = grad(loss, wrt=k)
dL_db = grad(loss, wrt=b)
