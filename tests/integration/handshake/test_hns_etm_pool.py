"""Handshake through the seam on real nodes: the session's hsd regtest node and an ETM node
process whose genesis starts the Handshake relay at regtest's genesis block
(``init_node(spv=SpvSection({"hns": ...}))``, what ``node init --hns-network regtest`` writes).

- hsd's headers relayed into the ETM node by the generic header feed, and a reorg made on hsd
  with ``invalidateblock`` followed by the relay (only the new branch is sent);
- an HNS pool: created, an LP deposit proven on ETM (the adapter's PAYMENTS), HNS -> ETM and
  ETM -> HNS pool swaps to ``claimed_both`` for the user's and the operator's engines (the same
  use cases and watchers as the BTC pool), then the LP withdraws;
- attacks on the lock proof, each refused by the ETM node: a lock whose HTLC refunds to a key
  other than the one input 0 spends with, and a proof from a block the relay holds on a side
  branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import isqrt
from pathlib import Path
from typing import Any

import pytest
from etm_bridge_handshake.codec import Output
from etm_bridge_handshake.proofs import block_inclusion_proof
from etm_bridge_handshake.script import HtlcScript, LockMarker
from etm_bridge_handshake.txbuild import build_payment_tx
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in
from etm_bridge_regtest.hsd import HsdNode
from hns_pool_world import ETM_FEE, HnsParty, HnsPoolSwaps, HnsWorld

from etm_bridge.adapter import LockState
from etm_bridge.app import liquidity
from etm_bridge.app.obligation_payments import pay_obligations
from etm_bridge.chain.address import encode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.handshake.etm.verifier import HnsProof
from etm_bridge.chains.handshake.node_init import relay_genesis
from etm_bridge.chains.handshake.spv.headers import pow_hash
from etm_bridge.errors import NotFoundError, TxRejectedError
from etm_bridge.etm_client import header_feed
from etm_bridge.etm_client.submit import sign_and_submit
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as xt
from etm_bridge.hashlock import sha256
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.testing.preimages import new_preimage
from etm_bridge.units import ETM

HNS = 1_000_000  # doo
DEPOSIT_DOO, DEPOSIT_ETM = 20 * HNS, 100 * ETM
SWAP_IN_DOO, SWAP_OUT_ETM = 2 * HNS, 5 * ETM
FEE_PPM = 3_000


@pytest.fixture(scope="module")
def etm_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtmNodeProcess]:
    spv = SpvSection({"hns": relay_genesis("regtest")})
    home = tmp_path_factory.mktemp("etm-hns")
    with etm_node_in(home, delegates=3, block_time_s=1, funded_accounts=1, spv=spv) as node:
        yield node


@pytest.fixture
def world(etm_node: EtmNodeProcess, hsd_node: HsdNode) -> HnsWorld:
    assert etm_node.client is not None
    if hsd_node.height() < 4:
        hsd_node.mine(4 - hsd_node.height())
    return HnsWorld(hsd_node, etm_node.client.url, hsd_node.height())


def share_value(pool: dict[str, Any]) -> int:
    x, y = int(pool["effective_asset"]), int(pool["effective_etm"])
    return isqrt(x * y) * 1_000_000 // int(pool["total_shares"])


def relay(world: HnsWorld, source: Any) -> int:
    return header_feed.relay_missing_headers(world.client, dev_key("user-0"), source, chain="hns")


def _etm_address(party: HnsParty) -> str:
    return encode_address(party.etm_address20)


def hsd_hash(hsd: HsdNode, height: int) -> str:
    return str(hsd.rpc.call("getblockhash", height))


# --- headers ---------------------------------------------------------------------------------


def test_hsd_headers_reach_the_etm_relay_and_a_reorg_is_followed(
    world: HnsWorld, hsd_node: HsdNode, tmp_path: Path
) -> None:
    someone = HnsParty.new("source", tmp_path)
    source = world.hns_adapter(someone)
    try:
        relay(world, source)
        tip = hsd_node.height()
        status = world.client.spv_relay("hns")
        assert status["tip"]["height"] == tip
        for height in {1, tip // 2, tip}:
            assert world.client.spv_best_hash("hns", height) == hsd_hash(hsd_node, height)
        # every relayed header is hsd's block hash (the PoW hash, unreversed)
        assert pow_hash(source.headers(tip, 1)[0]).hex() == hsd_hash(hsd_node, tip)

        hsd_node.mine(2)
        assert relay(world, source) == 2
        old = {h: hsd_hash(hsd_node, h) for h in (tip + 1, tip + 2)}
        hsd_node.rpc.call("invalidateblock", old[tip + 1])  # a 2-block reorg ...
        assert hsd_node.height() == tip
        hsd_node.mine(3, source.address())  # ... onto a longer branch (another coinbase)
        new = {h: hsd_hash(hsd_node, h) for h in range(tip + 1, tip + 4)}
        assert set(new.values()).isdisjoint(old.values())
        assert relay(world, source) == 3  # the fork point is found: only the new branch
        assert world.client.spv_relay("hns")["tip"]["height"] == tip + 3
        for height, block_hash in new.items():
            assert world.client.spv_best_hash("hns", height) == block_hash
        assert relay(world, source) == 0
    finally:
        source.close()


# --- the pool --------------------------------------------------------------------------------


def test_hns_pool_deposit_swaps_both_ways_and_withdraw(
    world: HnsWorld, hsd_node: HsdNode, tmp_path: Path
) -> None:
    client = world.client
    operator, investor, user = (HnsParty.new(n, tmp_path) for n in ("operator", "investor", "user"))
    for party in (operator, investor, user):
        world.fund_etm(party, 1_000 * ETM)
        world.fund_hns(party, 2 * DEPOSIT_DOO)
    claim_key = world.create_pool(operator, FEE_PPM, confirmations=1)
    assert claim_key == operator.hns_pubkey
    for party in (investor, user):
        world.bind(party)
    deposit = world.deposit(investor, DEPOSIT_DOO, DEPOSIT_ETM)
    assert deposit.txid_key == "handshake_txid"
    pool = client.pool("hns")
    assert (pool["asset_reserve"], pool["etm_reserve"]) == (DEPOSIT_DOO, DEPOSIT_ETM)

    swaps = HnsPoolSwaps(world, user, operator, tmp_path / "user.db", hsd_node.mine)  # type: ignore[arg-type]
    both = (Role.USER, Role.OPERATOR)
    try:
        before = client.pool("hns")
        quote_in = client.quote("hns", "asset_to_etm", SWAP_IN_DOO)
        t_in = swaps.start_swap_in(SWAP_IN_DOO)
        assert t_in.counter_leg.amount == quote_in["amount_out"]
        swaps.run_until(t_in.swap_id, {SwapState.CLAIMED_BOTH}, roles=both, timeout_s=150)
        [hns_lock] = swaps.op_ad["handshake"].find_locks(t_in.hashlock)
        assert hns_lock.terms.claim_key == operator.hns_pubkey
        assert swaps.op_ad["handshake"].find_spend(hns_lock).kind.value == "claim"
        [etm_lock] = swaps.user_ad["etm"].find_locks(t_in.hashlock)
        assert etm_lock.state is LockState.CLAIMED
        mid = client.pool("hns")
        assert mid["asset_reserve"] == DEPOSIT_DOO + SWAP_IN_DOO
        assert mid["etm_reserve"] == DEPOSIT_ETM - quote_in["amount_out"]
        assert share_value(mid) > share_value(before)

        quote_out = client.quote("hns", "etm_to_asset", SWAP_OUT_ETM)
        t_out = swaps.start_swap_out(SWAP_OUT_ETM)
        swaps.run_until(t_out.swap_id, {SwapState.CLAIMED_BOTH}, roles=both, timeout_s=150)
        [hns_out] = swaps.user_ad["handshake"].find_locks(t_out.hashlock)
        assert hns_out.terms.amount == quote_out["amount_out"]
        assert hns_out.terms.claim_key == user.hns_pubkey
        assert swaps.user_ad["handshake"].find_spend(hns_out).kind.value == "claim"
        after = client.pool("hns")
        assert after["etm_reserve"] == mid["etm_reserve"] + SWAP_OUT_ETM
        assert after["asset_reserve"] == mid["asset_reserve"] - quote_out["amount_out"]
        assert (after["asset_reserved"], after["etm_reserved"]) == (0, 0)
        assert share_value(after) > share_value(mid)
        assert client.open_swaps("hns") == []

        # the investor withdraws: ETM now, HNS as an obligation the operator pays and proves,
        # through the generic use case (the chain profile says what the payment pays)
        inv_ctx = world.context(investor, {"etm": world.etm_adapter(investor)})
        [position] = client.positions(_etm_address(investor))
        _tx, [owed] = liquidity.lp_withdraw(inv_ctx, "hns", int(position["shares"]), fee=ETM_FEE)
        assert bytes.fromhex(owed["destination"]) == investor.hns_pubkey  # its bound key
        amount, oid = int(owed["amount"]), int(owed["obligation_id"])
        inv_hns = world.hns_adapter(investor)
        journal = tmp_path / "obligation_payments.json"
        try:
            before_hns = inv_hns.balance()
            [paid] = pay_obligations(swaps.op_ctx, "hns", journal, fee=ETM_FEE,
                                     after_pay=hsd_node.mine, timeout_s=60)  # fmt: skip
            assert (paid.obligation_id, paid.amount, paid.tx.status) == (oid, amount, "confirmed")
            [row] = [o for o in client.obligations() if int(o["obligation_id"]) == oid]
            assert row["status"] == "paid"
            assert inv_hns.balance() - before_hns == amount
            # run again (a restarted operator): nothing open, nothing paid twice
            assert pay_obligations(swaps.op_ctx, "hns", journal, fee=ETM_FEE) == []
            assert inv_hns.balance() - before_hns == amount
        finally:
            inv_hns.close()
    finally:
        print("\n".join(swaps.log))
        swaps.close()


# --- attacks on the lock proof ---------------------------------------------------------------


def _attacker_lock(
    world: HnsWorld, hsd: HsdNode, party: HnsParty, refund: bytes, hashlock: bytes
) -> tuple[bytes, bytes, bytes, int]:
    """Pay an HTLC (claim: the pool's key) with the marker, from ``party``'s coin, whose script
    refunds to ``refund``; mined. (proof bytes for the real funding tx, script, txid, height)."""
    adapter = world.hns_adapter(party)
    try:
        pool_key = bytes.fromhex(world.client.pool("hns")["claim_key"])
        timelock = adapter.tip().height + 72
        htlc = HtlcScript(hashlock, pool_key, refund, timelock)
        marker = LockMarker(pool_key, refund, timelock)
        outputs = [Output(SWAP_IN_DOO, htlc.address), Output(0, marker.nulldata())]
        coins = adapter._view_with_mempool().spendable()
        tx, _ = build_payment_tx(adapter.key, coins, outputs, adapter.fee_estimate().rate)
        txid = adapter.node.broadcast(tx)
        hsd.mine(2)
        height = adapter.tip().height - 1
        raw = adapter._raw_block(height)
        proof = block_inclusion_proof(raw, height, txid)
        funding = adapter._find_tx(tx.inputs[0].prev_txid, height, raw)
        encoded = HnsProof.from_adapter_proof(proof, 0, htlc.script, funding.encode_base())
        relay(world, adapter)
        return encoded.encode(), htlc.script, bytes.fromhex(txid), height
    finally:
        adapter.close()


def _swap_in_reason(world: HnsWorld, party: HnsParty, hashlock: bytes, proof: bytes) -> str:
    payload = pl.SwapIn("hns", encode_address(party.etm_address20), SWAP_IN_DOO, hashlock, 1,
                        proof)  # fmt: skip
    with pytest.raises(TxRejectedError) as exc:
        sign_and_submit(world.client, party.etm_key, xt.SWAP_IN, pl.encode_payload(payload),
                        fee=ETM_FEE)  # fmt: skip
    return f"{exc.value.reason}: {exc.value}"


def test_forged_lock_proofs_are_refused_by_the_etm_node(
    world: HnsWorld, hsd_node: HsdNode, tmp_path: Path
) -> None:
    client = world.client
    try:
        client.pool("hns")
    except NotFoundError:  # alone (``-k``): a pool to prove against, empty is enough
        operator = HnsParty.new("operator", tmp_path)
        world.fund_etm(operator, 100 * ETM)
        world.create_pool(operator, FEE_PPM, confirmations=1)
    attacker = HnsParty.new("attacker", tmp_path)
    world.fund_etm(attacker, 100 * ETM)
    world.fund_hns(attacker, 4 * SWAP_IN_DOO)
    world.bind(attacker)
    pool_before = client.pool("hns")

    # 1. the HTLC refunds to a key the attacker keeps elsewhere, not input 0's key: the
    #    operator's engine reads the refund key from input 0 and would watch the wrong lock
    other = HnsParty.new("elsewhere", tmp_path).hns_pubkey
    hashlock = sha256(new_preimage())
    proof, *_ = _attacker_lock(world, hsd_node, attacker, other, hashlock)
    assert _swap_in_reason(world, attacker, hashlock, proof).startswith("unmarked_lock: ")

    # 2. a proof from a block the relay holds on a side branch (hsd reorganised it away)
    hashlock = sha256(new_preimage())
    proof, _script, _txid, height = _attacker_lock(
        world, hsd_node, attacker, attacker.hns_pubkey, hashlock
    )
    stale = hsd_hash(hsd_node, height)
    hsd_node.rpc.call("invalidateblock", stale)
    source = world.hns_adapter(attacker)
    try:
        hsd_node.mine(4, source.address())  # another coinbase: the new blocks differ
        relay(world, source)
    finally:
        source.close()
    assert world.client.spv_best_hash("hns", height) != stale
    reason = _swap_in_reason(world, attacker, hashlock, proof)
    assert reason.startswith("bad_proof: ") and "not-in-best-chain" in reason, reason
    assert client.htlcs(hashlock) == []
    after = client.pool("hns")
    assert (after["asset_reserve"], after["etm_reserve"]) == (
        pool_before["asset_reserve"], pool_before["etm_reserve"],
    )  # fmt: skip
