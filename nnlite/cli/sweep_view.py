"""What ``nnlite sweep`` shows: one progress bar over runs with a line per finished run (:class:`Bar`), and the dry
run's plan as a table (:func:`plan_table`)."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

__all__ = ["Bar", "cpu_to_run", "duration", "plan_table"]


class Bar:
    """One tqdm bar over runs on standard error, and one line per finished run."""

    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        self.enabled = enabled
        self.reasons: Counter[str] = Counter()
        self.done = 0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "damaged":
            print(f"  damaged {event['file']}: {event['reason']}; running it again", flush=True)
        elif kind == "start":
            print(f"{event['total']} runs, {event['skipped']} already done, {event['submitted']} to run", flush=True)
            if self.enabled and event["submitted"]:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=event["submitted"], desc="runs", file=sys.stderr, dynamic_ncols=True)
        elif kind == "done":
            secs = event.get("seconds")
            took = "" if secs is None else f" in {secs:.1f} s"
            why = f": {event['error']}" if event.get("error") else ""
            self.done += 1
            if event.get("error"):
                self.reasons[event["error"]] += 1
            print(f"  {event['status']:6s} {event['variation']} seed {event['seed']}{took}{why}", flush=True)
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(failed=event["failed"], running=event["running"], refresh=False)
        elif kind == "end" and self.bar is not None:
            self.bar.close()
        if kind == "end" and self.reasons:
            print("failed runs, by reason:")
            for reason, n in self.reasons.most_common():
                print(f"  {n} × {reason}")


def duration(seconds: float | None) -> str:
    """``seconds`` for a person: "12.3 s", "4.5 min" or "2.1 h" ("—" when unknown)."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def plan_table(plan: dict[str, Any], workers: int) -> str:
    """The dry run as a table: per variation its runs, runs to do, step time and wall time on ``workers``."""
    lines = ["| variation | runs | to run | step s | est. wall |", "|---|---|---|---|---|"]
    for name, v in plan["variations"].items():
        name = name.replace("|", "\\|")  # e.g. "norm+|x|"
        if "error" in v:
            lines.append(f"| {name} | {v['seeds']} | {v['to_run']} | — | fails: {v['error'].splitlines()[0]} |")
            continue
        wall = v["step_seconds"] * v["steps_per_run"] * v["to_run"] / workers
        lines.append(f"| {name} | {v['seeds']} | {v['to_run']} | {v['step_seconds']:.4f} | {duration(wall)} |")
    cpu = cpu_to_run(plan)
    lines += [
        "",
        f"{plan['runs']} runs, {plan['done']} done, {plan['to_run']} to run: about {duration(cpu)} of CPU, "
        f"{duration(cpu / workers)} of wall time on {workers} worker(s) (a lower bound: evaluation, alignment and "
        "data loading are left out)",
    ]
    return "\n".join(lines)


def cpu_to_run(plan: dict[str, Any]) -> float:
    """CPU seconds of the runs to do, over the variations that could be timed."""
    return sum(
        v["step_seconds"] * v["steps_per_run"] * v["to_run"] for v in plan["variations"].values() if "error" not in v
    )
