"""The demo's Handshake pool on the stack's hsd regtest node (not a verb module).

Run when the stack runs hsd and its ETM genesis relays Handshake (``hsd`` in the ``stack up``
report, ``/api/spv/hns`` answering); otherwise :func:`hns_setup` says why and the demo runs
without it. :func:`prepare_hns` is the BTC pool's preparation on another chain, through the same
use cases: HNS from hsd's faucet wallet (two coins per party, so a lock and its fee never wait
for change), the pool created once by the demo's operator (its Handshake key claims swaps and
receives deposits), the investor and the user bind their Handshake keys once, and the investor
deposits HNS (paid on hsd, relayed and SPV-proven on ETM by ``lp_deposit``) and ETM.
"""

from __future__ import annotations

from typing import Any

from etm_bridge.app import binding, liquidity
from etm_bridge.errors import ChainError, NotFoundError
from etm_bridge.units import ETM

from ..hsd import HsdNode
from ..stack_relays import hsd_node
from .parties import ETM_FEE, HnsRpc, Party, World

HNS = 1_000_000  # doo
DEPOSIT_DOO, DEPOSIT_ETM, SWAP_IN_DOO = 20 * HNS, 100 * ETM, 2 * HNS
FUNDING_DOO = 2 * DEPOSIT_DOO
FEE_PPM = 3_000
LEG = "handshake"
HNS_PENDING = "HNS -> ETM not run: {why}"


def hns_setup(report: dict[str, Any], world: World) -> tuple[HsdNode | None, str]:
    """(the stack's hsd, "") when the demo can run its HNS pool, else (None, why not)."""
    hsd = report.get("hsd") or {}
    if not hsd.get("rpc_url"):
        return None, str(hsd.get("headline") or "the stack runs no hsd")
    try:
        world.client.spv_relay("hns")
    except NotFoundError:
        return None, (
            "this stack's ETM genesis has no Handshake relay (made before hsd could run here: "
            "`etm-bridge stack down`, delete the stack dir, rerun)"
        )
    node = hsd_node(hsd)
    assert node is not None
    world.hns = HnsRpc(node.rpc_url, node.api_key)
    return node, ""


def prepare_hns(world: World, hsd: HsdNode, parties: dict[str, Party], say: Any) -> None:
    """Fund, create the HNS pool (once), bind (once), deposit."""
    client = world.client
    for party in parties.values():
        adapter = world.hns_adapter(party)
        try:
            for _ in range(2):
                hsd.fund(adapter.address(), FUNDING_DOO // 2, confirm=False)
        finally:
            adapter.close()
    hsd.mine(1)
    say(f"funded the parties with {FUNDING_DOO // HNS} HNS each from hsd's faucet")
    operator = parties["operator"]
    if not any(p["asset"] == "hns" for p in client.pools()):
        ctx = world.context(operator, {"etm": world.etm_adapter(operator)})
        liquidity.create_pool(ctx, "hns", fee_ppm=FEE_PPM, min_confirmations=1, fee=ETM_FEE)
        say(f"operator created the HNS pool (fee {FEE_PPM} ppm, 1 confirmation)")
    for name in ("investor", "user"):
        party = parties[name]
        if client.bindings(party.etm_address).get("hns") is None:
            ctx = world.context(party, {"etm": world.etm_adapter(party)})
            binding.bind(ctx, "hns", fee=ETM_FEE)
            say(f"{name} bound its Handshake key to {party.etm_address}")
    investor = parties["investor"]
    adapter = world.hns_adapter(investor)
    ctx = world.context(investor, {LEG: adapter, "etm": world.etm_adapter(investor)})
    try:
        done = liquidity.lp_deposit(ctx, "hns", DEPOSIT_DOO, etm_max=DEPOSIT_ETM, fee=ETM_FEE,
                                    after_pay=hsd.mine, timeout_s=60)  # fmt: skip
    finally:
        adapter.close()
    if done.tx.status != "confirmed":
        raise ChainError(f"HNS deposit not confirmed: {done.tx}")
    say(f"investor deposited {DEPOSIT_DOO // HNS} HNS (hsd tx {done.txid[:16]}..., SPV-proven) "
        "+ 100 ETM")  # fmt: skip
