# Orbital-free density functional theory in 3-D: the LDA exchange energy and the von Weizsäcker
# kinetic energy of an electron density rho: f64[3] -> f64 on the box [-5, 5]^3, and their
# functional derivatives (the exchange and kinetic potentials), derived symbolically by grad:
#
#   v_x(r) = (4/3) c rho(r)^(1/3)                              c = -(3/4) (3/pi)^(1/3)
#   v_w(r) = |nabla rho(r)|^2 / (8 rho(r)^2) - laplacian rho(r) / (4 rho(r))
#
# (v_w integrates by parts: boundary terms are assumed to vanish, as they do for a density that
# decays inside the box). The integrals are 32^3-point Gauss-Legendre rules; the potentials are
# exact functions of rho, evaluated wherever they are asked for:
#
#   dsl show examples/dft.dsl v_w
#   dsl run examples/dft.dsl v --fn rho="r => exp(-(r[0]^2 + r[1]^2 + r[2]^2))" --at=-2:2:9,0,0

def lda_exchange(rho: f64[3] -> f64) -> f64 {
    return integrate(r => -0.75 * (3 / pi) ^ (1/3) * rho(r) ^ (4/3), over=((-5, 5), (-5, 5), (-5, 5)), n=32)
}

def von_weizsacker(rho: f64[3] -> f64) -> f64 {
    return integrate(r => 0.125 * sum(nabla(rho)(r) ^ 2) / rho(r), over=((-5, 5), (-5, 5), (-5, 5)), n=32)
}

def energy(rho: f64[3] -> f64) -> f64 {
    return von_weizsacker(rho) + lda_exchange(rho)
}

v_x = grad(lda_exchange)
v_w = grad(von_weizsacker)
v = grad(energy)
