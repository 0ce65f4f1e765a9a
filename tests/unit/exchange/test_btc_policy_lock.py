"""A user's swap-in lock whose claim branch is a committee policy (design-14 section 2.1:
swap-in HTLC v2 and marker v2), as the exchange's Bitcoin verifier reads it.

The verifier accepts exactly the swap-in v2 template with its one marker v2; the lock's claim
key is then the policy bytes (``0xa0 || m || n || keys``), which no legacy pool's 33-byte claim
key equals: a policy lock opens no swap with a legacy pool (``wrong_claim_key``). Attacks
performed through the real tx types and SPV: no marker, a v1 marker instead, a decoy v2
marker first, a second marker, a marker naming another refund key, timelock or policy, a
counter HTLC v2 (the vault's lock) presented as a user's lock; and (x7a) non-canonical policy
scripts (key order, duplicate key, OP_n, m > n, non-minimal timelock, PUSHDATA1), the script
wrapped in P2SH-P2WSH, and a marker v2 on a v1 lock.
"""

from __future__ import annotations

from typing import Any

import pytest
from bitcoin.core import Hash160
from bitcoin.core.script import (
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_DROP,
    OP_ELSE,
    OP_ENDIF,
    OP_EQUALVERIFY,
    OP_IF,
    OP_SHA256,
    OP_SIZE,
    CScript,
)
from test_exchange_btc_proofs import rejected, tx_paying, world  # noqa: F401
from test_txtypes import H, btc_key

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


def _swap_in_script(keys: tuple[bytes, ...], m: int, n: int, timelock: object) -> bytes:
    """The swap-in v2 layout with the given multisig part and timelock operand, encoded as
    given (python-bitcoinlib pushes bytes and ints minimally; ``timelock`` may be raw bytes)."""
    return bytes(
        CScript(
            [
                OP_IF, OP_SIZE, bytes([32]), OP_EQUALVERIFY, OP_SHA256, H, OP_EQUALVERIFY,
                m, *keys, n, OP_CHECKMULTISIG,
                OP_ELSE, timelock, OP_CHECKLOCKTIMEVERIFY, OP_DROP, REFUND, OP_CHECKSIG, OP_ENDIF,
            ]
        )
    )  # fmt: skip


def test_non_canonical_or_wrapped_policy_locks_are_no_locks(world: Any) -> None:  # noqa: F811
    """Attack (x7a): pay the vault's committee through a script the template does not spell
    (each is valid Bitcoin and some are claimable by the committee, none can be proven): keys
    out of BIP67 order, a duplicate key, OP_n not the key count, m > n, a non-minimal timelock,
    a key pushed with PUSHDATA1, and the canonical script wrapped in P2SH-P2WSH. Each is
    ``malformed_proof`` before any pool rule: only exact encodings reach the claim-key check."""
    btc, led = world
    t = btc.height + 140
    good = scripts.SwapInHtlc(H, POLICY, REFUND, t)
    canon = good.script
    marker = _marker(good)
    unsorted = (KEYS[1], KEYS[0], KEYS[2], KEYS[3])
    pushdata1 = canon.replace(bytes([0x21]) + KEYS[0], bytes([0x4C, 0x21]) + KEYS[0], 1)
    scripts_by_case = {
        "keys out of order": _swap_in_script(unsorted, 3, 4, t),
        "a duplicate key": _swap_in_script((KEYS[0], KEYS[0], KEYS[1], KEYS[2]), 2, 4, t),
        "OP_n not the key count": _swap_in_script(KEYS, 3, 5, t),
        "m > n": _swap_in_script(KEYS, 5, 4, t),
        "non-minimal timelock": _swap_in_script(KEYS, 3, 4, t.to_bytes(2, "little") + b"\x00"),
        "PUSHDATA1 key": pushdata1,
    }
    assert _swap_in_script(KEYS, 3, 4, t) == canon  # the helper spells the template exactly
    for case, script in scripts_by_case.items():
        assert script != canon, case
        proof = btc.include(_lock_to(script, marker), 0, script)
        swap = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof)
        rejected("malformed_proof", lambda s=swap: led.send("alice", tt.SWAP_IN, s))
    wrapped = b"\xa9\x14" + Hash160(bp.p2wsh(canon)) + b"\x87"  # P2SH(P2WSH(script))
    raw = tx_paying((100_000, wrapped), (0, marker))
    proof = btc.include(raw, 0, canon)
    swap = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof)
    rejected("malformed_proof", lambda: led.send("alice", tt.SWAP_IN, swap))
    assert led.pool().asset_pending_in == 0


def test_a_marker_v2_on_a_v1_lock_is_no_marker(world: Any) -> None:  # noqa: F811
    """Attack (x7a): a v1 lock to the operator's key carrying a marker v2 (naming a policy)
    instead of its v1 marker: the v1 rule wants exactly its own v1 marker (``unmarked_lock``)."""
    btc, led = world
    t = btc.height + 140
    script = bp.htlc_witness_script(H, btc_key("operator"), btc_key("alice"), t)
    v2 = scripts.MarkerV2(scripts.ROLE_SWAP_IN, btc_key("alice"), t, POLICY.hash())
    proof = btc.include(_lock_to(script, v2.script_pubkey()), 0, script)
    swap = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, proof)
    rejected(Reason.UNMARKED_LOCK, lambda: led.send("alice", tt.SWAP_IN, swap))
    assert led.pool().asset_pending_in == 0


def _lock_to(script: bytes, marker: bytes) -> bytes:
    return tx_paying((100_000, bp.p2wsh(script)), (0, marker))
