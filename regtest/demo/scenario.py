"""The demo scenario (``etm-bridge demo``): the product on the local stack, for real.

1. Start (or reuse) the local stack: Bitcoin regtest, anvil, the ETM node (SPV relays and the
   exchange plug-ins in its genesis).
2. The demo's parties (operator, investor, user; keys kept in ``<stack>/demo/parties.json``,
   mode 0600, so a second run reuses the same pool operator) get ETM from a development account
   and BTC from the regtest faucet. The operator creates the BTC pool (once), the investor and
   the user bind their Bitcoin keys, the investor deposits BTC (paid on Bitcoin, SPV-proven on
   ETM) and ETM into the pool. Likewise for the ETH pool, whose operator key and contracts
   (EtherSwapHTLC, PoolVault) the stack deployed on anvil and named in the ETM genesis
   (``etm_bridge_regtest.eth_pool``): ether from anvil, a PoolVault deposit proven on ETM.
3. Swaps, each driven by the user's and the operator's swap engines (watchers) to its end:
   BTC -> ETM, ETM -> BTC and ETH -> ETM through the pools (no counterparty: the exchange
   contract is one), and a direct BTC -> ETM offer the counterparty abandons, which refunds by
   itself at its Bitcoin timelock.
4. A table: swap, direction, amounts (read from the locks on the chains), fee (the pool's fee
   counters on ETM before/after), the pool's share value sqrt(x*y)/S before/after, time.

Short regtest settings (documented in docs/swaps.md): pool confirmations 1, regtest blocks mined
by the demo as soon as the engines have acted (their nominal 10 min still count for timelocks),
1-second ETM blocks, anvil mining on every transaction. The user's swaps are in the swap
engine's default database, so ``etm-bridge swap list --json`` shows them afterwards. A stack
made before the ETH pool contracts existed skips ETH -> ETM and says why (``ETH_PENDING``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from math import isqrt
from pathlib import Path
from typing import Any

from eth_account import Account

from etm_bridge.adapter import LockState
from etm_bridge.app.context import AppContext
from etm_bridge.chain.keys import dev_key
from etm_bridge.errors import NodeUnavailableError, StackError
from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.node.client import NodeClient
from etm_bridge.private_files import read_private, write_private
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import SwapTerms
from etm_bridge.units import ETM, format_amount

from .. import stack as regtest_stack
from ..bitcoin import BitcoinNode
from ..hsd import HsdNode
from .engines import PoolSwaps
from .hns import HNS_PENDING, SWAP_IN_DOO, hns_setup, prepare_hns
from .parties import BitcoinRpc, EthSetup, Party, World

#: Each run's deposits (0.2 BTC + 2000 ETM, 20 ETH + 2000 ETM: 10,000 and 100 ETM per coin):
#: deep enough that the README's swaps (0.001 BTC, 5 ETM, 0.01 ETH) move a pool by under 1 %,
#: the price impact `swap start` accepts without --max-slippage (issue 15).
DEPOSIT_SAT, DEPOSIT_ETM = 20_000_000, 2_000 * ETM
SWAP_IN_SAT, SWAP_OUT_ETM, ABANDONED_SAT = 100_000, 5 * ETM, 50_000
DEPOSIT_WEI, SWAP_IN_WEI = 20 * 10**18, 10**16
#: What each party is given per run: the investor's deposits in both pools and the HNS one, fees.
FUND_ETM, FUND_SAT = 5_000 * ETM, DEPOSIT_SAT + 5_000_000
FEE_PPM = 3_000
ETH_PENDING = (
    "ETH -> ETM not run: this stack's ETM genesis names no EtherSwap HTLC / PoolVault "
    "(made before the stack deployed them: `etm-bridge stack down`, delete the stack dir, rerun)"
)


def share_value(pool: dict[str, Any]) -> int:
    """sqrt(x * y) / S in billionths (x, y: effective reserves): what swap fees raise. Parts per
    billion, because one demo swap's fee moves a deep pool's share by less than a millionth
    (0.00003 ETH of fee in a 20 ETH pool: 0.75 ppm)."""
    x, y = int(pool["effective_asset"]), int(pool["effective_etm"])
    return isqrt(x * y) * 1_000_000_000 // int(pool["total_shares"])


def load_parties(root: Path, height: int) -> tuple[dict[str, Party], int]:
    """The demo's parties and their Bitcoin birth height, made once per stack and kept
    (mode 0600) for later runs: the same operator runs the pool, and the adapters keep seeing
    the earlier runs' locks (a lock below an adapter's birth height is invisible to it)."""
    path = root / "parties.json"
    text = read_private(path)  # never through a planted symlink: these are the parties' keys
    if text is not None:
        saved = json.loads(text)
        parties = {
            n: Party(n, bytes.fromhex(p["etm_seed"]), bytes.fromhex(p["btc_secret"]), root / n,
                     bytes.fromhex(p.get("eth_secret", "")), bytes.fromhex(p.get("hns_secret", "")))
            for n, p in saved["parties"].items()
        }  # fmt: skip
        if any(not p.hns_secret for p in parties.values()):  # saved before the HNS pool
            draw = AppContext().new_secret
            parties = {n: replace(p, hns_secret=p.hns_secret or draw())
                       for n, p in parties.items()}  # fmt: skip
            _save_parties(path, parties, int(saved["birth_height"]), overwrite=True)
        return parties, int(saved["birth_height"])
    parties = {n: Party.new(n, root) for n in ("operator", "investor", "user")}
    _save_parties(path, parties, height, overwrite=False)
    return parties, height


def _save_parties(path: Path, parties: dict[str, Party], height: int, *, overwrite: bool) -> None:
    keys = {n: {"etm_seed": p.etm_seed.hex(), "btc_secret": p.btc_secret.hex(),
                "eth_secret": p.eth_secret.hex(), "hns_secret": p.hns_secret.hex()}
            for n, p in parties.items()}  # fmt: skip
    write_private(path, json.dumps({"parties": keys, "birth_height": height}),
                  overwrite=overwrite)  # fmt: skip


def prepare(world: World, btc: BitcoinNode, parties: dict[str, Party], say: Any) -> None:
    """Fund, create the pool (once), bind (once), deposit."""
    client = world.client
    for party in parties.values():
        world.fund_etm(party, FUND_ETM)
        adapter = world.btc_adapter(party)
        btc.fund(adapter.address(), FUND_SAT)
        adapter.close()
        say(
            f"funded {party.name}: {format_amount(FUND_ETM, 'etm')} ({party.etm_address}), "
            f"{format_amount(FUND_SAT, 'btc')}"
        )
    if not any(p["asset"] == "btc" for p in client.pools()):
        world.create_pool(parties["operator"], "btc", FEE_PPM, 1)
        say(f"operator created the BTC pool (fee {FEE_PPM} ppm, 1 confirmation)")
    for name in ("investor", "user"):
        if client.bindings(parties[name].etm_address).get("btc") is None:
            world.bind_btc(parties[name])
            say(f"{name} bound its Bitcoin key to {parties[name].etm_address}")
    txid = world.deposit_btc(parties["investor"], DEPOSIT_SAT, DEPOSIT_ETM, btc.mine)
    say(
        f"investor deposited {format_amount(DEPOSIT_SAT, 'btc')} (bitcoin tx {txid[:16]}..., "
        f"SPV-proven) + {format_amount(DEPOSIT_ETM, 'etm')}"
    )
    if world.eth is not None:
        prepare_eth(world, parties, say)


def prepare_eth(world: World, parties: dict[str, Party], say: Any) -> None:
    """The ETH pool: ether from anvil, the pool (once), bindings (once), a vault deposit."""
    assert world.eth is not None
    anvil = JsonRpcClient(world.eth.rpc_url, version="2.0", timeout_s=30.0)
    try:
        for name in ("operator", "investor", "user"):
            address = Account.from_key(parties[name].eth_secret).address
            anvil.call("anvil_setBalance", address, hex(100 * 10**18))
        client = world.client
        if not any(p["asset"] == "eth" for p in client.pools()):
            world.create_pool(parties["operator"], "eth", FEE_PPM, 1)
            say("operator created the ETH pool (its PoolVault is named in the ETM genesis)")
        for name in ("investor", "user"):
            if client.bindings(parties[name].etm_address).get("eth") is None:
                world.bind_eth(parties[name])
                say(f"{name} bound its Ethereum address to {parties[name].etm_address}")
        tx = world.deposit_eth(parties["investor"], DEPOSIT_WEI, DEPOSIT_ETM,
                               lambda n: anvil.call("anvil_mine", hex(n)))  # fmt: skip
    finally:
        anvil.close()
    say(
        f"investor deposited {format_amount(DEPOSIT_WEI, 'eth')} through the PoolVault "
        f"(tx {tx[:18]}..., proven) + {format_amount(DEPOSIT_ETM, 'etm')}"
    )


def eth_setup(report: dict[str, Any], parties: dict[str, Party]) -> EthSetup | None:
    """The stack's ETH pool contracts; the operator's Ethereum key is the vault's operator."""
    pool = report["etm"].get("eth_pool")
    if not pool:
        return None
    text = read_private(Path(pool["file"]))
    if text is None:
        raise StackError(f"{pool['file']} is missing: `etm-bridge stack down`, then rerun")
    saved = json.loads(text)
    parties["operator"] = replace(
        parties["operator"], eth_secret=bytes.fromhex(saved["operator_key"][2:])
    )
    return EthSetup(report["anvil"]["rpc_url"], saved["htlc_address"], int(saved["htlc_block"]),
                    saved["vault"], dev_key("user-0"))  # fmt: skip


