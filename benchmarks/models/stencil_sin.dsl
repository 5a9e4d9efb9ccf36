# Benchmark (kernels): the stencil energy of issue 10, E(u) = Σ½(u[1:] − u[:-1])² + Σ(¼u⁴ − ½u² + 0.1 sin 3u),
# and its value and gradient. benchmarks/stencil_hand.c is the same computation as one hand-fused C loop.
dim n

def energy(u: f64[n]) -> f64 {
    spring = 0.5 * (u[1:] - u[:-1]) ^ 2
    well = 0.25 * u ^ 4 - 0.5 * u ^ 2 + 0.1 * sin(3 * u)
    return sum(spring) + sum(well)
}

vg_energy = value_and_grad(energy, wrt=u)
