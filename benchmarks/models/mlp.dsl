# Benchmark (a): a three-layer perceptron 64 -> 256 -> 256 -> 1 with tanh, mean squared error.
# One file per dtype: this is the float32 model (mlp64.dsl is the same model in float64).
dim B, D, H, K

def mlp(x: f32[B, D], W1: f32[D, H], b1: f32[H], W2: f32[H, K], b2: f32[K], W3: f32[K, 1], b3: f32[1]) -> f32[B, 1] {
    h1 = tanh(x @ W1 + b1)
    h2 = tanh(h1 @ W2 + b2)
    return h2 @ W3 + b3
}

def loss(x: f32[B, D], y: f32[B, 1], W1: f32[D, H], b1: f32[H], W2: f32[H, K], b2: f32[K],
         W3: f32[K, 1], b3: f32[1]) -> f32 {
    return mse(mlp(x, W1, b1, W2, b2, W3, b3), y)
}

vg_loss = value_and_grad(loss, wrt=(W1, b1, W2, b2, W3, b3))
