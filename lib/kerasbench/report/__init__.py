"""The study report, host side (never imports Keras). One module per job, read top-down:

- `rundata`: run folders and reference folders as one tidy table of epochs (`load_study`).
- `stats`: intervals (t on log run means, only from 3), ratios within blocks (one repeat on one
  machine), which row is fastest by paired evidence, the coverage simulation.
- `summary`: everything the report shows, computed once (`summary.build`).
- `notes`: the verdict sentences, the caveats, the handicaps in words.
- `rules`: what the page shows of a summary: this study's rows, a row's name, its caveats.
- `style`, `figures`, `tables`, `sections`: the page's look, its Plotly figures, its HTML tables
  and its sections in prose, from a summary.
- `build`: notebooks/analysis.ipynb through papermill, exported to one offline report.html.

`kerasbench report` calls `build_report`; `jupyter nbconvert --execute --to html
notebooks/analysis.ipynb` from the repository root runs the same notebook.
"""

from kerasbench.report.build import ReportError, build_report  # noqa: F401
