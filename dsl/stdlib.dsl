# The standard library: always in scope, written in the DSL itself.
# Parameters without a type make a definition generic: it is type-checked at each call with the
# actual argument types; parameters with a default are static keywords (axis=, eps=).

# softmax along an axis. Subtracting the (gradient-stopped) max changes nothing mathematically
# (softmax is shift invariant) but keeps exp from overflowing.
def softmax(x, axis=-1) {
    e = exp(x - stop_gradient(max(x, axis=axis, keepdims=true)))
    return e / sum(e, axis=axis, keepdims=true)
}

def log_softmax(x, axis=-1) {
    return x - logsumexp(x, axis=axis, keepdims=true)
}

# mean squared error
def mse(pred, target) {
    return mean((pred - target) ^ 2)
}

# mean over the batch of the cross entropy between one-hot (or soft) labels and softmax(logits)
def cross_entropy(logits, labels, axis=-1) {
    return -mean(sum(labels * log_softmax(logits, axis=axis), axis=axis))
}

# binary cross entropy of labels in [0, 1] against sigmoid(logits), computed stably from logits
def binary_cross_entropy(logits, labels) {
    return mean(softplus(logits) - labels * logits)
}

# normalise along an axis to zero mean and unit variance (no affine part: multiply and add yourself)
def layer_norm(x, axis=-1, eps=1e-5) {
    mu = mean(x, axis=axis, keepdims=true)
    c = x - mu
    var = mean(c * c, axis=axis, keepdims=true)
    return c * rsqrt(var + eps)
}
