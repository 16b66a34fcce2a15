"""Native reference training loops: the "floor" the Keras runs are compared against.

The same three models as the Keras workloads (mnist_mlp, mnist_cnn, imdb_bidirectional_lstm),
written directly in JAX and PyTorch, with hand-written optimizers that follow Keras 3's update
rules, the same initialisers, and data already resident on the device. Host side: modern Python,
never imports Keras. Run with `python -m kerasbench.native --help`.

Modules, one concern each:
- `specs`: the workloads' hyperparameters and Keras parameter counts.
- `weights`: initial weights in NumPy, in Keras' layouts (shared by both frameworks).
- `data`: the datasets as NumPy arrays, preprocessed as the Keras workloads do.
- `jax_models`: JAX models, optimizers and the `step` / `scan` trainers.
- `torch_models`: PyTorch models, optimizers and the `step` / `compiled` trainers.
- `loop`: the epoch loop, timing, epochs.csv and run.json (framework-agnostic).
- `__main__`: the command line.
"""

FRAMEWORKS = ("jax", "torch")
MODES = {"jax": ("step", "scan"), "torch": ("step", "compiled")}
# torch_models' `compiled` mode: auto = a CUDA graph on CUDA, torch.compile's default elsewhere.
COMPILE_MODES = (
    "auto",
    "cuda-graph",
    "default",
    "reduce-overhead",
    "max-autotune-no-cudagraphs",
    "aot_eager",
)
