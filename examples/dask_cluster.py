"""The MLP of examples/mlp.dsl trained on a Dask cluster: loss and gradient of a large, chunked batch,
computed by the generated NumPy code of `dsl` (the same code that runs on NumPy arrays builds a lazy
Dask graph when given Dask arrays; nothing is computed until `.compute()`).

Run it locally (starts a LocalCluster of 2 in-process workers, shuts it down at the end):

    python examples/dask_cluster.py                       # 200,000 rows in chunks of 25,000
    python examples/dask_cluster.py --rows 1000000 --chunk 50000 --steps 5 --processes

Point it at a real cluster instead: start a scheduler and workers (`dask scheduler` on one machine,
`dask worker tcp://scheduler:8786` on the others; workers need the same numpy and dask versions, and
this project installed if a model uses `erf` or generator boxes), then

    DSL_DASK_SCHEDULER=tcp://scheduler:8786 python examples/dask_cluster.py
    python examples/dask_cluster.py --scheduler tcp://scheduler:8786

In your own code the same is `client = dask.distributed.Client("tcp://scheduler:8786")`; after that
`client.compute(...)` (or `dask.compute(...)`) runs the graphs built by `mod.compile(...)` there.
The data are generated on the workers (`dask.array.random`), so only the small weights and the
results travel between this process and the cluster.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import dsl

HERE = Path(__file__).resolve().parent
D, H = 8, 32  # input features and hidden units


def make_data(rows: int, chunk: int, seed: int) -> tuple[Any, Any]:
    """A regression problem y = sin(x @ w) + noise as lazy Dask arrays chunked along the batch axis."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    x = rng.standard_normal((rows, D), chunks=(chunk, D)).astype(np.float32)
    w = np.linspace(-1.0, 1.0, D, dtype=np.float32)[:, None]
    noise = rng.standard_normal((rows, 1), chunks=(chunk, 1)).astype(np.float32)
    y = da.sin(x @ w) + np.float32(0.1) * noise
    return x, y


def main(rows: int = 200_000, chunk: int = 25_000, steps: int = 3, lr: float = 0.2, workers: int = 2,
         processes: bool = False, scheduler: str | None = None, seed: int = 0, check: bool = False) -> dict[str, Any]:
    """Run `steps` gradient-descent steps of the MLP on the cluster and return the losses, the last
    gradients and the timings. `scheduler` (or DSL_DASK_SCHEDULER) names an existing cluster; without
    it a LocalCluster of `workers` workers is started (threads in this process unless `processes`).
    `check` also compares the first loss and gradient with the NumPy backend on the gathered data."""
    from dask.distributed import Client, LocalCluster

    scheduler = scheduler or os.environ.get("DSL_DASK_SCHEDULER") or None
    mod = dsl.load(HERE / "mlp.dsl")
    loss_fn, grad_fn = mod.compile("loss"), mod.compile("dloss")

    rng = np.random.default_rng(seed)
    W1 = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(np.float32)
    b1 = np.zeros(H, np.float32)
    W2 = (rng.standard_normal((H, 1)) / np.sqrt(H)).astype(np.float32)

    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                                  dashboard_address=None)
    try:
        with Client(scheduler or cluster) as client:
            print(f"cluster: {client.scheduler.address} with {len(client.scheduler_info()['workers'])} worker(s)")
            x, y = make_data(rows, chunk, seed)
            x, y = client.persist([x, y])  # generate the data once, on the workers
            print(f"data: x {x.shape} in {x.numblocks[0]} chunks of {chunk} rows")
            losses, times = [], []
            for step in range(steps):
                start = time.perf_counter()
                loss = loss_fn(x, y, W1, b1, W2)          # lazy: Dask arrays, nothing computed yet
                grads = grad_fn(x, y, W1, b1, W2)
                value, *gs = client.compute([loss, *grads], sync=True)
                times.append(time.perf_counter() - start)
                losses.append(float(value))
                if check and step == 0:
                    xs, ys = client.gather(client.compute([x, y]))
                    np.testing.assert_allclose(value, loss_fn(xs, ys, W1, b1, W2), rtol=1e-4)
                    for g, want in zip(gs, grad_fn(xs, ys, W1, b1, W2)):
                        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-6)
                    print("step 0 matches the NumPy backend on the gathered data")
                print(f"step {step}: loss {losses[-1]:.6f}  |grad| {sum(float(np.sum(g * g)) for g in gs) ** 0.5:.4f}"
                      f"  ({times[-1]:.3f} s)")
                W1, b1, W2 = W1 - lr * gs[0], b1 - lr * gs[1], W2 - lr * gs[2]
    finally:
        if cluster is not None:
            cluster.close()
    print(f"{steps} step(s) on {rows} rows: {sum(times):.3f} s")
    return {"losses": losses, "grads": tuple(gs), "seconds": times, "weights": (W1, b1, W2)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--chunk", type=int, default=25_000)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--processes", action="store_true", help="workers in separate processes")
    p.add_argument("--scheduler", default=None, help="address of an existing scheduler (or DSL_DASK_SCHEDULER)")
    p.add_argument("--check", action="store_true", help="compare the first step with the NumPy backend")
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    main(rows=args.rows, chunk=args.chunk, steps=args.steps, lr=args.lr, workers=args.workers,
         processes=args.processes, scheduler=args.scheduler, check=args.check)
