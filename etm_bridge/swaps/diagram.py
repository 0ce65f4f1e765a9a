"""State diagrams generated from the transition table, for ``docs/swaps.md``.

The docs never describe the lifecycle by hand: the section between the markers below is
rendered from :data:`etm_bridge.swaps.core.fsm.TABLES`, and a unit test fails if the committed doc
differs from a fresh rendering. Regenerate with::

    .venv/bin/python -m etm_bridge.swaps.diagram docs/swaps.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ValidationError
from .core.fsm import (
    POINT_OF_NO_RETURN,
    REORG_EVENTS,
    TABLES,
    Event,
    SwapDirection,
    SwapState,
)
from .core.states import TERMINAL, progress_rank

BEGIN = "<!-- BEGIN GENERATED: swap state diagrams (python -m etm_bridge.swaps.diagram) -->"
END = "<!-- END GENERATED: swap state diagrams -->"

_TITLES = {
    SwapDirection.FOREIGN_TO_ETM: "foreign chain -> ETM (user locks the foreign asset)",
    SwapDirection.ETM_TO_FOREIGN: "ETM -> foreign chain (user locks ETM)",
}


def _edge_order(item: tuple[tuple[SwapState, Event], SwapState]) -> tuple[bool, int, str, str]:
    (state, event), _ = item
    return (event in REORG_EVENTS, progress_rank(state), state.value, event.value)


def render_mermaid(direction: SwapDirection) -> str:
    """A Mermaid ``stateDiagram-v2`` of ``direction``'s table (reorg edges marked)."""
    table = TABLES[direction]
    lines = ["stateDiagram-v2", f"    [*] --> {SwapState.CREATED.value}"]
    for (state, event), target in sorted(table.items(), key=_edge_order):
        label = f"{event.value} (reorg)" if event in REORG_EVENTS else event.value
        lines.append(f"    {state.value} --> {target.value}: {label}")
    for state in sorted(TERMINAL, key=lambda s: s.value):
        lines.append(f"    {state.value} --> [*]")
    lines.append(f"    note right of {POINT_OF_NO_RETURN.value}: point of no return")
    return "\n".join(lines)


def render_table(direction: SwapDirection) -> str:
    """The same table as Markdown rows, for readers without a Mermaid renderer."""
    rows = ["| state | event | next state |", "|---|---|---|"]
    for (state, event), target in sorted(
        TABLES[direction].items(), key=lambda kv: (kv[0][0].value, kv[0][1].value)
    ):
        rows.append(f"| {state.value} | {event.value} | {target.value} |")
    return "\n".join(rows)


def render_section() -> str:
    """The whole generated section, markers included."""
    parts = [BEGIN, ""]
    for direction in SwapDirection:
        parts += [
            f"### {_TITLES[direction]}",
            "",
            "```mermaid",
            render_mermaid(direction),
            "```",
            "",
            "<details><summary>transition table</summary>",
            "",
            render_table(direction),
            "",
            "</details>",
            "",
        ]
    parts.append(END)
    return "\n".join(parts)


def splice(doc: str) -> str:
    """``doc`` with its generated section replaced by a fresh rendering."""
    if BEGIN not in doc or END not in doc:
        raise ValidationError(f"the doc has no generated section; add the lines\n{BEGIN}\n{END}")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + render_section() + tail


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "docs/swaps.md")
    path.write_text(splice(path.read_text()))
    print(f"wrote the swap state diagrams into {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