def amounts(swaps: PoolSwaps, terms: SwapTerms) -> tuple[int, int | None]:
    """(amount the user locked, amount the counter lock paid) as the chains show them."""
    user_leg, counter_leg = terms.user_leg, terms.counter_leg
    mine = swaps.user_ad[user_leg.chain].find_locks(terms.hashlock)
    theirs = swaps.user_ad[counter_leg.chain].find_locks(terms.hashlock)
    paid = next((lk.terms.amount for lk in theirs if lk.state is LockState.CLAIMED), None)
    return (mine[0].terms.amount if mine else 0), paid


def fee_text(pool: str, fee_asset: int, fee_etm: int) -> str:
    if fee_asset:
        return format_amount(fee_asset, pool)
    return format_amount(fee_etm, "etm") if fee_etm else "none"


def row(
    swaps: PoolSwaps, terms: SwapTerms, label: str, before: dict, secs: float, pool: str = "btc"
) -> dict:
    after = swaps.client.pool(pool)
    locked, received = amounts(swaps, terms)
    u, c = terms.user_leg.chain, terms.counter_leg.chain
    asset = {"bitcoin": "btc", "etm": "etm", "ethereum": "eth", "handshake": "hns"}
    fee_asset = int(after["fees_asset"]) - int(before["fees_asset"])
    fee_etm = int(after["fees_etm"]) - int(before["fees_etm"])
    return {
        "swap_id": terms.swap_id,
        "swap": label,
        "direction": f"{u} -> {c}",
        "state": swaps.state(terms.swap_id).value,
        "paid": format_amount(locked, asset[u]),
        "received": format_amount(received, asset[c]) if received is not None else "refunded",
        "fee": fee_text(pool, fee_asset, fee_etm),
        "share_value_before": share_value(before),
        "share_value_after": share_value(after),
        "seconds": round(secs, 1),
    }


