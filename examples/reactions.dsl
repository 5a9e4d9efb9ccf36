# Arrhenius reaction kinetics: rates k = A exp(-Ea / (R T)) for S species in N states,
# mass-action production rates and a squared-residual fit of the activation energies.
dim N, S

def rates(T: f64[N], A: f64[S], Ea: f64[S]) -> f64[N, S] {
    R = 8.314462618
    return expand_dims(A, 0) * exp(-expand_dims(Ea, 0) / (R * expand_dims(T, 1)))
}

# first-order decay of every species: dc/dt = -k c
def production(T: f64[N], c: f64[N, S], A: f64[S], Ea: f64[S]) -> f64[N, S] {
    return -rates(T, A, Ea) * c
}

def fit(T: f64[N], c: f64[N, S], observed: f64[N, S], A: f64[S], Ea: f64[S]) -> f64 {
    r = production(T, c, A, Ea) - observed
    return mean(r * r)
}

dfit = grad(fit, wrt=(A, Ea))
