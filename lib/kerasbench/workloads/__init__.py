"""One module per workload of the 2017 study, each read top to bottom like a keras-io example:
a header, then Data (`load_data`) and Model (`build_model`). Training and logging are shared
(`kerasbench.kernel.training`), so nothing here is backend-specific. Kernel side, Python 3.6.
"""
