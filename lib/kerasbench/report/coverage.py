"""The coverage table of the Method section: how often the report's intervals cover the truth.

Host side only (pandas, never Keras). For each number of runs or blocks the report used, each
scenario (SCENARIOS: the H200's spread between runs and between blocks, and a slow host) and
both methods (t on logs, the report's; the percentile bootstrap, for comparison):
stats.simulate_coverage's coverage and width.
"""

from __future__ import annotations

import pandas as pd

from kerasbench.report import stats

COVERAGE_COLUMNS = ["n", "scenario", "method", "coverage", "width"]

# The coverage scenarios the Method section prints: name -> (sd, slow_fraction, what it models).
SCENARIOS = {
    "runs": (stats.SD_RUN_LOG, 0.0, "run means of one cell (H200 spread)"),
    "blocks": (stats.SD_RATIO_LOG, 0.0, "per-block ratios (H200 spread)"),
    "slow host": (
        stats.SD_RUN_LOG,
        stats.SLOW_HOST_FRACTION,
        f"run means, 1 run in 3 on a {stats.SLOW_HOST_FACTOR:g}× slower host",
    ),
}


# Resamples per simulated percentile interval: the comparison's coverage moves by less than its
# own Monte Carlo error (about 0.01 at 2,000 studies) between 1,000 and 10,000 resamples, and the
# simulation is the report's largest fixed cost.
COVERAGE_RESAMPLES = 1000


def coverage_table(
    ns,
    *,
    confidence_level: float,
    studies: int,
    n_resamples: int = COVERAGE_RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """COVERAGE_COLUMNS for each n in ns, each scenario (SCENARIOS) and both methods (t, the
    report's; percentile bootstrap, for comparison): stats.simulate_coverage."""
    rows = []
    for n in ns:
        for scenario, (sd, slow, _) in SCENARIOS.items():
            for method in ("t", "percentile"):
                result = stats.simulate_coverage(
                    n,
                    sd=sd,
                    method=method,
                    slow_fraction=slow,
                    confidence_level=confidence_level,
                    studies=studies,
                    n_resamples=min(n_resamples, COVERAGE_RESAMPLES),
                    seed=seed,
                )
                rows.append({"n": n, "scenario": scenario, "method": method, **result})
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
