"""Experiments at scale: sweeps, sensitivity analysis and scenario discovery.

    >>> from hardtech.experiments import load_spec, plan_sweep, run_sweep, open_executor, sweep_frame
    >>> from hardtech.store import ResultsStore
    >>> resolved = load_spec("examples/levers-lhs.toml")
    >>> plan = plan_sweep(resolved)
    >>> with ResultsStore("results/levers.duckdb") as store, open_executor(workers=2) as ex:
    ...     report = run_sweep(plan, store, ex)
    ...     runs = sweep_frame(store, resolved)

See docs/experiments.md for the spec format, the commands and the store tables.
(Scripts using ``workers=N`` need the usual ``if __name__ == "__main__":``
guard: worker processes are started with ``spawn``.)
"""

from hardtech.experiments.designs import design_matrix, run_seed
from hardtech.experiments.executors import ExecutorError, InlineExecutor, open_executor
from hardtech.experiments.spec import ExperimentSpec, ResolvedSpec, SpecError, load_spec
from hardtech.experiments.sweep import SweepPlan, SweepReport, plan_sweep, run_sweep, sweep_frame

__all__ = [
    "ExecutorError",
    "ExperimentSpec",
    "InlineExecutor",
    "ResolvedSpec",
    "SpecError",
    "SweepPlan",
    "SweepReport",
    "design_matrix",
    "load_spec",
    "open_executor",
    "plan_sweep",
    "run_seed",
    "run_sweep",
    "sweep_frame",
]
