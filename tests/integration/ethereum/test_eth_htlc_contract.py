"""The EtherSwapHTLC contract's own rules on a real EVM (anvil), with the custom error named.

The conformance suite checks that bad spends raise ChainError; these tests pin down *which*
rule of the contract rejected them, that Python's swap hash is the contract's, that reverts
mined on chain (not only caught by gas estimation) are decoded, and that the typed lock check
catches a counterparty lock with the wrong asset, amount or keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector
from etm_bridge_ethereum import EthereumAdapter
from etm_bridge_ethereum.htlc import HtlcCodec, swap_hash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etm_bridge.adapter import HtlcTerms
from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.errors import (
    ConfigError,
    ContractRevertError,
    LockMismatchError,
    ValidationError,
)
from etm_bridge.hashlock import find_preimage_in_bytes, hashlock_of, sha256
from etm_bridge.testing.preimages import new_preimage

CODEC = HtlcCodec()


@pytest.fixture
def us(adapters, parties):
    return adapters(parties[0])


@pytest.fixture
def them(adapters, parties):
    return adapters(parties[1])


def _terms(locker, claimer, hashlock: bytes, amount: int = 10**15, blocks: int = 10, asset=None):
    return HtlcTerms(
        amount=amount,
        hashlock=hashlock,
        claim_key=claimer.our_key(),
        refund_key=locker.our_key(),
        timelock_height=locker.tip().height + blocks,
        asset_id=asset,
    )


@contextmanager
def _reverts(name: str) -> Iterator[pytest.ExceptionInfo[ContractRevertError]]:
    """Expect a ContractRevertError naming the contract's custom error ``name``."""
    with pytest.raises(ContractRevertError) as info:
        yield info
    assert info.value.error_name == name, str(info.value)


addresses = st.binary(min_size=20, max_size=20)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hashlock=st.binary(min_size=32, max_size=32),
    amount=st.integers(min_value=1, max_value=2**256 - 1),
    claim=addresses,
    refund=addresses,
    timelock=st.integers(min_value=1, max_value=2**256 - 1),
    token=st.one_of(st.none(), addresses.filter(any)),
)
def test_python_swap_hash_equals_the_contracts_hash_values(
    us, htlc, hashlock, amount, claim, refund, timelock, token
):
    terms = HtlcTerms(amount, hashlock, claim, refund, timelock, token)
    call = {"to": htlc.address, "data": "0x" + CODEC.hash_values(terms).hex()}
    assert us.node.call(call, "hashValues") == swap_hash(terms)


def test_lock_id_is_the_swap_hash_and_the_flag_is_set_then_cleared(us, them):
    preimage = new_preimage()
    terms = _terms(them, us, hashlock_of(preimage))
    lock = them.lock(terms)
    assert lock.lock_id == swap_hash(terms).hex()
    flag = {"to": them.htlc_address, "data": "0x" + CODEC.swaps(swap_hash(terms)).hex()}
    assert decode(["bool"], us.node.call(flag, "swaps")) == (True,)
    us.claim(lock, preimage)
    assert decode(["bool"], us.node.call(flag, "swaps")) == (False,)


def test_version_constant(us, htlc):
    selector = "0x" + function_signature_to_4byte_selector("version()").hex()
    result = us.node.call({"to": htlc.address, "data": selector}, "version")
    assert decode(["uint8"], result) == (1,)


def test_wrong_preimage_is_rejected_as_swap_not_found(us, them):
    lock = them.lock(_terms(them, us, hashlock_of(new_preimage())))
    with _reverts("SwapNotFound"):
        us.claim(lock, new_preimage(), unsafe_skip_checks=True)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_preimage_not_32_bytes_is_rejected_by_length(us, them, length):
    bad = bytes([7]) * length
    lock = them.lock(_terms(them, us, sha256(bad)))
    with _reverts("InvalidPreimageLength") as info:
        us.claim(lock, bad, unsafe_skip_checks=True)
    assert f"InvalidPreimageLength({length})" in str(info.value)


def test_refund_in_the_timelock_block_is_rejected_and_one_block_later_accepted(us, them, eth_mine):
    lock = us.lock(_terms(us, them, hashlock_of(new_preimage()), blocks=4))
    eth_mine(lock.terms.timelock_height - 1 - us.tip().height)  # next block == timelock
    with _reverts("TimelockNotReached") as info:
        us.refund(lock, unsafe_skip_checks=True)
    timelock = lock.terms.timelock_height
    assert f"TimelockNotReached({timelock}, {timelock})" in str(info.value)
    eth_mine(1)
    spend = us.refund(lock)
    assert spend.block_height == timelock + 1


