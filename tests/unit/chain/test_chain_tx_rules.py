"""Every transaction rejection says why and changes no state."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FEE, DevChain, addr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etm_bridge.chain.registry import TxContext
from etm_bridge.chain.rules import apply_tx
from etm_bridge.chain.state import State
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_delegates import DELEGATE_REGISTER, UNVOTE, VOTE
from etm_bridge.chain.tx_transfer import TRANSFER
from etm_bridge.errors import TxRejectedError


def _state(dev: DevChain) -> State:
    return State(dev.chain.store, dev.chain.registry.table_names)


def _ctx(dev: DevChain) -> TxContext:
    return TxContext(dev.params, 1, 0, bytes(32))


def _reject(dev: DevChain, tx: Tx, reason: str, state: State | None = None) -> None:
    state = state or _state(dev)
    before = state.changes()
    with pytest.raises(TxRejectedError) as info:
        apply_tx(state, dev.chain.registry, tx, _ctx(dev))
    assert info.value.reason == reason, str(info.value)
    assert info.value.detail
    assert state.changes() == before


def test_bad_signature(dev: DevChain) -> None:
    tx = dev.transfer(dev.users[0], addr(dev.users[1]), 5)
    forged = Tx(tx.network, tx.type_id, tx.sender_public_key, tx.nonce, tx.fee, tx.payload,
                bytes(64))  # fmt: skip
    _reject(dev, forged, "bad_signature")


def test_wrong_nonce_both_ways(dev: DevChain) -> None:
    _reject(dev, dev.transfer(dev.users[0], addr(dev.users[1]), 5, nonce=1), "wrong_nonce")
    state = _state(dev)
    replay = dev.transfer(dev.users[0], addr(dev.users[1]), 5, nonce=0)
    apply_tx(state, dev.chain.registry, replay, _ctx(dev))
    _reject(dev, replay, "wrong_nonce", state)  # the same tx again: replay refused


def test_insufficient_balance_for_amount_and_for_fee(dev: DevChain) -> None:
    balance = dev.chain.account(addr(dev.users[0])).balance
    _reject(dev, dev.transfer(dev.users[0], addr(dev.users[1]), balance), "insufficient_balance")
    poor = dev.users[0].__class__(bytes(32))
    _reject(dev, dev.transfer(poor, addr(dev.users[1]), 1), "insufficient_balance")


def test_unknown_type(dev: DevChain) -> None:
    _reject(dev, dev.tx(dev.users[0], 999, b""), "unknown_type")


@pytest.mark.parametrize(
    ("type_id", "payload"),
    [(TRANSFER, b"\x01" * 27), (TRANSFER, b"\x01" * 20 + bytes(8)), (DELEGATE_REGISTER, b"\x03AB!"),
     (VOTE, b"\x00" * 31), (DELEGATE_REGISTER, b"")],
)  # fmt: skip
def test_malformed_field(dev: DevChain, type_id: int, payload: bytes) -> None:
    _reject(dev, dev.tx(dev.users[0], type_id, payload), "malformed_field")


def test_fee_too_low(dev: DevChain) -> None:
    _reject(dev, dev.transfer(dev.users[0], addr(dev.users[1]), 5, fee=1), "fee_too_low")


def test_wrong_network(dev: DevChain) -> None:
    _reject(dev, dev.transfer(dev.users[0], addr(dev.users[1]), 5, network=7), "wrong_network")


def test_delegate_and_vote_rules(dev: DevChain) -> None:
    state, ctx, reg = _state(dev), _ctx(dev), dev.chain.registry
    genesis_pk = dev.cfg.delegates[0].public_key
    user = dev.users[0]
    _reject(dev, dev.tx(user, DELEGATE_REGISTER, b"\x09genesis_0", nonce=0), "name_taken")
    _reject(dev, dev.tx(user, VOTE, b"\x07" * 32, nonce=0), "unknown_delegate")
    _reject(dev, dev.tx(user, UNVOTE, genesis_pk, nonce=0), "not_voted")
    apply_tx(state, reg, dev.tx(user, VOTE, genesis_pk, nonce=0), ctx)
    _reject(dev, dev.tx(user, VOTE, genesis_pk, nonce=1), "already_voted", state)
    apply_tx(state, reg, dev.tx(user, DELEGATE_REGISTER, b"\x05alice", nonce=1), ctx)
    _reject(dev, dev.tx(user, DELEGATE_REGISTER, b"\x03bob", nonce=2), "already_delegate", state)


@pytest.mark.parametrize("name", [b"alice\n", b"Alice", b"al ice", b"", b"a" * 21])
def test_delegate_names_outside_the_alphabet_are_malformed(dev: DevChain, name: bytes) -> None:
    # "alice\n" once passed: re.match with "$" accepts a trailing newline, so a look-alike of
    # an existing name could register.
    payload = bytes((len(name),)) + name
    _reject(dev, dev.tx(dev.users[0], DELEGATE_REGISTER, payload), "malformed_field")


def test_too_many_votes(make_dev_chain: Any) -> None:
    dev = make_dev_chain(n_delegates=4, max_votes_per_account=2)
    state, ctx, reg = _state(dev), _ctx(dev), dev.chain.registry
    keys = [d.public_key for d in dev.cfg.delegates]
    for n in range(2):
        apply_tx(state, reg, dev.tx(dev.users[0], VOTE, keys[n], nonce=n), ctx)
    _reject(dev, dev.tx(dev.users[0], VOTE, keys[2], nonce=2), "too_many_votes", state)


def test_deposit_needs_balance(make_dev_chain: Any) -> None:
    dev = make_dev_chain(delegate_deposit=10**15)
    _reject(dev, dev.tx(dev.users[0], DELEGATE_REGISTER, b"\x05alice"), "insufficient_balance")


def test_fee_is_charged_and_nonce_bumped_on_success(dev: DevChain) -> None:
    state = _state(dev)
    a, b = addr(dev.users[0]), addr(dev.users[1])
    before_a, before_b = state.account(a), state.account(b)
    apply_tx(state, dev.chain.registry, dev.transfer(dev.users[0], b, 5), _ctx(dev))
    assert state.account(a).balance == before_a.balance - 5 - FEE
    assert state.account(a).nonce == before_a.nonce + 1
    assert state.account(b).balance == before_b.balance + 5


def test_submit_tx_uses_pending_state_for_nonces(dev: DevChain) -> None:
    dev.chain.submit_tx(dev.transfer(dev.users[0], addr(dev.users[1]), 5))
    dev.chain.submit_tx(dev.transfer(dev.users[0], addr(dev.users[1]), 6))
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(dev.transfer(dev.users[0], addr(dev.users[1]), 7, nonce=0))
    assert info.value.reason == "wrong_nonce"
    assert len(dev.chain.mempool) == 2


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    type_id=st.sampled_from([1, 2, 3, 4, 5, 6, 300]),
    payload=st.one_of(st.binary(max_size=80), st.just(b"\x05alice")),
    nonce=st.integers(0, 2),
    fee=st.sampled_from([0, 10_000, FEE, 10**20 % 2**64]),
    user=st.integers(0, 4),
)
def test_fuzzed_txs_either_apply_fully_or_change_nothing(
    dev: DevChain, type_id: int, payload: bytes, nonce: int, fee: int, user: int
) -> None:
    state = _state(dev)
    key = dev.users[user]
    tx = dev.tx(key, type_id, payload, nonce=nonce, fee=fee)
    before = state.changes()
    try:
        apply_tx(state, dev.chain.registry, tx, _ctx(dev))
    except TxRejectedError as exc:
        assert exc.reason and exc.detail
        assert state.changes() == before
    else:
        assert state.account(addr(key)).nonce == nonce + 1
