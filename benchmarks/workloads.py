"""The benchmark workloads: inputs, and the same model written for every system.

Each workload has a `.dsl` model under `benchmarks/models/` (a forward definition and its
`value_and_grad`), a hand-written NumPy forward and value-and-gradient (the gradient derived by
hand, written as a competent NumPy user would: in-place updates where they are free, no needless
temporaries), and builders for JAX and PyTensor. Every value-and-gradient function returns
`(value, *gradients)` with the gradients in the order of `Workload.wrt`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODELS = Path(__file__).resolve().parent / "models"
R_GAS = 8.314462618


@dataclass
class Workload:
    key: str                                  # row label
    model: Path                               # the .dsl file
    fwd_name: str                             # forward definition in the .dsl file
    vg_name: str                              # its value_and_grad definition
    params: tuple[str, ...]                   # argument order (the .dsl signature)
    wrt: tuple[str, ...]                      # differentiated parameters, in gradient order
    dtype: Any
    make_inputs: Callable[[np.random.Generator], dict[str, np.ndarray]]
    hand_fwd: Callable[..., Any]
    hand_vg: Callable[..., Any]
    jax_loss: Callable[[Any], Callable[..., Any]]        # jnp -> loss(*params)
    pytensor_loss: Callable[[Any, list[Any]], Any]       # (pt, symbolic params) -> symbolic loss
    sizes: dict[str, int] = field(default_factory=dict)  # for the table


# --------------------------------------------------------------------------------------------
# (a) MLP 64 -> 256 -> 256 -> 1, tanh, mean squared error


def mlp_hand_fwd(x, y, W1, b1, W2, b2, W3, b3):
    a = x @ W1
    a += b1
    np.tanh(a, out=a)
    h = a @ W2
    h += b2
    np.tanh(h, out=h)
    r = h @ W3
    r += b3
    r -= y
    return np.vdot(r, r) / r.size


def mlp_hand_vg(x, y, W1, b1, W2, b2, W3, b3):
    h1 = x @ W1
    h1 += b1
    np.tanh(h1, out=h1)
    h2 = h1 @ W2
    h2 += b2
    np.tanh(h2, out=h2)
    r = h2 @ W3
    r += b3
    r -= y
    loss = np.vdot(r, r) / r.size
    r *= r.dtype.type(2.0 / r.size)          # d loss / d out
    gW3 = h2.T @ r
    gb3 = r.sum(axis=0)
    d2 = r @ W3.T
    h2 *= h2                                  # tanh' = 1 - h^2, computed in place
    np.subtract(1, h2, out=h2)
    d2 *= h2
    gW2 = h1.T @ d2
    gb2 = d2.sum(axis=0)
    d1 = d2 @ W2.T
    h1 *= h1
    np.subtract(1, h1, out=h1)
    d1 *= h1
    gW1 = x.T @ d1
    gb1 = d1.sum(axis=0)
    return loss, gW1, gb1, gW2, gb2, gW3, gb3


def mlp_jax(jnp):
    def loss(x, y, W1, b1, W2, b2, W3, b3):
        h1 = jnp.tanh(x @ W1 + b1)
        h2 = jnp.tanh(h1 @ W2 + b2)
        return jnp.mean((h2 @ W3 + b3 - y) ** 2)
    return loss


def mlp_pytensor(pt, p):
    x, y, W1, b1, W2, b2, W3, b3 = p
    h1 = pt.tanh(x @ W1 + b1)
    h2 = pt.tanh(h1 @ W2 + b2)
    return pt.mean((h2 @ W3 + b3 - y) ** 2)


def mlp_workload(dtype, B=4096, D=64, H=256, K=256) -> Workload:
    def make(rng):
        def a(*shape, scale=1.0):
            return (scale * rng.standard_normal(shape)).astype(dtype)
        return dict(x=a(B, D), y=a(B, 1), W1=a(D, H, scale=D ** -0.5), b1=a(H, scale=0.1),
                    W2=a(H, K, scale=H ** -0.5), b2=a(K, scale=0.1), W3=a(K, 1, scale=K ** -0.5), b3=a(1, scale=0.1))
    name = "f32" if dtype == np.float32 else "f64"
    return Workload(
        key=f"MLP {name}", model=MODELS / ("mlp.dsl" if dtype == np.float32 else "mlp64.dsl"),
        fwd_name="loss", vg_name="vg_loss", params=("x", "y", "W1", "b1", "W2", "b2", "W3", "b3"),
        wrt=("W1", "b1", "W2", "b2", "W3", "b3"), dtype=dtype, make_inputs=make,
        hand_fwd=mlp_hand_fwd, hand_vg=mlp_hand_vg, jax_loss=mlp_jax, pytensor_loss=mlp_pytensor,
        sizes=dict(B=B, D=D, H=H, K=K))


# --------------------------------------------------------------------------------------------
# (b) stencil energy: springs on u[1:] - u[:-1] in a double-well on-site potential


def stencil_hand_fwd(u):
    d = u[1:] - u[:-1]
    u2 = u * u
    well = 0.25 * u2
    well -= 0.5
    well *= u2                                # 0.25 u^4 - 0.5 u^2
    return 0.5 * np.dot(d, d) + well.sum()


def stencil_hand_vg(u):
    d = u[1:] - u[:-1]
    u2 = u * u
    well = 0.25 * u2
    well -= 0.5
    well *= u2
    energy = 0.5 * np.dot(d, d) + well.sum()
    g = u2                                    # dE/du = u^3 - u + d[i-1] - d[i]
    g -= 1.0
    g *= u
    g[1:] += d
    g[:-1] -= d
    return energy, g


def stencil_jax(jnp):
    def energy(u):
        spring = 0.5 * (u[1:] - u[:-1]) ** 2
        well = 0.25 * u ** 4 - 0.5 * u ** 2
        return jnp.sum(spring) + jnp.sum(well)
    return energy


def stencil_pytensor(pt, p):
    (u,) = p
    spring = 0.5 * (u[1:] - u[:-1]) ** 2
    well = 0.25 * u ** 4 - 0.5 * u ** 2
    return pt.sum(spring) + pt.sum(well)


def stencil_workload(n: int) -> Workload:
    def make(rng):
        return dict(u=rng.standard_normal(n))
    label = f"{n:.0e}".replace("e+0", "e")
    return Workload(
        key=f"stencil N={label}", model=MODELS / "stencil_energy.dsl", fwd_name="energy", vg_name="vg_energy",
        params=("u",), wrt=("u",), dtype=np.float64, make_inputs=make, hand_fwd=stencil_hand_fwd,
        hand_vg=stencil_hand_vg, jax_loss=stencil_jax, pytensor_loss=stencil_pytensor, sizes=dict(n=n))


# --------------------------------------------------------------------------------------------
# (c) Arrhenius mass-action reaction network, fitted to observed production rates


def reactions_hand_fwd(T, c, nu, net, observed, logA, Ea):
    z = np.log(c) @ nu                        # log of prod_i c_i ^ nu_ij
    z += logA
    z -= np.outer(1.0 / (R_GAS * T), Ea)      # - Ea_j / (R T)
    np.exp(z, out=z)                          # mass-action rates r_j
    res = z @ net
    res -= observed
    return np.vdot(res, res) / res.size


def reactions_hand_vg(T, c, nu, net, observed, logA, Ea):
    inv_rt = 1.0 / (R_GAS * T)
    r = np.log(c) @ nu
    r += logA
    r -= np.outer(inv_rt, Ea)
    np.exp(r, out=r)
    res = r @ net
    res -= observed
    loss = np.vdot(res, res) / res.size
    res *= 2.0 / res.size                     # d loss / d production
    dz = res @ net.T                          # d loss / d r
    dz *= r                                   # d loss / d z  (r = exp z)
    g_logA = dz.sum(axis=0)
    g_Ea = -(inv_rt @ dz)
    return loss, g_logA, g_Ea


def reactions_jax(jnp):
    def fit(T, c, nu, net, observed, logA, Ea):
        z = logA[None, :] + jnp.log(c) @ nu - Ea[None, :] / (R_GAS * T[:, None])
        res = jnp.exp(z) @ net - observed
        return jnp.mean(res * res)
    return fit


def reactions_pytensor(pt, p):
    T, c, nu, net, observed, logA, Ea = p
    z = logA[None, :] + pt.log(c) @ nu - Ea[None, :] / (R_GAS * T[:, None])
    res = pt.exp(z) @ net - observed
    return pt.mean(res * res)


def reaction_network(rng: np.random.Generator, S: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random network: each reaction consumes 1-2 species (order 1 each) and makes 1-2 others.
    Returns nu (S x M reactant orders) and net (M x S net stoichiometry, products - reactants)."""
    nu = np.zeros((S, M))
    net = np.zeros((M, S))
    for j in range(M):
        species = rng.permutation(S)
        nr, npr = rng.integers(1, 3), rng.integers(1, 3)
        reactants, products = species[:nr], species[nr:nr + npr]
        nu[reactants, j] = 1.0
        net[j, reactants] -= 1.0
        net[j, products] += 1.0
    return nu, net