def test_refund_by_anyone_but_the_refund_address_is_rejected(us, them, eth_mine):
    lock = us.lock(_terms(us, them, hashlock_of(new_preimage()), blocks=2))
    eth_mine(3)
    with _reverts("SwapNotFound"):
        them.refund(lock, unsafe_skip_checks=True)


def test_claim_twice_and_refund_after_claim_are_rejected(us, them, eth_mine):
    preimage = new_preimage()
    lock = them.lock(_terms(them, us, hashlock_of(preimage), blocks=2))
    us.claim(lock, preimage)
    with _reverts("SwapNotFound"):
        us.claim(lock, preimage, unsafe_skip_checks=True)
    eth_mine(3)
    with _reverts("SwapNotFound"):
        them.refund(lock)


def test_revert_mined_on_chain_is_decoded_by_replay(us, them):
    lock = them.lock(_terms(them, us, hashlock_of(new_preimage())))
    data = CODEC.claim(new_preimage(), lock.terms)
    with _reverts("SwapNotFound") as info:  # fixed gas: no estimation, the tx is mined
        us.sender.transact(us.htlc_address, data, 0, "claim", gas=200_000)
    assert "mined in block" in str(info.value)


def test_lock_rules_zero_amount_past_timelock_and_duplicates(us, them):
    terms = _terms(us, them, hashlock_of(new_preimage()))
    data, value = CODEC.lock(terms)
    with _reverts("ZeroAmount"):
        us.sender.send(us.htlc_address, data, 0, "lock")
    with _reverts("TimelockInPast"):
        us.lock(replace(terms, timelock_height=us.tip().height + 1))  # mined at tip + 1
    us.lock(terms)
    with _reverts("SwapAlreadyExists"):
        us.sender.send(us.htlc_address, data, value, "lock")


def test_token_lock_without_token_balance_is_rejected(adapters, token):
    poor = adapters(8)  # holds ether but none of the token
    other = adapters(9)
    terms = _terms(poor, other, hashlock_of(new_preimage()), asset=bytes.fromhex(token.address[2:]))
    with _reverts("TokenTransferFailed"):
        poor.lock(terms)


def test_lock_must_name_us_as_refund_address(us, them):
    terms = _terms(us, them, hashlock_of(new_preimage()))
    with pytest.raises(ValidationError, match="refund_key"):
        us.lock(replace(terms, refund_key=them.our_key()))


def test_claim_reveals_the_preimage_in_event_and_calldata(us, them):
    preimage = new_preimage()
    lock = them.lock(_terms(them, us, hashlock_of(preimage)))
    spend = us.claim(lock, preimage)
    assert them.find_spend(them.get_lock(lock.lock_id)) == spend
    tx = them.node.transaction("0x" + spend.txid)
    calldata = eth_rlp.to_bytes(tx["input"], "input")
    assert find_preimage_in_bytes(calldata, lock.terms.hashlock) == preimage


@pytest.mark.parametrize("reason", ["wrong_amount", "wrong_refund_key", "wrong_asset",
                                    "timelock_too_short"])  # fmt: skip
def test_counterparty_lock_with_wrong_terms_is_detected(us, them, token, adapters, reason):
    expected = _terms(them, us, hashlock_of(new_preimage()), blocks=10)
    locker, actual = them, expected
    if reason == "wrong_amount":
        actual = replace(expected, amount=expected.amount - 1)
    elif reason == "wrong_refund_key":  # a third party locks: its key, not the agreed one
        locker = adapters(8)
        actual = replace(expected, refund_key=locker.our_key())
    elif reason == "wrong_asset":  # the same amount, but of the token instead of ether
        actual = replace(expected, asset_id=bytes.fromhex(token.address[2:]))
    else:
        actual = replace(expected, timelock_height=expected.timelock_height - 5)
    lock = locker.lock(actual)
    (seen,) = us.find_locks(expected.hashlock)
    assert seen.lock_id == lock.lock_id and seen.terms == actual
    with pytest.raises(LockMismatchError) as info:
        us.check_lock(seen, expected, 1, us.tip().height)
    assert info.value.reason == reason


def test_adapter_refuses_an_htlc_address_holding_other_code(adapter_config, parties, token):
    config = dict(adapter_config(parties[0]), htlc_address=token.address)
    with pytest.raises(ConfigError, match="not this EtherSwapHTLC"):
        EthereumAdapter.from_config(config)
    empty = dict(config, htlc_address="0x" + "00" * 19 + "01")
    with pytest.raises(ConfigError, match="no contract"):
        EthereumAdapter.from_config(empty)
