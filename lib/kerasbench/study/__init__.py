"""The host side of a study: plan it, check it, run each notebook in a fresh kernel, record it.

Host side (Python >= 3.10): nothing here imports Keras or a framework, or `kerasbench.kernel`.
  plan       the runs (RunSpec), their order, seeds and resolved parameters; run folders
  params     params/<workload>.yaml and configs.yaml, validated against the notebooks
  preflight  checks before anything trains (output folder, data folder and files)
  execute    one run: papermill in a fresh kernel, timeout, run.json
  executors  where runs execute (local, local --jobs N, ray); each calls execute
  runner     drives the matrix: skips what is done, hands the rest to an executor
  signals    SIGTERM and SIGHUP: the runs in flight stopped and recorded, then the runner exits
  kernels    the kerasbench-<backend> Jupyter kernels
  harness    what papermill costs against a plain process
  parity     `kerasbench parity`: the same training on every backend, compared
"""
