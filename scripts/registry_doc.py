"""Write the claims registry (src/hardtech/evidence/registry.toml) into docs/ODD.md §8.

The block between the markers ``<!-- registry:begin -->`` and
``<!-- registry:end -->`` is generated from the registry, so the ODD never
drifts from what `hardtech claims` runs (tests/test_claims.py checks it).

    python scripts/registry_doc.py          # rewrite the block
    python scripts/registry_doc.py --check  # exit 1 if the block is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from hardtech.evidence.registry import claim_ids, registry

BEGIN, END = "<!-- registry:begin -->", "<!-- registry:end -->"
ODD = Path(__file__).resolve().parents[1] / "docs" / "ODD.md"


def _value(v: object) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str) and v.startswith("="):
        return v[1:]  # an expression of the base scenario
    return str(v)


def _overrides(table: dict) -> str:
    if not table:
        return "(the scenario as it is)"
    return "; ".join(f"`{k} = {_value(v)}`" for k, v in table.items())


def render() -> str:
    """The registry as Markdown: one subsection per claim."""
    lines = [
        BEGIN,
        "",
        "_Generated from `src/hardtech/evidence/registry.toml` by `scripts/registry_doc.py`; "
        "`{focal}` is the focal region, `{blocked}` the bloc the blockades target most._",
        "",
    ]
    for cid in claim_ids():
        c = registry()[cid]
        lines += [
            f"#### {cid} — {c['title']}",
            "",
            f"- **Article:** “{c['article']}”",
            f"- **Statement:** {c['statement']}",
            f"- **Channel:** {c['channel']}",
            f"- **Metric:** `{c.get('metric', '')}`; **statistic:** {c.get('statistic_text', '')}"
            + (f" (`{c['statistic']}`)" if "statistic" in c else ""),
        ]
        if "arms" in c:
            lines.append("- **Arms:** " + "; ".join(f"*{name}* {_overrides(over)}" for name, over in c["arms"].items()))
        if "margin" in c:
            m = c["margin"]
            lines.append(
                "- **Equivalence margin:** "
                + (f"±{m['absolute']}" if "absolute" in m else f"±{100 * m['share']:g}% of |{m['of']}|")
            )
        if "control" in c:
            k = c["control"]
            man = k.get("manipulation", {})
            lines.append(f"- **Control (channel off):** {k.get('text', '')} — {_overrides(k.get('overrides', {}))}")
            if man:
                what = (
                    f"between *{man['between'][0]}* and *{man['between'][1]}*"
                    if "between" in man
                    else f"against {man.get('null')}"
                )
                lines.append(
                    f"- **Manipulation check:** `{man['quantity']}` ({man.get('text', '')}) must move {what} "
                    "under the control"
                )
        else:
            lines.append("- **Control:** none (a variance decomposition)")
        a = c.get("ablation", {})
        rules = ", ".join(a.get("rules", []))
        removed = _overrides(a["overrides"]) if a.get("overrides") else ""
        lines.append(
            f"- **Rules added for it (ablation row):** {a.get('note', '')}"
            + (f" — ablation: {removed}" if rules else "")
        )
        for s in c.get("sweep", []):
            lines.append(f"- **Sweep row:** {s['label']} — {_overrides(s.get('overrides', {}))}")
        lines.append("- **History:**")
        for h in c.get("history", []):
            commit = f" ({h['commit']})" if "commit" in h else ""
            lines.append(f"  - {h['date']}{commit}: {h['change']}")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def updated(text: str) -> str:
    """``text`` (the ODD) with its registry block replaced by a fresh one."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + render() + text[end:]


def main(argv: list[str]) -> int:
    text = ODD.read_text(encoding="utf-8")
    fresh = updated(text)
    if "--check" in argv:
        if fresh != text:
            print("docs/ODD.md §8 is stale: run `python scripts/registry_doc.py`", file=sys.stderr)
            return 1
        return 0
    ODD.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
