"""The first screen of a report as a user sees it: headless Chromium at 1400x900 (or --height
for more), saved as a PNG.  .venv/bin/python scripts/screenshot.py output/report.html first.png"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import Page  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("report")
parser.add_argument("png")
parser.add_argument("--width", type=int, default=1400)
parser.add_argument("--height", type=int, default=900)
parser.add_argument("--from-y", type=int, default=0, help="top of the shot, CSS pixels")
parser.add_argument("--anchor", default=None, help="start at this element id (e.g. wl-mnist_mlp)")
args = parser.parse_args()
with Page(args.report, args.width, 900) as page:
    y = args.from_y
    if args.anchor:
        y = int(
            page.evaluate(
                f"document.getElementById({args.anchor!r}).getBoundingClientRect().top"
                " + window.scrollY"
            )
        )
    page.screenshot(args.png, y=y, width=args.width, height=args.height)
    print(
        f"{args.png}: {page.charts['drawn']} of {page.charts['divs']} charts drawn; "
        f"problems: {page.problems() or 'none'}"
    )
