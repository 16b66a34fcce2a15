"""The product speaks of itself and its results only: no README, doc, configuration comment,
script or committed study note describes the machines the project's own runs were made on as
lent, counted in slices or sessions, or limited in what a call may take with it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Words of the environment the example studies were measured in, not of the product. Array
# slicing ("slice by slice", `slice(a, b)`) and a Python or Keras session stay allowed.
FORBIDDEN = re.compile(
    r"\blent\b|\bleases?\b|\bslices? \d|\bslices of\b|next slice|\bsessions? of \d|"
    r"carry: \[|\d+ MiB of 64|64 MiB|device time left|whoever runs",
    re.I,
)


def product_text():
    """The files a user reads: README, docs, params, scripts, notebooks, Docker files and the
    committed study notes."""
    yield from (ROOT / name for name in ("README.md", "environment.yml", "Makefile"))
    for folder, pattern in (
        ("docs", "*.md"),
        ("params", "*.yaml"),
        ("scripts", "*"),
        ("notebooks", "*.ipynb"),
        ("docker", "*"),
        ("output/reference", "*/runs/README.md"),
    ):
        yield from sorted((ROOT / folder).glob(pattern))


def test_product_text_speaks_of_the_product_only():
    found = []
    for path in product_text():
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if FORBIDDEN.search(line):
                found.append("%s:%d: %s" % (path.relative_to(ROOT), number, line.strip()[:100]))
    assert not found, "\n".join(found)


def test_the_pattern_catches_what_it_is_for_and_spares_array_slicing():
    for said in ("from lent NVIDIA H200s", "slice 4", "whoever runs the next slice", "64 MiB"):
        assert FORBIDDEN.search(said), said
    for fine in ("the sparse gradient slice by slice", "x[slice(0, n)]", "session.start(...)"):
        assert not FORBIDDEN.search(fine), fine
