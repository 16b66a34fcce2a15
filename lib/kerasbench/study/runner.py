"""The study's matrix: plan (workload x backend x repeat), check, then one papermill execution per
run, each in a fresh kernel, into `<out>/runs/<workload>/<backend>/<repeat>/`. Host side: this
module never imports Keras (the kernel picks the backend; the runner holds no GPU memory).

The runner drives: it skips what is done and hands the rest to an executor (`executors`), which
runs each through `execute`, the runs of one block (`plan.blocks`: one workload in one repeat)
one after another on one machine and GPU. Planning is `plan`, the checks before training are `preflight`.
"""

import contextlib
import os
import sys

from kerasbench import datafiles, registry, runfiles
from kerasbench.errors import StudyStopped, UserError
from kerasbench.study import execute, executors, params, plan, progress, signals


# What a run folder holds, against the plan (`resume_state`).
DONE = "done"  # finished ok, this very plan, files whole: skipped
TODO = "todo"  # nothing yet, unfinished, failed, damaged, or on generated data now replaceable
CONFLICT = "conflict"  # a finished run of another plan: never replaced without --force


def plan_difference(record, spec):
    """How the plan of a finished run differs from `spec` ("profile full, not quick"), or None
    when it ran this very plan (profile, configuration, seed and every parameter)."""
    ran = record.get("params") if isinstance(record.get("params"), dict) else {}
    asked = record.get("device_requested") or "auto"  # older runs: no --device, as auto
    if (asked == "cpu") != (spec.device == "cpu"):
        return "--device %s, not %s" % (asked, spec.device)
    for key, mine in (("profile", spec.profile), ("config", spec.config), ("seed", spec.seed)):
        theirs = record.get(key, plan.DEFAULT_CONFIG if key == "config" else None)
        if theirs != mine:
            return "%s %s, not %s" % (key, theirs, mine)
    for key, mine in sorted(spec.params.items()):
        if key not in ran:
            if added_later_as_default(spec.workload, key, mine):
                continue
            return "no %s, not %s=%s" % (key, key, mine)
        if ran[key] != mine:
            if key == "epochs" and (record.get("timing_block") is True) != spec.timing:
                return (
                    "a timing block, --timing-epochs %s" % ran[key]
                    if record.get("timing_block") is True
                    else "epochs=%s, not a timing block of --timing-epochs %s" % (ran[key], mine)
                )
            return "%s=%s, not %s" % (key, ran[key], mine)
    return None


def added_later_as_default(workload, key, value):
    """True when `key` is a run setting the notebook gained after a run was made, and `value` is
    its default: the run ran with that default's behaviour (keras_patch="" is no patch at all)."""
    if key not in params.RUN_SETTINGS or workload not in registry.WORKLOADS:
        return False
    return params.notebook_parameters(workload).get(key, object()) == value


def real_data_now(record, spec, data_dir):
    """True when a run trained on generated data and every data file its workload needs is now
    here and verified: the run is redone on the real data."""
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    known = registry.WORKLOADS.get(spec.workload)  # a model file reads its own data
    if data.get("source") != "generated" or not data_dir or known is None:
        return False
    return all(datafiles.status(dataset, data_dir) == "ok" for dataset in known.datasets)


def resume_state(out, spec, data_dir=None):
    """(DONE, TODO or CONFLICT, why) for one planned run and what its folder holds.

    DONE: run.json says ok, it ran this very plan and runfiles.read_run finds its files whole.
    TODO: no folder, an unfinished or damaged one (its run.json the record of another run
    included: runfiles.read_run's identity check), a run that was not ok (failed, timeout, nan,
    among them one that trained on the CPU of a machine with a GPU), an older ok run that did so
    (execute.device_failure), or a run on generated data whose real data is here now; `why` says
    which, where it matters.
    CONFLICT: a finished run (any status) of another plan (profile, configuration, seed,
    parameters, --device cpu or not): it is another study's result, and only --force replaces it.
    """
    folder = plan.run_dir(out, spec)
    if not os.path.isdir(folder):
        return TODO, None
    # The run this folder is (its path): a run.json of another run (a folder renamed, moved or
    # copied here) is no record of it, and the folder is trained again, as a damaged one.
    run = runfiles.read_run(folder, (spec.workload, spec.backend, spec.config, spec.repeat))
    if run.record is None:
        return TODO, ("its files are damaged (%s)" % run.why()) if run.damaged else None
    difference = plan_difference(run.record, spec)
    if difference:
        return CONFLICT, difference
    if run.status != "ok":
        return TODO, None
    if run.damaged:
        return TODO, "its files are damaged (%s)" % run.why()
    fallback = execute.device_failure(run.record, run.record.get("device"), spec.device)
    if fallback:
        # An older run that trained on the CPU of a GPU machine and was recorded ok.
        return TODO, fallback
    if real_data_now(run.record, spec, data_dir):
        return TODO, "it trained on generated data and the real data is here now"
    return DONE, None


