"""The local stack's pool operator as a swap engine (``etm-bridge stack operator``).

``etm-bridge demo`` keeps its parties' keys in ``<stack>/demo/parties.json`` (mode 0600) and the
ETH pool operator's key in the stack's ``eth_pool.json``; the pools it creates are claimed by
that operator. :func:`operator_engine` rebuilds the operator's adapters and watcher from those
files (the same database and adapter data dirs the demo used), so a user who swaps with the
CLI after ``make demo`` has a counterparty: ``etm-bridge stack operator`` runs it like
``etm-bridge watch --operator``. Development only: the keys are plain files of the stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etm_bridge.app import watch as watching
from etm_bridge.app.context import AppContext
from etm_bridge.errors import StackError
from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.swaps.runtime.watcher import Watcher

from ..bitcoin import BitcoinNode
from ..stack import StackConfig, load_state, status
from .engines import CONFIG
from .parties import BitcoinRpc, World
from .scenario import eth_setup, load_parties


def operator_engine(config: StackConfig) -> tuple[AppContext, Watcher]:
    """The demo operator's use-case context and watcher on the running stack; StackError if
    none."""
    report = status(config)
    down = [name for name, info in report.items() if not info.get("answering")]
    if down:
        raise StackError(f"the local stack is not answering ({', '.join(down)}): run "
                         "`etm-bridge stack up`")  # fmt: skip
    root = config.state_dir / "demo"
    if not (root / "parties.json").exists():
        raise StackError(
            f"no pool operator on this stack ({root / 'parties.json'} is missing): "
            "run `etm-bridge demo` first, it creates and funds the pools"
        )
    parties, birth = load_parties(root, 0)
    b: dict[str, Any] = report["bitcoin"]
    rpc = BitcoinRpc(b["rpc_url"], b["rpc_user"], b["rpc_password"])
    world = World(rpc, report["etm"]["rpc_url"], birth)
    world.eth = eth_setup(report, parties)
    relayer = world.eth.relayer if world.eth is not None else None
    ctx = world.context(parties["operator"], None, CONFIG.policy, relayer)
    watcher = watching.open_watcher(ctx, operator=True, config=CONFIG, owner="operator")
    return ctx, watcher


def block_miner(config: StackConfig) -> tuple[Callable[[], None], Callable[[], None]]:
    """(mine, close): ``mine`` makes one regtest Bitcoin block and one anvil block (regtest has
    no miners and anvil mines only on transactions: confirmations and timelocks need blocks)."""
    state = load_state(config)
    b = state["bitcoin"]
    node = BitcoinNode(rpc_url=b["rpc_url"], rpc_user=b["rpc_user"],
                       rpc_password=b["rpc_password"], kind=b["kind"])  # fmt: skip
    anvil = JsonRpcClient(state["anvil"]["rpc_url"], version="2.0", timeout_s=10.0)

    def mine() -> None:
        node.mine(1)
        anvil.call("evm_mine")

    return mine, anvil.close


def close_engine(ctx: AppContext) -> None:
    """Close the operator's adapters and context."""
    for adapter in ctx.given.values():
        adapter.close()
    ctx.close()
