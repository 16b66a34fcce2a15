"""The study report, host side (never imports Keras). One module per job, read top-down:

- `rundata`: a runs folder and its references as one tidy table of epochs (`load_study`), on
  `tidy` (the table's columns and order), `references` (the reference folders' format),
  `machines` (which machine a run trained on) and `naming` (the report's names and order).
- `stats`: intervals (t on log run means, only from 3), ratios within blocks (one repeat on one
  machine), which row is fastest by paired evidence, the coverage simulation.
- `summary`: everything the report shows, computed once (`summary.build`), from `runstats` (one
  row per run), `metrics` (the metric followed), `ratios` (times the fastest, times the floor,
  the comparisons), `thenandnow`, `noise` (too close to call) and `coverage`.
- `notes`: the verdict sentences, the caveats, the handicaps in words.
- `rules`: what the page shows of a summary: this study's rows, a row's name, its caveats.
- `style`, `figures`, `tables`, `sections`: the page's look, its Plotly figures, its HTML tables
  and its sections in prose, from a summary.
- `build`: notebooks/analysis.ipynb through papermill, exported to one offline report.html.

`kerasbench report` calls `build_report`; `jupyter nbconvert --execute --to html
notebooks/analysis.ipynb` from the repository root runs the same notebook.
"""

from kerasbench.report.build import ReportError, build_report  # noqa: F401