def is_done(out, spec, data_dir=None):
    """A run is done when it finished ok, ran this very plan and its files are whole."""
    return resume_state(out, spec, data_dir)[0] == DONE


def run_label(spec):
    return os.path.relpath(plan.run_dir("", spec), runfiles.RUNS)


def listed(lines):
    """The first three of `lines`, "; "-separated, then how many more there are."""
    more = " and %d more" % (len(lines) - 3) if len(lines) > 3 else ""
    return "; ".join(lines[:3]) + more


def conflict_error(out, conflicts, label=run_label, what="run", of="another plan"):
    """One line: which finished runs another plan would replace, and the ways out.
    `conflicts`: [(run, why)]; `label(run)` names a run; `what` a run of this kind."""
    return UserError(
        "%s holds %d finished %s%s of %s: %s; nothing was trained: keep them and "
        "use another --out, or replace them with --force"
        % (
            os.path.join(out, runfiles.RUNS),
            len(conflicts),
            what,
            "" if len(conflicts) == 1 else "s",
            of,
            listed(["%s (%s)" % (label(run), why) for run, why in conflicts]),
        )
    )


def is_linked(out, spec):
    """True where a planned run folder is a symbolic link (dangling or not). A finished run is
    read through one (its path says which run it must be); none is trained into: a rerun starts
    from an empty folder, and would remove what the link points to."""
    return os.path.islink(plan.run_dir(out, spec))


def linked_error(out, specs):
    """One line: which run folders to be trained are symbolic links, and the way out."""
    one = len(specs) == 1
    return UserError(
        "%s: run folder%s to be trained %s a symbolic link%s: %s; nothing was trained: "
        "replace each link with a folder of its own, or remove it"
        % (
            os.path.join(out, runfiles.RUNS),
            "" if one else "s",
            "is" if one else "are",
            "" if one else "s",
            listed(
                [
                    "%s (a link to %s)" % (run_label(spec), os.readlink(plan.run_dir(out, spec)))
                    for spec in specs
                ]
            ),
        )
    )


def summary_line(record, index, total):
    config = record.get("config") or plan.DEFAULT_CONFIG
    line = "[%d/%d] %s %s%s #%d: %s in %.1fs" % (
        index,
        total,
        record["workload"],
        record["backend"],
        "" if config == plan.DEFAULT_CONFIG else " " + config,
        record["repeat"],
        record["status"],
        record["wall_seconds"],
    )
    if record.get("data"):
        line += " (%s data)" % record["data"]["source"]
    if record.get("error"):
        line += " - " + record["error"]
    return line


def study(runs, out, data_dir, executor, timeout=None, force=False, say=print):
    """`kerasbench run` from the plan on, under its pre-flight: says what it trains and where,
    starts the executor (Ray: its cluster now, so that its errors come first), then
    run_matrix. Returns the records in plan order."""
    say(
        "kerasbench: %d runs (%s profile) into %s; data from %s"
        % (len(runs), runs[0].profile if runs else "-", os.path.join(out, runfiles.RUNS), data_dir)
    )
    if hasattr(executor, "start"):
        executor.start()
    say("kerasbench: executor %s: %s" % (executor.name, executor.describe()))
    return run_matrix(runs, out, data_dir, timeout=timeout, force=force, executor=executor)


def outcome(records, runs, out, say=print):
    """The end of a study: the results table, then one line of how many runs are ok, naming
    those that are not. Returns the records that are not ok."""
    failed = [r for r in records if r["status"] != "ok"]
    say("")
    for line in progress.results_table(records, [plan.run_dir(out, spec) for spec in runs]):
        say(line)
    not_ok = ", ".join(
        "%s/%s/%d (%s)" % (r["workload"], r["backend"], r["repeat"], r["status"]) for r in failed
    )
    say(
        "kerasbench: %d of %d runs ok%s"
        % (len(records) - len(failed), len(records), "; not ok: " + not_ok if failed else "")
    )
    return failed


