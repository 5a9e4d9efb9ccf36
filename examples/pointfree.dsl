# Point-free string diagrams: boxes wired by composition (>>), tensor (⊗), copy and swap.

# x ↦ sin(x) cos(x): copy the wire, run sin and cos side by side, multiply.
diagram sincos : f64 -> f64 = copy(f64) >> (sin ⊗ cos) >> mul

# (a, b) ↦ (exp a, -b), then swapped and subtracted: -b - exp(a)
diagram twist : f64 ⊗ f64 -> f64 = (exp ⊗ neg) >> swap(f64, f64) >> sub

# traditional order: g ∘ f is f then g
diagram damped : f64 -> f64 = tanh ∘ sincos

dsincos = grad(sincos)
