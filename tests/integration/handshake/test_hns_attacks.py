"""Attacks on the Handshake adapter, each performed on the real hsd regtest node.

Every transaction here is a real one the attacker (or a careless caller) could send; the test
shows the chain refuse it with the error code etm-bridge uses everywhere (-26 script/locktime
failure, -25 spent or missing input, -22 undecodable), or the adapter refuse it before anything
is broadcast, or the adapter not mistake it for a lock. hsd's own ``sendrawtransaction`` would
have answered "ok" to most of them: these also prove the checked broadcast (``node.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from etm_bridge_handshake import HandshakeAdapter
from etm_bridge_handshake.codec import Input, Output, Tx
from etm_bridge_handshake.script import HtlcScript, LockMarker, claim_witness, refund_witness
from etm_bridge_handshake.sighash import SIGHASH_ALL, WalletKey, signature_hash
from etm_bridge_handshake.txbuild import build_claim_tx, build_payment_tx
from etm_bridge_regtest.hsd import HsdNode

from etm_bridge.adapter import HtlcLock, HtlcTerms, LockState
from etm_bridge.errors import (
    DustError,
    InvalidTransactionError,
    RPCDeserializationError,
    RPCMissingInputsError,
    RPCVerifyRejectedError,
    ValidationError,
)
from etm_bridge.hashlock import hashlock_of, sha256
from etm_bridge.testing.preimages import new_preimage

Party = Callable[..., tuple[HandshakeAdapter, dict]]
AMOUNT = 1_000_000


def _terms(locker: HandshakeAdapter, claimer: HandshakeAdapter, hashlock: bytes) -> HtlcTerms:
    return HtlcTerms(
        amount=AMOUNT,
        hashlock=hashlock,
        claim_key=claimer.our_key(),
        refund_key=locker.our_key(),
        timelock_height=locker.tip().height + 10,
    )


def _locked(node: HsdNode, locker: HandshakeAdapter, terms: HtlcTerms) -> HtlcLock:
    lock = locker.lock(terms)
    node.mine(1)
    return locker.get_lock(lock.lock_id)


def _htlc(lock: HtlcLock) -> HtlcScript:
    t = lock.terms
    return HtlcScript(t.hashlock, t.claim_key, t.refund_key, t.timelock_height)


def _spend(
    key: WalletKey,
    lock: HtlcLock,
    witness: Callable[[bytes], tuple[bytes, ...]],
    *,
    locktime: int = 0,
    sequence: int = 0xFFFFFFFE,
    fee: int = 5_000,
) -> Tx:
    """A hand-built spend of ``lock`` to ``key``, signed by ``key`` (any branch, any fields)."""
    txid, vout, _ = lock.lock_id.split(":")
    vin = Input(bytes.fromhex(txid), int(vout), sequence)
    unsigned = Tx((vin,), (Output(lock.terms.amount - fee, key.address),), locktime)
    sig = key.sign(signature_hash(unsigned, 0, _htlc(lock).script, lock.terms.amount, SIGHASH_ALL))
    return Tx((replace(vin, witness=witness(sig)),), unsigned.outputs, locktime)


def test_claim_by_another_key_with_the_right_preimage_is_refused(
    hns_party: Party, hsd_node: HsdNode
) -> None:
    us, _ = hns_party()
    them, _ = hns_party()
    preimage = new_preimage()
    lock = _locked(hsd_node, them, _terms(them, us, hashlock_of(preimage)))
    thief = them  # the locker itself tries to take the claim branch
    with pytest.raises(RPCVerifyRejectedError) as info:
        thief.claim(lock, preimage)
    assert info.value.code == -26
    assert us.get_lock(lock.lock_id).state is LockState.OPEN
    us.claim(lock, preimage)  # the rightful claimer still can
    hsd_node.mine(1)
    assert us.get_lock(lock.lock_id).state is LockState.CLAIMED


@pytest.mark.parametrize("length", [31, 33])
def test_preimage_of_the_wrong_size_is_refused_by_op_size(
    hns_party: Party, hsd_node: HsdNode, length: int
) -> None:
    us, _ = hns_party()
    them, _ = hns_party()
    bad = bytes(range(7, 7 + length))
    lock = _locked(hsd_node, them, _terms(them, us, sha256(bad)))
    with pytest.raises(RPCVerifyRejectedError) as info:
        us.claim(lock, bad, unsafe_skip_checks=True)
    assert info.value.code == -26


def test_wrong_preimage_is_refused_with_code_minus_26(hns_party: Party, hsd_node: HsdNode) -> None:
    us, _ = hns_party()
    them, _ = hns_party()
    lock = _locked(hsd_node, them, _terms(them, us, hashlock_of(new_preimage())))
    with pytest.raises(RPCVerifyRejectedError) as info:
        us.claim(lock, new_preimage(), unsafe_skip_checks=True)
    assert info.value.code == -26


def test_refund_before_the_timelock_is_dropped_and_named(
    hns_party: Party, hsd_node: HsdNode
) -> None:
    """hsd answers "success" to a non-final refund and silently drops it: the adapter turns
    that into one -26 error naming the locktime, at tip+1 < T and at tip+1 == T."""
    us, _ = hns_party()
    them, _ = hns_party()
    lock = _locked(hsd_node, us, _terms(us, them, hashlock_of(new_preimage())))
    for tip in (lock.terms.timelock_height - 2, lock.terms.timelock_height - 1):
        hsd_node.mine(tip - hsd_node.height())
        with pytest.raises(RPCVerifyRejectedError, match="non-final") as info:
            us.refund(lock, unsafe_skip_checks=True)
        assert info.value.code == -26
    hsd_node.mine(1)
    us.refund(lock)
    hsd_node.mine(1)
    assert us.get_lock(lock.lock_id).state is LockState.REFUNDED


def test_refund_dodging_cltv_is_refused_after_the_timelock(
    hns_party: Party, hsd_node: HsdNode
) -> None:
    """Once refunds are allowed, a refund whose locktime is below T, or whose input is final
    (which would switch locktimes off), still fails CHECKLOCKTIMEVERIFY on chain."""
    us, _ = hns_party()
    them, _ = hns_party()
    lock = _locked(hsd_node, us, _terms(us, them, hashlock_of(new_preimage())))
    hsd_node.mine(lock.terms.timelock_height - hsd_node.height())
    htlc, t = _htlc(lock), lock.terms.timelock_height
    early = _spend(us.key, lock, lambda s: refund_witness(s, htlc), locktime=t - 1)
    final = _spend(us.key, lock, lambda s: refund_witness(s, htlc), locktime=t, sequence=2**32 - 1)
    for tx in (early, final):
        with pytest.raises(RPCVerifyRejectedError) as info:
            us.node.broadcast(tx)
        assert info.value.code == -26
    assert us.get_lock(lock.lock_id).state is LockState.OPEN


def test_refund_by_the_claim_key_is_refused(hns_party: Party, hsd_node: HsdNode) -> None:
    us, _ = hns_party()
    them, _ = hns_party()
    lock = _locked(hsd_node, them, _terms(them, us, hashlock_of(new_preimage())))
    hsd_node.mine(lock.terms.timelock_height - hsd_node.height())
    htlc = _htlc(lock)
    grab = _spend(us.key, lock, lambda s: refund_witness(s, htlc), locktime=htlc.timelock_height)
    with pytest.raises(RPCVerifyRejectedError) as info:
        us.node.broadcast(grab)
    assert info.value.code == -26


def test_second_claim_in_the_mempool_and_claim_after_refund_are_refused(
    hns_party: Party, hsd_node: HsdNode
) -> None:
    us, _ = hns_party()
    them, _ = hns_party()
    preimage = new_preimage()
    lock = _locked(hsd_node, them, _terms(them, us, hashlock_of(preimage)))
    first = us.claim(lock, preimage)
    htlc = _htlc(lock)
    txid, vout, _ = lock.lock_id.split(":")
    rival = build_claim_tx(us.key, txid, int(vout), AMOUNT, htlc, preimage, 40)  # other fee
    with pytest.raises(InvalidTransactionError, match="already spent") as info:
        us.node.broadcast(rival)
    assert not isinstance(info.value, RPCMissingInputsError)  # still unspent on chain
    assert us.find_spend(lock).txid == first.txid
    hsd_node.mine(1)
    with pytest.raises(RPCMissingInputsError) as spent:
        us.node.broadcast(rival)
    assert spent.value.code == -25
    # and a refund of a lock that was claimed
    hsd_node.mine(max(0, lock.terms.timelock_height - hsd_node.height()))
    with pytest.raises(RPCMissingInputsError):
        them.refund(lock)


def test_a_lock_whose_script_does_not_match_its_marker_is_not_a_lock(
    hns_party: Party, hsd_node: HsdNode
) -> None:
    """An attacker's transaction with a marker naming us as claimer but paying a script we
    cannot claim (their own claim key), or refunding to a key other than input 0's, is never
    reported by ``find_locks``: the script is rebuilt from the marker and input 0 and must hash
    to the output."""
    us, _ = hns_party()
    them, _ = hns_party()
    third = WalletKey(bytes(range(1, 33)))
    hashlock = hashlock_of(new_preimage())
    t = them.tip().height + 10
    marker = LockMarker(us.our_key(), them.our_key(), t).nulldata()
    for script in (
        HtlcScript(hashlock, them.our_key(), them.our_key(), t),  # claim key: theirs
        HtlcScript(hashlock, us.our_key(), third.pubkey, t),  # refund key: not input 0's
        HtlcScript(hashlock, us.our_key(), them.our_key(), t + 1),  # timelock: not the marker's
    ):
        outputs = [Output(AMOUNT, script.address), Output(0, marker)]
        tx, _ = build_payment_tx(them.key, them._view_with_mempool().spendable(), outputs, 20)
        them.node.broadcast(tx)
        hsd_node.mine(1)
    assert us.find_locks(hashlock) == []


def test_lock_refuses_terms_it_cannot_honour(hns_party: Party) -> None:
    us, _ = hns_party()
    them, _ = hns_party()
    terms = _terms(us, them, hashlock_of(new_preimage()))
    with pytest.raises(ValidationError, match="refund"):
        us.lock(replace(terms, refund_key=them.our_key()))  # input 0 would contradict it
    with pytest.raises(ValidationError, match="height"):
        us.lock(replace(terms, timelock_height=2**31))  # a time lock in Handshake, not a height
    with pytest.raises(DustError):
        us.lock(replace(terms, amount=300))


def test_dust_lock_griefing_leaves_no_claim_to_waste_fees_on(
    hns_party: Party, hsd_node: HsdNode
) -> None:
    """A counterparty locks barely above dust: claiming would cost more than it pays. The
    adapter refuses to build that claim (DustError) instead of broadcasting it."""
    us, _ = hns_party()
    them, _ = hns_party()
    preimage = new_preimage()
    lock = _locked(hsd_node, them, replace(_terms(them, us, hashlock_of(preimage)), amount=400))
    with pytest.raises(DustError, match="dust"):
        us.claim(lock, preimage)


def test_a_griefing_fee_estimate_is_bounded(
    hns_party: Party, hsd_node: HsdNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node (or whoever runs it) answering an absurd ``estimatesmartfee`` cannot make us pay
    more than ``max_fee_doo_vb``: the lock on chain pays exactly that rate."""
    _us, config = hns_party(coins=1)
    them, _ = hns_party()
    capped = HandshakeAdapter.from_config({**config, "max_fee_doo_vb": 50})
    real_call = capped.rpc.call

    def lying(method: str, *params: object) -> object:
        if method == "estimatesmartfee":
            return {"fee": 1000.0, "blocks": 2}  # 1000 HNS/kB = 10^6 doo/vB
        return real_call(method, *params)

    monkeypatch.setattr(capped.rpc, "call", lying)
    assert capped.fee_estimate().rate == 50
    [coin] = capped._view_with_mempool().spendable()
    lock = capped.lock(_terms(capped, them, hashlock_of(new_preimage())))
    tx = capped._mempool_tx(lock.txid)
    assert tx is not None
    paid = coin.value - sum(o.value for o in tx.outputs)
    assert paid == 50 * tx.vsize


def test_zero_fee_and_undecodable_transactions_get_one_clear_error(
    hns_party: Party, hsd_node: HsdNode
) -> None:
    us, _ = hns_party()
    them, _ = hns_party()
    preimage = new_preimage()
    lock = _locked(hsd_node, them, _terms(them, us, hashlock_of(preimage)))
    htlc = _htlc(lock)
    free = _spend(us.key, lock, lambda s: claim_witness(s, preimage, htlc), fee=0)
    with pytest.raises(InvalidTransactionError, match="fee"):
        us.node.broadcast(free)
    with pytest.raises(RPCDeserializationError) as info:
        us.node.post_raw(b"\x00\x00\x00\x00\x05garbage", "garbage")
    assert info.value.code == -22
    assert us.get_lock(lock.lock_id).state is LockState.OPEN
