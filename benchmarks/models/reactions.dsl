# Benchmark (c): an Arrhenius mass-action reaction network fitted to observed production rates.
# N states (temperature T and concentrations c), S species, M reactions.
#   k_j(T)  = A_j exp(-Ea_j / (R T))                       rate constant of reaction j
#   r_j     = k_j prod_i c_i ^ nu_ij                         mass-action rate (nu: reactant orders)
#   dc_i/dt = sum_j r_j net_ji                               production rate of species i
# The language has no product-of-powers primitive, so prod_i c_i ^ nu_ij is written as
# exp(log(c) @ nu), and A_j enters through log A_j: r = exp(log A + log(c) @ nu - Ea / (R T)).
dim N, S, M

def production(T: f64[N], c: f64[N, S], nu: f64[S, M], net: f64[M, S], logA: f64[M], Ea: f64[M]) -> f64[N, S] {
    R = 8.314462618
    z = expand_dims(logA, 0) + log(c) @ nu - expand_dims(Ea, 0) / (R * expand_dims(T, 1))
    return exp(z) @ net
}

def fit(T: f64[N], c: f64[N, S], nu: f64[S, M], net: f64[M, S], observed: f64[N, S], logA: f64[M],
        Ea: f64[M]) -> f64 {
    r = production(T, c, nu, net, logA, Ea) - observed
    return mean(r * r)
}

vg_fit = value_and_grad(fit, wrt=(logA, Ea))