def checked_states(runs, out, data_dir=None, force=False):
    """[(spec, state, why)] of the plan (resume_state; every run TODO with `force`), once no
    finished run of another plan is in the way (conflict_error, unless `force`) and no run
    folder to be trained is a symbolic link (linked_error)."""
    states = [
        (spec, TODO, None) if force else (spec,) + resume_state(out, spec, data_dir)
        for spec in runs
    ]
    conflicts = [(spec, why) for spec, state, why in states if state == CONFLICT]
    if conflicts:
        raise conflict_error(out, conflicts)
    linked = [spec for spec, state, _ in states if state != DONE and is_linked(out, spec)]
    if linked:
        raise linked_error(out, linked)
    return states


def skip_done(states, out, records, write, advance):
    """Fills `records` with the runs done already, one line each ("done earlier, skipped"), and
    says why a run found in its folder is trained again; returns [(position, spec)] to train."""
    todo = []
    finished = 0
    for position, (spec, state, why) in enumerate(states):
        if state == DONE:
            finished += 1
            records[position] = runfiles.read_run(plan.run_dir(out, spec)).record
            write(
                "[%d/%d] %s %s #%d: done earlier, skipped"
                % (finished, len(states), spec.workload, spec.backend, spec.repeat)
            )
            advance(1)
        else:
            if why:
                write("%s: %s: training it again" % (run_label(spec), why))
            todo.append((position, spec))
    return todo


def run_matrix(runs, out, data_dir, timeout=None, force=False, stream=None, executor=None):
    """Executes the plan with a progress bar; what is done already is skipped unless force.

    Before anything trains, every run folder is read (`resume_state`): a finished run of another
    plan stops the study with one line (UserError) unless `force`. A full disk fails the run in
    progress and stops the study (StudyStopped, one line): a rerun of the same command after
    freeing space finishes it. SIGTERM or SIGHUP (with `signals.handled` active) stops the runs in
    flight, each recorded `failed` ("interrupted by SIGTERM"), prints their lines and raises
    `signals.Terminated` on: nothing goes on training.

    `executor` (kerasbench.study.executors) says where the runs execute: by default one after another
    in this process. It gets the runs left to train in plan order and keeps each block's runs
    together (one after another, on one machine and GPU), a block of which some runs are done
    included. Whatever runs them, each finished run prints one status line here, in the
    order they finish, and a run longer than a few seconds one line per epoch while it trains
    (`progress.EpochTail`, reading its epochs.csv where the run folder is on this machine); the
    records come back in plan order.
    """
    from tqdm import tqdm

    if executor is None:
        executor = executors.Sequential()
    states = checked_states(runs, out, data_dir, force)
    if stream is None:
        # A handle on the terminal that survives output_to()'s redirection of fd 2.
        stream = os.fdopen(os.dup(sys.stderr.fileno()), "w")

    records = [None] * len(runs)
    bar = tqdm(total=len(runs), desc="study", unit="run", file=stream, dynamic_ncols=True)
    todo = skip_done(states, out, records, lambda line: bar.write(line, file=stream), bar.update)
    finished = len(runs) - len(todo)
    positions = {id(spec): position for position, spec in todo}

    folder_of = {id(spec): plan.run_dir(os.path.abspath(out), spec) for _, spec in todo}
    tail = progress.EpochTail(lambda line: bar.write(line, file=stream))

    def started(spec):
        bar.set_postfix_str("%s/%s/%d" % (spec.workload, spec.backend, spec.repeat))
        tail.start(id(spec), progress.run_name(spec), folder_of[id(spec)], spec.workload)

    running = executor.run([spec for _, spec in todo], out, data_dir, timeout, started=started)
    try:
        for spec, record in running:
            tail.finish(id(spec))
            finished += 1
            records[positions[id(spec)]] = record
            bar.write(summary_line(record, finished, len(runs)), file=stream)
            bar.update(1)
    except execute.DiskFull as e:
        finished += 1
        bar.write(summary_line(e.record, finished, len(runs)), file=stream)
        bar.close()
        left = sum(1 for r in records if r is None) - 1
        raise StudyStopped(
            "%s: the study stopped with %d run%s not trained; free space, then "
            "rerun the same command" % (e.record["error"], left, "" if left == 1 else "s")
        )
    except signals.Terminated as stop:
        # SIGTERM or SIGHUP: where it came between two runs, the executor still has to stop the
        # runs in flight (a generator closed already raises it again as it is).
        try:
            running.throw(stop)
        except signals.Terminated as stopped:
            stop = stopped
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            for record in stop.records:
                finished += 1
                bar.write(summary_line(record, finished, len(runs)), file=stream)
            bar.close()
            stream.flush()
        raise stop
    finally:
        tail.close()
    bar.close()
    return records
