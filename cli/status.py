"""``etm-bridge status``: the open swaps, the next deadline, what needs you, node health.

The picture is :func:`etm_bridge.app.status.status`'s; this module renders it (``--json``: the
same object). A node that is down is a row here, not an error: ``status`` is what to run when
something is wrong. Opening the chain adapters needs the keystore passphrase, as ``swap
explain`` does.
"""

from __future__ import annotations

from typing import Any

import click

from etm_bridge.app import status as looking
from etm_bridge.app.context import AppContext
from etm_bridge.app.swaps import asset_of_leg

from .context import app_context
from .options import common_options, emit, json_option, passphrase_option
from .output import display_amount


def shower(ctx: AppContext) -> looking.Show:
    """Amounts of a leg at display precision (:func:`.output.display_amount`)."""

    def show(chain: str, value: int) -> str:
        asset = asset_of_leg(ctx, chain)
        return display_amount(value, asset) if asset is not None else f"{value} base units"

    return show


def _text(picture: dict[str, Any]) -> str:
    lines = []
    swaps = picture["open_swaps"]
    lines.append(f"open swaps: {len(swaps)}" + ("" if picture["watcher_running"] or not swaps
                                                 else " (no watcher running!)"))  # fmt: skip
    for s in swaps:
        lines.append(f"  {s['swap_id']} ({s['role']}): {s['gives']} for {s['gets']}")
        lines.append(f"    {s['says']}")
        d = s["next_deadline"]
        if d is not None:
            lines.append(f"    next deadline: {d['chain']} height {d['height']} "
                         f"({d['blocks_left']} blocks, {d['about']}): {d['what']}")  # fmt: skip
    d = picture["next_deadline"]
    soonest = (
        "none"
        if d is None
        else (f"swap {d['swap_id']}, {d['chain']} height {d['height']}, {d['about']}")
    )
    lines.append(f"next deadline: {soonest}")
    needs = picture["needs_you"]
    lines.append("needs you: " + ("nothing" if not needs else ""))
    lines += [f"  {n['swap_id']}: {n['what']}" for n in needs]
    lines.append("nodes:")
    for n in picture["nodes"]:
        health = f"ok, height {n['height']}" if n["ok"] else f"UNREACHABLE ({n['error']})"
        lines.append(f"  {n['chain']:<8} {n['kind']} node at {n['endpoint']}: {health}")
    return "\n".join(lines)


@click.command("status")
@common_options
@passphrase_option
@json_option
def group(as_json: bool) -> None:
    """Open swaps, the next deadline, what needs you, and node health."""
    ctx = app_context(engine=True)
    picture = looking.status(ctx, shower(ctx))
    emit(picture, as_json, _text(picture))