def reactions_workload(N: int = 100_000, S: int = 30, M: int = 40) -> Workload:
    def make(rng):
        nu, net = reaction_network(np.random.default_rng(1234), S, M)   # the network is fixed
        T = rng.uniform(800.0, 1500.0, N)
        c = rng.uniform(0.05, 2.0, (N, S))
        logA = rng.uniform(0.0, 4.0, M)
        Ea = rng.uniform(2e4, 8e4, M)
        true_logA = logA + rng.normal(0.0, 0.3, M)
        true_Ea = Ea * rng.uniform(0.9, 1.1, M)
        observed = reactions_observed(T, c, nu, net, true_logA, true_Ea)
        observed += rng.normal(0.0, 0.01 * observed.std(), observed.shape)
        return dict(T=T, c=c, nu=nu, net=net, observed=observed, logA=logA, Ea=Ea)
    return Workload(
        key="reactions", model=MODELS / "reactions.dsl", fwd_name="fit", vg_name="vg_fit",
        params=("T", "c", "nu", "net", "observed", "logA", "Ea"), wrt=("logA", "Ea"), dtype=np.float64,
        make_inputs=make, hand_fwd=reactions_hand_fwd, hand_vg=reactions_hand_vg, jax_loss=reactions_jax,
        pytensor_loss=reactions_pytensor, sizes=dict(N=N, S=S, M=M))


def reactions_observed(T, c, nu, net, logA, Ea):
    z = np.log(c) @ nu + logA - np.outer(1.0 / (R_GAS * T), Ea)
    return np.exp(z) @ net


# --------------------------------------------------------------------------------------------


def workloads(quick: bool) -> list[Workload]:
    if quick:
        return [mlp_workload(np.float32, B=256, D=16, H=32, K=32), mlp_workload(np.float64, B=256, D=16, H=32, K=32),
                stencil_workload(10_000), stencil_workload(100_000), reactions_workload(N=2_000, S=8, M=10)]
    return [mlp_workload(np.float32), mlp_workload(np.float64), stencil_workload(1_000_000),
            stencil_workload(10_000_000), reactions_workload()]