def run_swaps(
    swaps: PoolSwaps, say: Any, hns_mine: Callable[[int], object] | None = None
) -> list[dict]:
    """The demo's swaps; ``hns_mine`` mines Bitcoin and hsd blocks while the HNS swap runs (the
    other swaps mine Bitcoin only: hsd blocks they do not need would slow every tick)."""
    rows, done = [], {SwapState.CLAIMED_BOTH}
    both = (Role.USER, Role.OPERATOR)
    for label, start in (
        ("BTC -> ETM (pool)", lambda: swaps.start_swap_in(SWAP_IN_SAT)),
        ("ETM -> BTC (pool)", lambda: swaps.start_swap_out(SWAP_OUT_ETM)),
    ):
        before = swaps.client.pool("btc")
        terms = start()
        say(f"{label}: swap {terms.swap_id} started")
        secs = swaps.run_until(terms.swap_id, done, roles=both, timeout_s=150)
        rows.append(row(swaps, terms, label, before, secs))
        say(f"{label}: claimed on both chains in {secs:.1f} s")
    if swaps.world.eth is not None:
        before = swaps.client.pool("eth")
        terms = swaps.start_swap_in(SWAP_IN_WEI, "eth")
        say(f"ETH -> ETM (pool): swap {terms.swap_id} started")
        secs = swaps.run_until(terms.swap_id, done, roles=both, timeout_s=150)
        rows.append(row(swaps, terms, "ETH -> ETM (pool)", before, secs, "eth"))
        say(f"ETH -> ETM (pool): claimed on both chains in {secs:.1f} s")
    if swaps.world.hns is not None and hns_mine is not None:
        before = swaps.client.pool("hns")
        terms = swaps.start_swap_in(SWAP_IN_DOO, "hns")
        say(f"HNS -> ETM (pool): swap {terms.swap_id} started")
        btc_mine, swaps.mine = swaps.mine, hns_mine
        try:
            secs = swaps.run_until(terms.swap_id, done, roles=both, timeout_s=150)
        finally:
            swaps.mine = btc_mine
        rows.append(row(swaps, terms, "HNS -> ETM (pool)", before, secs, "hns"))
        say(f"HNS -> ETM (pool): claimed on both chains in {secs:.1f} s")
    before = swaps.client.pool("btc")
    terms = swaps.start_abandoned(ABANDONED_SAT, 1 * ETM)
    say(f"abandoned BTC -> ETM offer {terms.swap_id}: the counterparty never locks ETM")
    secs = swaps.run_until(terms.swap_id, {SwapState.REFUNDED}, timeout_s=150, mine_blocks=3)
    rows.append(row(swaps, terms, "BTC -> ETM (abandoned)", before, secs))
    say(f"abandoned swap refunded on Bitcoin at its timelock after {secs:.1f} s")
    return rows


