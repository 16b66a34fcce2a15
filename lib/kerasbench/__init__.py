"""kerasbench: which Keras backend trains my model fastest, and does it learn the same?

This package has two sides, and a ground floor both use. The host side (`cli`, `study/`: plan,
preflight, execute, executors, runner, params, kernels, harness; and the report) is modern Python
and never imports Keras. The kernel side (`kernel/`: session, training, epoch_log, compat,
textgen, datasets; `workloads/`; `plain`) runs inside one Jupyter kernel per backend and stays
importable by Python 3.6 with Keras 2.3.1 for the legacy CNTK kernel. The ground floor
(`registry`, `errors`, `environment`, `runfiles`, `datafiles`) is standard library, Python 3.6
syntax. Keep this file free of imports for that reason.
"""

__version__ = "0.1.0"
