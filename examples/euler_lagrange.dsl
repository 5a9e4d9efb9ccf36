# The action of a pendulum (g/l = 1) over the time interval (0, 1):
#
#   S[q] = integral of  1/2 q'(t)^2 - (1 - cos q(t))  dt
#
# Its functional derivative is the Euler-Lagrange residual, derived symbolically by grad
# (integrating 1/2 q'^2 by parts; the boundary terms vanish for variations that fix both ends):
#
#   residual(q)(t) = dS/dq(t) = -q''(t) - sin q(t)
#
# which is zero exactly on a true motion. examples/euler_lagrange.py drives it to ~0 by gradient
# descent on a polynomial path with fixed ends q(0) = 0, q(1) = 1.

def action(q: f64 -> f64) -> f64 {
    return integrate(t => 0.5 * nabla(q)(t) ^ 2 - (1 - cos(q(t))), over=(0, 1))
}

residual = grad(action)
