"""Regenerate the "real output" blocks of README.md from what the code prints today.

    python scripts/readme.py              # the quick blocks (seconds each; `make readme`)
    python scripts/readme.py --all        # every block, the long ones too (`make readme-full`)
    python scripts/readme.py --only demo,api
    python scripts/readme.py --check      # compare, do not write (tests/test_readme.py does this in CI)
    python scripts/readme.py --only robustness-claims --reuse DIR      # resume from the runs stored in DIR
    python scripts/readme.py --only robustness-claims --keep-results DIR   # keep what it wrote, in DIR/<block>

A block is a fenced code block between two markers in README.md::

    <!-- readme:demo -->
    ```
    …output…
    ```
    <!-- /readme:demo -->

and one line in :data:`BLOCKS` below saying how to produce it. To add a block:
put the two markers where it goes, add its line to ``BLOCKS``, run this
script with ``--only NAME``.

Commands run in a fresh temporary directory (holding a copy of
``examples/``), so relative paths print as in the README, with
``COLUMNS=120``, no colour, and no ``HARDTECH_*`` variables.

Long blocks (``long=True``: more than about two minutes) are regenerated only
with ``--all``/``--only``; their start marker carries a stamp, e.g.
``<!-- readme:claims-quick model=0.1.0+3f9c2a1b7d40 platform=x86_64-glibc -->``,
naming the model version (:func:`hardtech.provenance.model_version`) and the
platform family that produced them. CI checks that every stamp names the
current model version, and regenerates the quick blocks and compares them
with the README after :func:`normalise` (timings, run ids and table widths
do not count) — on the platform family the README was generated on
(:data:`REFERENCE_PLATFORM`; others give other trajectories, see
docs/reproducibility.md).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
REFERENCE_PLATFORM = "x86_64-glibc"  # where the README's outputs come from (hardtech.provenance.platform_key)
COLUMNS = 120
START_RE = re.compile(r"^<!-- readme:(?P<name>[a-z0-9-]+)(?P<stamp>(?: [a-z]+=\S+)*) -->$", re.M)


# -- abridging: what a block keeps of the output ---------------------------------------------------


def table_rows(title: str, rows: int) -> Callable[[str], str]:
    """Keep the first ``rows`` body rows of the Rich table whose title contains ``title``, then a row of "…"."""

    def cut(text: str) -> str:
        lines = text.split("\n")
        start = next(i for i, ln in enumerate(lines) if title in ln)
        body = next(i for i in range(start, len(lines)) if lines[i].startswith("┡")) + 1
        end = next(i for i in range(body, len(lines)) if lines[i].startswith("└"))
        if end - body <= rows:
            return text
        kept = lines[body : body + rows]
        heads = lines[body - 2].split("┃")[1:-1]
        cells = kept[-1].split("│")[1:-1]
        right = [
            h.startswith("  ") or c.startswith("  ") for h, c in zip(heads, cells, strict=True)
        ]  # padded on the left
        dots = [
            "…".rjust(len(c) - 1) + " " if r else " " + "…".ljust(len(c) - 1) for c, r in zip(cells, right, strict=True)
        ]
        after = end + 1
        if after < len(lines) and lines[after].startswith("… and "):
            after += 1  # the "… and N more" line: the ellipsis row says it
        return "\n".join(lines[:body] + kept + ["│" + "│".join(dots) + "│"] + [lines[end]] + lines[after:])

    return cut


def grep(*patterns: str) -> Callable[[str], str]:
    """Keep only the lines matching one of the regular expressions."""
    res = [re.compile(p) for p in patterns]
    return lambda text: "\n".join(ln for ln in text.split("\n") if any(r.search(ln) for r in res))


API_SNIPPET = """
import hardtech
result = hardtech.run("hangzhou", seed=7, overrides={"regions.hangzhou.living_cost": 0.8})
print(result.run_id)
m = result.metrics
end = m[(m.region == "hangzhou") & (m.step == m.step.max())]
print(end[["field", "firms", "dragons", "talent", "gap_to_frontier"]].to_string(index=False))
print(result.dragons.head(3).to_string(index=False))
"""


@dataclass(frozen=True)
class Block:
    """How to produce one README block: shell command(s) or a Python snippet, and what to keep."""

    name: str
    commands: tuple[str, ...] = ()
    python: str = ""
    stream: str = "stdout"  # stdout | stderr | both
    prompt: bool = False  # show each command as "$ command" before its output
    keep: Callable[[str], str] | None = None
    long: bool = False  # more than ~2 minutes: only with --all / --only; stamped
    expect_failure: bool = False  # the commands exit 2 on purpose (bad-input examples)
    env: dict[str, str] = field(default_factory=dict)


# The registry: one line per block. Long blocks say long=True.
BLOCKS: dict[str, Block] = {
    b.name: b
    for b in [
        Block("demo", ("hardtech run hangzhou --seed 7",), keep=table_rows("'s dragons (replication 0)", 8)),
        Block(
            "bad-input",
            (
                "hardtech run --set regions.hangzhou.living_cst=0.8",
                "hardtech run --set regions.hangzhou.living_cost=-1",
            ),
            stream="stderr",
            prompt=True,
            expect_failure=True,
        ),
        Block("api", python=API_SNIPPET),
        Block("claims-quick", ("hardtech claims --quick",), long=True),
        Block("claims", ("hardtech claims --workers 2 --no-progress",), long=True),
        Block("validate", ("hardtech validate -r 3",), long=True),
        Block("history", ("hardtech history -r 10 --workers 2",), long=True),
        Block(
            "sensitivity",
            ("hardtech sensitivity examples/levers-sobol.toml --workers 2 --no-plot",),
            long=True,
            keep=grep(
                r"^dragons_hangzhou — Sobol",
                r"^┃ factor",
                r"^│ (startup|talent|living|basic)",
                r"^ΣS1 .*dragons_hangzhou",
            ),
        ),
        Block(
            "discover",
            ("hardtech discover examples/levers-lhs.toml --where 'dragons_hangzhou >= 50' --workers 2 --no-plot",),
            long=True,
            keep=grep(r"^PRIM on", r"^Box 1 \(step", r"^│ \S.*│ +[0-9.e-]+ │$"),
        ),
        Block("robustness-quick", ("hardtech robustness --quick --workers 2",), long=True),
        Block("robustness-claims", ("hardtech robustness --claims H2,H3,H4,H6,H9,H11 --workers 2",), long=True),
        Block("robustness-h1-h7", ("hardtech robustness --claims H1,H7 --workers 2",), long=True),
        Block("robustness-h5-h8", ("hardtech robustness --claims H5,H8 --workers 2",), long=True),
    ]
}


# -- running -------------------------------------------------------------------------------------


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARDTECH_")}
    env.update({"COLUMNS": str(COLUMNS), "NO_COLOR": "1", "TERM": "dumb", "PYTHONWARNINGS": "ignore", **extra})
    env.pop("FORCE_COLOR", None)
    return env


def _hardtech_argv(command: str) -> list[str]:
    import shlex

    argv = shlex.split(command)
    if argv[0] != "hardtech":
        raise ValueError(f"block commands start with 'hardtech': {command!r}")
    return [sys.executable, "-m", "hardtech", *argv[1:]]


def produce(block: Block, reuse: Path | None = None, keep_results: Path | None = None) -> str:
    """Run a block's commands in a fresh directory; its text (abridged, trailing spaces removed).

    ``reuse``: a directory copied to ``results/`` there first, so that a resumable command
    (``hardtech robustness``, ``hardtech run -r``) reuses the runs stored in it — and says how many.
    ``keep_results``: where to copy the ``results/`` the commands wrote (to open the report, or to reuse).
    """
    with tempfile.TemporaryDirectory(prefix=f"readme-{block.name}-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "examples", work / "examples")
        if reuse is not None:
            shutil.copytree(reuse, work / "results")
        parts = []
        steps = [(c, _hardtech_argv(c)) for c in block.commands] or [(None, [sys.executable, "-c", block.python])]
        for shown, argv in steps:
            res = subprocess.run(argv, capture_output=True, text=True, cwd=work, env=_env(block.env), timeout=4 * 3600)
            failed = res.returncode != 0
            if failed != block.expect_failure:
                raise RuntimeError(
                    f"block {block.name}: {shown or 'python snippet'} exited {res.returncode}:\n{res.stderr[-2000:]}"
                )
            text = {"stdout": res.stdout, "stderr": res.stderr, "both": res.stdout + res.stderr}[block.stream]
            parts.append((f"$ {shown}\n" if block.prompt else "") + text.rstrip("\n"))
        text = "\n".join(parts)
        if keep_results is not None and (work / "results").is_dir():
            shutil.copytree(work / "results", keep_results / block.name, dirs_exist_ok=True)
    if block.keep:
        text = block.keep(text)
    return "\n".join(ln.rstrip() for ln in text.split("\n")).strip("\n")


# -- the README ----------------------------------------------------------------------------------


@dataclass
class Found:
    name: str
    stamp: dict[str, str]
    start: int  # offset of the start marker
    end: int  # offset just after the end marker
    body: str  # the text inside the code fence


def find_blocks(text: str) -> dict[str, Found]:
    """Every marked block of the README, by name (checks that markers pair up around one code fence)."""
    found: dict[str, Found] = {}
    for m in START_RE.finditer(text):
        name = m.group("name")
        close = f"<!-- /readme:{name} -->"
        end = text.find(close, m.end())
        if end < 0:
            raise ValueError(f"README: block {name!r} has no end marker {close}")
        inner = text[m.end() : end].strip("\n")
        fence = re.fullmatch(r"```[a-z]*\n(.*?)\n?```", inner, re.S)
        if not fence:
            raise ValueError(f"README: block {name!r} must hold exactly one ``` code fence")
        if name in found:
            raise ValueError(f"README: block {name!r} appears twice")
        stamp = dict(kv.split("=", 1) for kv in m.group("stamp").split())
        found[name] = Found(name, stamp, m.start(), end + len(close), fence.group(1))
    return found


def stamp_for(block: Block) -> str:
    if not block.long:
        return ""
    sys.path.insert(0, str(ROOT / "src"))
    from hardtech.provenance import model_version, platform_key

    return f" model={model_version()} platform={platform_key()}"


def render(block: Block, body: str) -> str:
    return f"<!-- readme:{block.name}{stamp_for(block)} -->\n```\n{body}\n```\n<!-- /readme:{block.name} -->"


def normalise(text: str) -> str:
    """What the comparison ignores: timings, run ids, table widths and trailing spaces."""
    text = re.sub(r"\b\d+(?:\.\d+)? ?s\b", "<t> s", text)  # "134 s", "in 1.6 s"
    text = re.sub(r"\b[a-z][a-z0-9_-]*-[0-9a-f]{12}-r\d+\b", "<run id>", text)  # run ids carry the model version
    text = re.sub(r"[─━═]+", "─", text)  # border widths
    text = re.sub(r"[ \t]+", " ", text)  # padding
    return "\n".join(ln.rstrip() for ln in text.strip().split("\n"))


def selected(names: list[str] | None, all_blocks: bool) -> list[Block]:
    if names:
        unknown = [n for n in names if n not in BLOCKS]
        if unknown:
            raise SystemExit(f"unknown block(s): {', '.join(unknown)}; known: {', '.join(BLOCKS)}")
        return [BLOCKS[n] for n in names]
    return [b for b in BLOCKS.values() if all_blocks or not b.long]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="also the long blocks (claims, validate, sweeps)")
    ap.add_argument("--only", help="comma-separated block names")
    ap.add_argument("--check", action="store_true", help="compare with the README instead of writing it")
    ap.add_argument(
        "--reuse",
        type=Path,
        help="a results directory whose stored runs resumable commands reuse (copied; their output says how many)",
    )
    ap.add_argument(
        "--keep-results", type=Path, metavar="DIR", help="copy each block's results/ to DIR/<block> (stores, reports)"
    )
    args = ap.parse_args(argv)
    if args.reuse is not None and not args.reuse.is_dir():
        ap.error(f"--reuse: {args.reuse} is not a directory (give a results directory holding a store)")
    if args.keep_results is not None and args.keep_results.exists() and not args.keep_results.is_dir():
        ap.error(f"--keep-results: {args.keep_results} is a file (give a directory; it is created if missing)")
    text = README.read_text(encoding="utf-8")
    found = find_blocks(text)
    missing = [n for n in BLOCKS if n not in found]
    if missing:
        raise SystemExit(f"README has no markers for block(s): {', '.join(missing)}")
    stray = [n for n in found if n not in BLOCKS]
    if stray:
        raise SystemExit(f"README marks block(s) scripts/readme.py does not know: {', '.join(stray)}")
    blocks = selected(args.only.split(",") if args.only else None, args.all)
    bad = 0
    for block in blocks:
        print(f"{block.name}: running {' / '.join(block.commands) or 'python snippet'}", file=sys.stderr, flush=True)
        body = produce(block, args.reuse, args.keep_results)
        if args.check:
            if normalise(body) != normalise(found[block.name].body):
                bad += 1
                print(f"{block.name}: README differs from today's output", file=sys.stderr)
            continue
        text = README.read_text(encoding="utf-8")
        hit = find_blocks(text)[block.name]
        README.write_text(text[: hit.start] + render(block, body) + text[hit.end :], encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
