# Benchmark (b): the stencil energy of examples/stencil_energy.dsl (a 1-D chain of particles with
# nearest-neighbour springs in a double-well on-site potential), and its gradient with respect to u.
dim n

def energy(u: f64[n]) -> f64 {
    spring = 0.5 * (u[1:] - u[:-1]) ^ 2          # f64[n - 1]
    well = 0.25 * u ^ 4 - 0.5 * u ^ 2            # f64[n]
    return sum(spring) + sum(well)
}

vg_energy = value_and_grad(energy, wrt=u)
