"""Negative cases against the real Bitcoin validator (error codes, not texts) and the kernel.

Each bad spend is built by the adapter with ``unsafe_skip_checks=True`` so the node, not our
code, is what rejects it; libbitcoinkernel must agree wherever the failure is in the script.
"""

from __future__ import annotations

import hashlib

import pytest
from btc_kernel import BROADCASTS
from etm_bridge_bitcoin.fees import FeePolicy

from etm_bridge.adapter import HtlcTerms, LockState
from etm_bridge.errors import (
    LockMismatchError,
    RPCAlreadyInChainError,
    RPCMissingInputsError,
    RPCVerifyRejectedError,
)
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage

AMOUNT = 200_000


def _lock(bitcoin_node, locker, claimer, hashlock: bytes, blocks: int = 10, **changes):
    terms = HtlcTerms(
        amount=AMOUNT,
        hashlock=hashlock,
        claim_key=claimer.our_key(),
        refund_key=locker.our_key(),
        timelock_height=locker.tip().height + blocks,
    )
    terms = HtlcTerms(**{**terms.__dict__, **changes})
    lock = locker.lock(terms)
    bitcoin_node.mine(1)
    return terms, locker.get_lock(lock.lock_id)


def test_wrong_preimage_is_rejected_with_26_and_by_the_kernel(btc_party, bitcoin_node) -> None:
    (us, _), (them, _) = btc_party(), btc_party()
    _, lock = _lock(bitcoin_node, them, us, hashlock_of(new_preimage()))
    with pytest.raises(RPCVerifyRejectedError) as info:
        us.claim(lock, new_preimage(), unsafe_skip_checks=True)
    assert info.value.code == -26
    assert BROADCASTS[-1].kernel_ok is False and BROADCASTS[-1].accepted is False


@pytest.mark.parametrize("length", [31, 33])
def test_preimage_of_wrong_size_is_rejected_by_op_size(btc_party, bitcoin_node, length) -> None:
    (us, _), (them, _) = btc_party(), btc_party()
    secret = bytes([7]) * length
    _, lock = _lock(bitcoin_node, them, us, hashlib.sha256(secret).digest())
    with pytest.raises(RPCVerifyRejectedError):
        us.claim(lock, secret, unsafe_skip_checks=True)
    assert BROADCASTS[-1].kernel_ok is False


def test_refund_one_block_early_is_non_final_then_accepted(btc_party, bitcoin_node) -> None:
    (us, _), (them, _) = btc_party(), btc_party()
    terms, lock = _lock(bitcoin_node, us, them, hashlock_of(new_preimage()), blocks=5)
    bitcoin_node.mine(terms.timelock_height - 1 - bitcoin_node.height())
    with pytest.raises(RPCVerifyRejectedError) as info:
        us.refund(lock, unsafe_skip_checks=True)
    assert info.value.code == -26
    # The script itself is fine (nLockTime >= CLTV height): the node refused a non-final tx.
    assert BROADCASTS[-1].kernel_ok is True and BROADCASTS[-1].accepted is False
    bitcoin_node.mine(1)
    us.refund(lock)
    bitcoin_node.mine(1)
    assert us.get_lock(lock.lock_id).state is LockState.REFUNDED
    assert BROADCASTS[-1].kernel_ok is True and BROADCASTS[-1].accepted is True


def test_claim_with_the_wrong_key_is_rejected(btc_party, bitcoin_node) -> None:
    (us, _), (them, _) = btc_party(), btc_party()
    preimage = new_preimage()
    _, lock = _lock(bitcoin_node, us, them, hashlock_of(preimage))
    with pytest.raises(RPCVerifyRejectedError):
        us.claim(lock, preimage, unsafe_skip_checks=True)  # we are the refunder, not claimer
    assert BROADCASTS[-1].kernel_ok is False


def test_second_claim_of_a_mined_claim_is_missing_inputs(btc_party, bitcoin_node) -> None:
    """The same claim again is already in the chain (-27); another claim of the spent output
    (a different fee) misses its input (-25). The rate is pinned by the fee bounds, so the first
    two claims are the same transaction whatever the node estimates after the block."""
    (us, _), (them, _) = btc_party(), btc_party()
    us.fees = FeePolicy(fallback_sat_vb=3, min_sat_vb=3, max_sat_vb=3)
    preimage = new_preimage()
    _, lock = _lock(bitcoin_node, them, us, hashlock_of(preimage))
    first = us.claim(lock, preimage)
    bitcoin_node.mine(1)
    with pytest.raises(RPCAlreadyInChainError):  # the very same claim again
        us.claim(lock, preimage, unsafe_skip_checks=True)
    us.fees = FeePolicy(fallback_sat_vb=4, min_sat_vb=4, max_sat_vb=4)
    with pytest.raises(RPCMissingInputsError) as info:  # another claim of the spent output
        us.claim(lock, preimage, unsafe_skip_checks=True)
    assert info.value.code == -25
    assert BROADCASTS[-1].txid != first.txid


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": AMOUNT - 1}, "wrong_amount"),
        ({"claim_key": "counterparty"}, "wrong_claim_key"),
        ({"refund_key": "us"}, "wrong_refund_key"),
        ({"timelock_height": "short"}, "timelock_too_short"),
    ],
)
def test_lock_with_wrong_terms_is_detected_on_chain(btc_party, bitcoin_node, change, reason):
    (us, _), (them, _) = btc_party(), btc_party()
    hashlock = hashlock_of(new_preimage())
    expected = HtlcTerms(
        amount=AMOUNT,
        hashlock=hashlock,
        claim_key=us.our_key(),
        refund_key=them.our_key(),
        timelock_height=us.tip().height + 20,
    )
    values = {
        "counterparty": them.our_key(),
        "us": us.our_key(),
        "short": expected.timelock_height - 1,
    }
    actual = HtlcTerms(**{**expected.__dict__, **{k: values.get(v, v) for k, v in change.items()}})
    lock = them.lock(actual)
    bitcoin_node.mine(1)
    [seen] = us.find_locks(hashlock)
    assert seen.lock_id == lock.lock_id
    with pytest.raises(LockMismatchError) as info:
        us.check_lock(seen, expected, 1, us.tip().height)
    assert info.value.reason == reason
