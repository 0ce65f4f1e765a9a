"""A user's swap-in lock whose claim branch is a committee policy (design-14 section 2.1:
swap-in HTLC v2 and marker v2), as the exchange's Bitcoin verifier reads it.

The verifier accepts exactly the swap-in v2 template with its one marker v2; the lock's claim
key is then the policy bytes (``0xa0 || m || n || keys``), which no legacy pool's 33-byte claim
key equals: a policy lock opens no swap with a legacy pool (``wrong_claim_key``). Attacks
performed through the real tx types and SPV: no marker, a v1 marker instead, a decoy v2
marker first, a second marker, a marker naming another refund key, timelock or policy, and a
counter HTLC v2 (the vault's lock) presented as a user's lock.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_exchange_btc_proofs import rejected, tx_paying, world  # noqa: F401
from test_txtypes import H

from etm_bridge.chains.bitcoin.custody import ecdsa, scripts
from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.errors import TxRejectedError, ValidationError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.reasons import Reason

pytestmark = pytest.mark.unit

KEYS = tuple(sorted(ecdsa.pubkey(bytes([0x30 + i]) * 32) for i in range(4)))
POLICY = scripts.KeyPolicy(3, KEYS)
OTHER = scripts.KeyPolicy(2, KEYS[:3])
REFUND = ecdsa.pubkey(bytes([0x71]) * 32)


def _marker(htlc: scripts.SwapInHtlc) -> bytes:
    return scripts.MarkerV2.of(htlc).script_pubkey()


def _lock(htlc: scripts.SwapInHtlc | scripts.CounterHtlc, *markers: bytes) -> bytes:
    return tx_paying((100_000, bp.p2wsh(htlc.script)), *((0, m) for m in markers))


def test_the_swap_in_v2_template_with_its_marker_is_read_as_a_policy_lock() -> None:
    htlc = scripts.SwapInHtlc(H, POLICY, REFUND, 900)
    assert bp.policy_lock(htlc.script) == htlc
    bp.require_policy_marker(parse_tx(_lock(htlc, _marker(htlc))), htlc)
    counter = scripts.CounterHtlc(H, REFUND, POLICY, 900)
    with pytest.raises(ValidationError, match="not a swap-in lock"):
        bp.policy_lock(counter.script)
    with pytest.raises(ValidationError):
        bp.policy_lock(POLICY.vault_script())


def test_a_policy_lock_needs_its_one_marker_v2(world: Any) -> None:  # noqa: F811
    btc, led = world
    timelock = btc.height + 140
    htlc = scripts.SwapInHtlc(H, POLICY, REFUND, timelock)
    real = _marker(htlc)
    v1 = bp.lock_marker(KEYS[0], REFUND, timelock)
    variants = {
        "no marker": (),
        "a v1 marker instead": (v1,),
        "a v1 marker first": (v1, real),
        "a decoy v2 marker first": (_marker(scripts.SwapInHtlc(H, POLICY, REFUND, 7)), real),
        "a second marker after": (real, real),
        "another refund key": (_marker(scripts.SwapInHtlc(H, POLICY, KEYS[0], timelock)),),
        "another timelock": (_marker(scripts.SwapInHtlc(H, POLICY, REFUND, timelock + 1)),),
        "another policy": (_marker(scripts.SwapInHtlc(H, OTHER, REFUND, timelock)),),
    }
    for case, markers in variants.items():
        proof = btc.include(_lock(htlc, *markers), 0, htlc.script)
        swap = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof)
        rejected(Reason.UNMARKED_LOCK, lambda: led.send("alice", tt.SWAP_IN, swap))  # noqa: B023
        assert led.pool().asset_pending_in == 0, case
    # with its marker the lock is read, and its claim (the policy) is not the legacy pool's key
    proof = btc.include(_lock(htlc, real), 0, htlc.script)
    swap = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof)
    rejected(Reason.WRONG_CLAIM_KEY, lambda: led.send("alice", tt.SWAP_IN, swap))
    assert led.pool().asset_pending_in == 0


def test_the_vaults_counter_lock_is_no_users_swap_in(world: Any) -> None:  # noqa: F811
    btc, led = world
    counter = scripts.CounterHtlc(H, REFUND, POLICY, btc.height + 140)
    raw = _lock(counter, scripts.MarkerV2.of(counter).script_pubkey())
    proof = btc.include(raw, 0, counter.script)
    swap = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof)
    with pytest.raises(TxRejectedError) as err:
        led.send("alice", tt.SWAP_IN, swap)
    assert err.value.reason == "malformed_proof" and "HTLC template" in str(err.value), err.value
    assert led.pool().asset_pending_in == 0
