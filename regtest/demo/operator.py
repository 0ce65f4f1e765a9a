"""The local stack's pool operator as a swap engine (``etm-bridge stack operator``).

``etm-bridge demo`` keeps its parties' keys in ``<stack>/demo/parties.json`` (mode 0600) and the
ETH pool operator's key in the stack's ``eth_pool.json``; the pools it creates are claimed by
that operator. :func:`operator_engine` rebuilds the operator's adapters and watcher from those
files (the same database and adapter data dirs the demo used), so a user who swaps with the
CLI after ``make demo`` has a counterparty: ``etm-bridge stack operator`` runs it like
``etm-bridge watch --operator``, and after each tick pays the pools' withdrawal obligations
(:func:`obligation_payer`: the generic use case
:func:`etm_bridge.app.obligation_payments.pay_obligations`, for every asset whose chain profile
says how, so Bitcoin and Handshake withdrawals alike). It talks to every ETM node of the stack
(a NodeSet): with one node down it still works. Development only: the keys are plain files of
the stack.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from etm_bridge.app import watch as watching
from etm_bridge.app.context import AppContext
from etm_bridge.app.obligation_payments import PaidObligation, pay_obligations, payable_assets
from etm_bridge.errors import NotFoundError, StackError
from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.swaps.runtime.watcher import Watcher

from ..bitcoin import BitcoinNode
from ..stack import StackConfig, load_state, not_answering, status
from ..stack_relays import hsd_node
from .engines import CONFIG
from .hns import hns_setup
from .parties import BitcoinRpc, World
from .scenario import eth_setup, etm_urls, load_parties

#: the operator's record of the obligation payments it made (``pay_obligations``' journal)
JOURNAL = "obligation_payments.json"


def operator_engine(config: StackConfig) -> tuple[AppContext, Watcher]:
    """The demo operator's use-case context and watcher on the running stack; StackError if
    none."""
    report = status(config)
    down = not_answering(report)
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
    world = World(rpc, etm_urls(report["etm"]), birth)
    world.eth = eth_setup(report, parties)
    hsd, _why = hns_setup(report, world)  # no hsd: the operator runs without its HNS pool
    if hsd is not None:
        hsd.close()
    relayer = world.eth.relayer if world.eth is not None else None
    ctx = world.context(parties["operator"], None, CONFIG.policy, relayer)
    watcher = watching.open_watcher(ctx, operator=True, config=CONFIG, owner="operator")
    return ctx, watcher


def block_miner(config: StackConfig) -> tuple[Callable[[], None], Callable[[], None]]:
    """(mine, close): ``mine`` makes one regtest Bitcoin block, one anvil block and one hsd
    block when hsd runs (regtest has no miners and anvil mines only on transactions:
    confirmations and timelocks need blocks)."""
    state = load_state(config)
    b = state["bitcoin"]
    node = BitcoinNode(rpc_url=b["rpc_url"], rpc_user=b["rpc_user"],
                       rpc_password=b["rpc_password"], kind=b["kind"])  # fmt: skip
    anvil = JsonRpcClient(state["anvil"]["rpc_url"], version="2.0", timeout_s=10.0)
    hsd = hsd_node(state.get("hsd") or {})

    def mine() -> None:
        node.mine(1)
        anvil.call("evm_mine")
        if hsd is not None:
            hsd.mine(1)

    def close() -> None:
        anvil.close()
        if hsd is not None:
            hsd.close()

    return mine, close


def journal_path(config: StackConfig) -> Path:
    """Where the demo's operator records the obligation payments it made."""
    return config.state_dir / "demo" / "operator" / JOURNAL


def obligation_payer(
    ctx: AppContext, journal: Path, mine: Callable[[], None]
) -> Callable[[], list[PaidObligation]]:
    """``pay()``: pay and prove every open withdrawal obligation of the pools this operator
    runs, on every chain whose profile says how (no chain named here); ``mine`` makes the
    confirmations the pool needs on the development chains."""
    me = ctx.exchange().etm_address()

    def pay() -> list[PaidObligation]:
        paid: list[PaidObligation] = []
        for asset in payable_assets():
            try:
                if ctx.node().pool(asset)["operator"] != me:
                    continue
            except NotFoundError:
                continue  # no such pool on this stack
            paid += pay_obligations(ctx, asset, journal, timeout_s=120,
                                    after_pay=lambda n: [mine() for _ in range(n)])  # fmt: skip
        return paid

    return pay


def close_engine(ctx: AppContext) -> None:
    """Close the operator's adapters and context."""
    for adapter in ctx.given.values():
        adapter.close()
    ctx.close()
