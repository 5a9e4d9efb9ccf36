# A 1-D chain of particles: nearest-neighbour springs (a stencil on u[1:] - u[:-1]) in a
# double-well on-site potential. force = -dE/du is what a molecular-dynamics step needs.
dim n

def energy(u: f64[n]) -> f64 {
    spring = 0.5 * (u[1:] - u[:-1]) ^ 2          # f64[n - 1]
    well = 0.25 * u ^ 4 - 0.5 * u ^ 2            # f64[n]
    return sum(spring) + sum(well)
}

# the discrete Laplacian u[i-1] - 2 u[i] + u[i+1] at the interior points
def laplacian(u: f64[n]) {                    # returns f64[n - 2] (inferred)
    return u[:-2] - 2 * u[1:-1] + u[2:]
}

gradient = grad(energy)
