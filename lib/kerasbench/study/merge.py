"""Run folders made on other machines, into one study: `kerasbench merge SOURCE... --out OUT`.
Host side, standard library.

A SOURCE is a study folder (its runs/ is read), a runs folder, a part of one or one run folder.
Each run folder in it is what its path says it is (runfiles.path_identity: <workload>/<backend>/
<repeat> or <config>-<repeat>) and goes to the same place under OUT/runs:

- copied: a finished run (run.json says so, and runfiles.read_run finds its files whole and
  run.json the record of this very run) that OUT does not hold yet;
- skipped: OUT holds that run already, with the same files (a second merge of the same source);
- refused, by name: OUT holds another run of that id (other files: never overwritten), or the
  run is unfinished, damaged, or not the run its folder's name says (a renamed copy).

Copies are made in a staging folder in OUT and moved in at the end (`preflight.Staging`): a
stopped merge leaves OUT/runs as it was, and the next call cleans up after it.
"""

import filecmp
import os
import shutil

from kerasbench import runfiles
from kerasbench.errors import UserError
from kerasbench.study import preflight

COPIED, SKIPPED, REFUSED = "copied", "skipped", "refused"


def run_folders(source):
    """The run folders of `source` (a folder holding any of runfiles.FILES), in a stable order,
    none looked into further. A study folder's runs/ is read, nothing else of it (a harness
    folder's run folders are not the study's). One line where `source` is no folder."""
    if not os.path.isdir(source):
        what = "not found" if not os.path.lexists(source) else "not a folder"
        raise UserError("merge: %s: %s (give study, runs or run folders)" % (source, what))
    root = os.path.join(source, runfiles.RUNS)
    root = root if os.path.isdir(root) else source
    found = []
    for path, folders, files in os.walk(root):
        folders.sort()
        if any(name in runfiles.FILES for name in files):
            found.append(path)
            folders[:] = []
        for name in folders:  # os.walk does not follow links: a linked run folder is read here
            linked = os.path.join(path, name)
            if os.path.islink(linked) and any(
                os.path.isfile(os.path.join(linked, f)) for f in runfiles.FILES
            ):
                found.append(linked)
    return found


def files_of(folder):
    """{relative path: full path} of every file in a run folder."""
    found = {}
    for path, folders, files in os.walk(folder, followlinks=True):
        for name in files:
            full = os.path.join(path, name)
            found[os.path.relpath(full, folder)] = full
    return found


def same_files(a, b):
    """True where two run folders hold the same files, byte for byte."""
    mine, theirs = files_of(a), files_of(b)
    return sorted(mine) == sorted(theirs) and all(
        filecmp.cmp(mine[name], theirs[name], shallow=False) for name in mine
    )


def judge(folder, out, planned):
    """(COPIED, SKIPPED or REFUSED, the run's place relative to OUT, why) for one run folder of a
    source; `planned`: {place: source folder} of the runs this call copies already."""
    identity = runfiles.path_identity(folder)
    if identity is None:
        return REFUSED, None, "its name is not a run folder's (<repeat> or <config>-<repeat>)"
    place = os.path.relpath(runfiles.run_folder(out, *identity), out)
    run = runfiles.read_run(folder, identity)
    if run.record is None:
        return REFUSED, place, run.why() if run.damaged else "unfinished (no run.json)"
    if run.damaged:
        return REFUSED, place, "damaged: %s" % run.why()
    there = planned.get(place) or os.path.join(out, place)
    if not os.path.lexists(there):
        return COPIED, place, None
    if os.path.isdir(there) and same_files(folder, there):
        return SKIPPED, place, None
    merged = ", merged before it," if place in planned else ""
    return (
        REFUSED,
        place,
        "%s%s holds another run of that id (other files; never overwritten)"
        % (
            there,
            merged,
        ),
    )


def find(sources):
    """The run folders of every source, in the order given. A source that is no folder, or
    holds no run folder, is one line (UserError)."""
    found = []
    for source in sources:
        folders = run_folders(source)
        if not folders:
            raise UserError(
                "merge: %s holds no run folder (<workload>/<backend>/<repeat>/ with %s)"
                % (source, runfiles.RUN_JSON)
            )
        found += folders
    return found


def merge(found, out, say=print):
    """Copies the finished runs of the run folders `found` (find) into OUT/runs; the caller
    holds OUT's lock (preflight.claim_output). One line per refused run; returns
    {COPIED: n, SKIPPED: n, REFUSED: n}."""
    counts = {COPIED: 0, SKIPPED: 0, REFUSED: 0}
    planned = {}
    with preflight.Staging.begin(out, preflight.KINDS["merge"]) as staging:
        for folder in found:
            verdict, place, why = judge(folder, out, planned)
            counts[verdict] += 1
            if verdict == REFUSED:
                say("kerasbench merge: refused %s: %s" % (folder, why))
            elif verdict == COPIED:
                shutil.copytree(folder, os.path.join(staging.path, place))
                planned[place] = folder
        staging.commit(sorted(planned))
    return counts
