"""The kernel side: what runs inside a `kerasbench-<backend>` Jupyter kernel, after the kernel
fixed KERAS_BACKEND. Python 3.6 syntax (the legacy CNTK kernel); imports Keras (except
`datasets`: NumPy only, and `settings`, `terminal`, `determinism`, `notebooks`: the standard
library), never `kerasbench.study` or the report. Keep this file free of imports.
"""