def run(config: regtest_stack.StackConfig, swaps_db: Path, say: Callable[[Any], object]) -> dict:
    """The whole scenario on the stack of ``config`` (started if it is not running), the user's
    swaps kept in ``swaps_db``; ``say`` reports progress. -> ``{"swaps": rows, "pool": the
    BTC pool after them, "swaps_db": path}``; a row per swap as the table shows it."""
    say(f"[bold]Starting the local stack[/bold] (state in {config.state_dir})")
    report = regtest_stack.up(config)
    b = report["bitcoin"]
    btc = BitcoinNode(rpc_url=b["rpc_url"], rpc_user=b["rpc_user"],
                      rpc_password=b["rpc_password"], kind=b["kind"],
                      faucet=b.get("faucet_address"))  # fmt: skip
    if btc.height() < 101:
        btc.mine(101 - btc.height())
    rpc = BitcoinRpc(btc.rpc_url, btc.rpc_user, btc.rpc_password)
    parties, birth = load_parties(config.state_dir / "demo", btc.height())
    world = World(rpc, etm_urls(report["etm"]), birth)
    world.eth = eth_setup(report, parties)
    hsd, no_hns = hns_setup(report, world)
    prepare(world, btc, parties, say)
    if hsd is not None:
        prepare_hns(world, hsd, parties, say)
    swaps_db.parent.mkdir(parents=True, exist_ok=True)
    swaps = PoolSwaps(world, parties["user"], parties["operator"], swaps_db, btc.mine)
    try:
        rows = run_swaps(swaps, say, block_miner(btc, hsd) if hsd is not None else None)
    finally:
        swaps.close()
        if hsd is not None:
            hsd.close()
    if world.eth is None:
        say(ETH_PENDING)
    if hsd is None:
        say(HNS_PENDING.format(why=no_hns))
    return {"swaps": rows, "pool": world.client.pool("btc"), "swaps_db": str(swaps_db),
            "network": network_summary(report["etm"])}  # fmt: skip


def etm_urls(etm: Mapping[str, Any]) -> list[str]:
    """Every ETM node of the stack (the demo reads and writes through all of them)."""
    return [str(u) for u in etm.get("urls") or [etm["rpc_url"]]]


def block_miner(btc: BitcoinNode, hsd: HsdNode | None) -> Callable[[int], None]:
    """Mine ``n`` blocks on each regtest proof-of-work chain of the stack (Bitcoin, and hsd
    when the demo runs its HNS pool): confirmations and timelocks need blocks."""

    def mine(n: int) -> None:
        btc.mine(n)
        if hsd is not None:
            hsd.mine(n)

    return mine


def network_summary(etm: Mapping[str, Any]) -> dict[str, Any]:
    """The ETM network the swaps ran on: its nodes, how many answer, and the final height
    (the lowest any answering node reports: every node has finalized at least that)."""
    urls = etm_urls(etm)
    finals = []
    for url in urls:
        try:
            finals.append(int(NodeClient(url, timeout_s=5.0).status()["finalizedHeight"]))
        except NodeUnavailableError:
            continue
    return {"nodes": len(urls), "answering": len(finals),
            "final_height": min(finals) if finals else None}  # fmt: skip
