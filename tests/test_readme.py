"""The README and docs/ as a newcomer reads them: every relative link leads to a file (and a
heading, where it names one), and every `kerasbench <command> --option` they quote is an option
of that command's parser."""

import re
from pathlib import Path

import pytest

from kerasbench import cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# `kerasbench run ... --profile quick`, within one line of code or one shell line ("\" continues)
COMMAND = re.compile(r"kerasbench (\w+)((?:[^`\n]|\\\n)*)")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {github_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_github_slug_matches_githubs_own():
    assert github_slug("Does it learn the same? `kerasbench parity`") == (
        "does-it-learn-the-same-kerasbench-parity"
    )
    assert github_slug("Data: `KERASBENCH_DATA`") == "data-kerasbench_data"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_somewhere(page):
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_the_commands_quoted_exist_with_their_options():
    parser = cli.build_parser()
    commands = next(
        a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"
    ).choices
    unknown = []
    for page in PAGES:
        for name, rest in COMMAND.findall(page.read_text(encoding="utf-8")):
            if name not in commands:
                continue  # prose ("kerasbench trains ..."), not a command
            known = {s for a in commands[name]._actions for s in a.option_strings}
            unknown += [
                f"{page.name}: kerasbench {name} {o}"
                for o in OPTION.findall(rest)
                if o not in known
            ]
    assert not unknown, "\n".join(unknown)


def test_the_checks_see_what_they_check():
    # The commands the README quotes are found, so the test above is not vacuous.
    found = {name for name, _ in COMMAND.findall((ROOT / "README.md").read_text("utf-8"))}
    assert {"run", "report", "parity", "floor", "merge", "profile", "harness"} <= found
