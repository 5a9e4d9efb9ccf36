# Benchmark (a): a three-layer perceptron 64 -> 256 -> 256 -> 1 with tanh, mean squared error.
# The float64 copy of mlp.dsl (the language has no dtype polymorphism for typed defs).
dim B, D, H, K

def mlp(x: f64[B, D], W1: f64[D, H], b1: f64[H], W2: f64[H, K], b2: f64[K], W3: f64[K, 1], b3: f64[1]) -> f64[B, 1] {
    h1 = tanh(x @ W1 + b1)
    h2 = tanh(h1 @ W2 + b2)
    return h2 @ W3 + b3
}

def loss(x: f64[B, D], y: f64[B, 1], W1: f64[D, H], b1: f64[H], W2: f64[H, K], b2: f64[K],
         W3: f64[K, 1], b3: f64[1]) -> f64 {
    return mse(mlp(x, W1, b1, W2, b2, W3, b3), y)
}

vg_loss = value_and_grad(loss, wrt=(W1, b1, W2, b2, W3, b3))
