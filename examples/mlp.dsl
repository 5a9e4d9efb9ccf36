# A two-layer perceptron and its mean squared error loss, with the gradient for training.
dim B, D, H

def mlp(x: f32[B, D], W1: f32[D, H], b1: f32[H], W2: f32[H, 1]) -> f32[B, 1] {
    h = tanh(x @ W1 + b1)
    return h @ W2
}

def loss(x: f32[B, D], y: f32[B, 1], W1: f32[D, H], b1: f32[H], W2: f32[H, 1]) -> f32 {
    return mse(mlp(x, W1, b1, W2), y)
}

dloss = grad(loss, wrt=(W1, b1, W2))
