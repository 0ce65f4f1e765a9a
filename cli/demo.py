"""``etm-bridge demo``: the product on the local stack, for real, with no arguments.

The scenario is :mod:`etm_bridge_regtest.demo.scenario` (start the stack, fund the parties,
create the pools, invest, run pool swaps and an abandoned direct one); this verb prints its
progress and the table of results (or ``--json``). The user's swaps go to the swap engine's
default database (``<home>/swaps.db``), so ``etm-bridge swap list --json`` shows them afterwards.
"""

from __future__ import annotations

import json
import sys
import time

import click
from rich.console import Console
from rich.table import Table

from .context import get_config
from .options import home_option


def _table(rows: list[dict], network: dict) -> Table:
    table = Table(
        title="Swaps on the local stack (read back from the chains and the ETM nodes)",
        caption=f"ETM network: {network['nodes']} nodes ({network['answering']} answering), "
        f"final height {network['final_height']}",
    )
    columns = ("swap", "state", "paid", "received", "fee",
               "share_value_before", "share_value_after", "seconds")  # fmt: skip
    headers = ("swap id", "swap", "state", "paid", "received", "fee paid",
               "share value before (ppb)", "share value after (ppb)", "time (s)")  # fmt: skip
    for header in headers:
        table.add_column(header, no_wrap=header != "swap")
    for row in rows:
        table.add_row(row["swap_id"], *(str(row[c]) for c in columns))
    return table


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@home_option
def group(as_json: bool) -> None:
    """Start the local stack, fund, invest, run pool swaps and an abandoned one; print a table."""
    from etm_bridge_regtest import stack as regtest_stack
    from etm_bridge_regtest.demo import scenario

    console = Console(width=None if sys.stdout.isatty() else 200, stderr=as_json)
    say = console.print
    started = time.monotonic()
    user_db = get_config().home.swaps_db
    out = scenario.run(regtest_stack.StackConfig.from_env(), user_db, say)
    total = round(time.monotonic() - started, 1)
    if as_json:
        click.echo(json.dumps({**out, "seconds": total}, indent=2, sort_keys=True))
        return
    say(_table(out["swaps"], out["network"]))
    say(f"done in {total} s. `etm-bridge swap list --json` shows these swaps (database "
        f"{user_db}); the stack keeps running (`etm-bridge stack down`).")  # fmt: skip
