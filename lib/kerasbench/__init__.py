"""kerasbench: which Keras backend trains my model fastest, and does it learn the same?

This package has two sides. The host side (cli, runner, params, kernels, analysis, plots, report)
is modern Python and never imports Keras. The kernel side (datasets, compat, session, epoch_log,
textgen, workloads) runs inside one Jupyter kernel per backend and stays importable by Python 3.6
with Keras 2.3.1 for the legacy CNTK kernel. Keep this file free of imports for that reason.
"""

__version__ = "0.1.0"
