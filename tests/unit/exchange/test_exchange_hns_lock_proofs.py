"""The exchange's Handshake lock verifier against forged lock proofs, rule by rule.

A real Handshake header relay (regtest rules, headers mined here in Python) holds blocks whose
Merkle roots commit to transactions built with the plugin's codec; the real
:class:`~etm_bridge.chains.handshake.etm.verifier.HnsVerifier` checks ``xchg_swap_in`` proofs
against it and a ledger's pool. The honest lock is accepted (and its refund key is the key of the
coin input 0 spends); every forgery is refused with the rule it breaks. The same attacks on real
nodes: ``tests/integration/handshake/test_hns_etm_pool.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from etm_bridge_handshake.codec import Address, Input, Output, Tx
from exchange_harness import Ledger
from test_txtypes import H

from etm_bridge.chains.handshake.etm import scripts
from etm_bridge.chains.handshake.etm.genesis import default_policy
from etm_bridge.chains.handshake.etm.verifier import HnsProof, HnsVerifier
from etm_bridge.chains.handshake.spv import headers as hh
from etm_bridge.chains.handshake.spv.checkpoints import default_checkpoint
from etm_bridge.chains.handshake.spv.header_relay import HandshakeRelay
from etm_bridge.chains.handshake.spv.inclusion import HnsTxProof
from etm_bridge.chains.handshake.spv.merkle import merkle_branch, merkle_root
from etm_bridge.chains.handshake.spv.tx import blake2b160
from etm_bridge.errors import ExchangeError, InclusionProofError, ValidationError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.reasons import Reason
from etm_bridge.spv.kvstore import MemoryKeyValueStore

pytestmark = pytest.mark.unit

CLAIM = bytes([2]) + b"\x0c" * 32  # the pool's claim key
REFUND = bytes([3]) + b"\x0e" * 32  # the user's key: its coin funds the lock
OTHER = bytes([2]) + b"\x0f" * 32
TIMELOCK = 500
AMOUNT = 3_000_000


class MiniHns:
    """Regtest Handshake blocks mined in Python, fed to a real header relay."""

    def __init__(self) -> None:
        self.relay = HandshakeRelay.initialise(
            MemoryKeyValueStore(), hh.REGTEST, default_checkpoint("regtest")
        )

    def mine(self, txs: tuple[Tx, ...] = (), parent: bytes | None = None) -> bytes:
        above = self.relay.get(parent) if parent else self.relay.tip()
        assert above is not None
        height = above.height + 1
        coinbase = Tx((Input(height.to_bytes(32, "big"), 0),), (Output(1, Address(0, bytes(20))),))
        root = merkle_root([t.txid for t in (coinbase, *txs)])
        time = above.header.time + 600
        for nonce in range(1 << 12):
            header = hh.HandshakeHeader(
                nonce, time, above.hash, bytes(32), bytes(24), bytes(32), bytes(32), root, 0,
                0x207FFFFF, bytes(32),
            ).to_bytes()  # fmt: skip
            if int.from_bytes(hh.pow_hash(header), "big") <= hh.REGTEST.pow_limit:
                break
        self.relay.submit_headers([header], time)
        return hh.pow_hash(header)

    def prove(
        self, tx: Tx, parent: bytes | None = None, depth: int = 2
    ) -> tuple[HnsTxProof, bytes]:
        """Mine ``tx`` (after a coinbase) and ``depth - 1`` blocks on it: (proof, block hash)."""
        block = self.mine((tx,), parent)
        tip = block
        for _ in range(depth - 1):
            tip = self.mine(parent=tip)
        coinbase_id = self._coinbase_id(block)
        branch = merkle_branch([coinbase_id, tx.txid], 1)
        return HnsTxProof(tx.encode_base(), block, 1, 2, branch), block

    def _coinbase_id(self, block: bytes) -> bytes:
        stored = self.relay.get(block)
        assert stored is not None
        height = stored.height
        return Tx((Input(height.to_bytes(32, "big"), 0),), (Output(1, Address(0, bytes(20))),)).txid


def funding(key: bytes, salt: bytes = b"\x99") -> Tx:
    """A coin paying ``key`` (pay-to-key): what input 0 of a lock spends."""
    return Tx((Input(salt * 32, 0),), (Output(10 * AMOUNT, Address(0, blake2b160(key))),))


def lock(prev: Tx, script: bytes, markers: tuple[bytes, ...] | None = None) -> Tx:
    markers = (scripts.lock_marker(CLAIM, TIMELOCK),) if markers is None else markers
    outputs = [Output(AMOUNT, Address(0, hashlib.sha3_256(script).digest()))]
    outputs += [Output(0, Address(31, m)) for m in markers]
    return Tx((Input(prev.txid, 0),), tuple(outputs))


@pytest.fixture
def world() -> tuple[MiniHns, Ledger, HnsVerifier]:
    chain = MiniHns()
    verifier = HnsVerifier(lambda view: chain.relay, lambda view: default_policy("regtest"))
    led = Ledger(verifier=tt.ChainVerifiers({"hns": verifier}))
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("hns", CLAIM, 3_000, 100, 1))
    return chain, led, verifier


def verify(world: tuple[MiniHns, Ledger, HnsVerifier], proof: HnsProof):  # type: ignore[no-untyped-def]
    _chain, led, verifier = world
    pool = plans.get_pool(led.state, "hns")
    return verifier.verify_lock(led.state, pool, proof.encode(), led.ctx())


SCRIPT = scripts.htlc_script(H, CLAIM, REFUND, TIMELOCK)


def test_the_honest_lock_is_proven_with_the_refund_key_of_input_0(world) -> None:  # type: ignore[no-untyped-def]
    chain = world[0]
    prev = funding(REFUND)
    tx = lock(prev, SCRIPT)
    proof, block = chain.prove(tx)
    found = verify(world, HnsProof(proof, 0, SCRIPT, prev.encode_base()))
    assert (found.hashlock, found.claim_key, found.refund_key) == (H, CLAIM, REFUND)
    assert (found.lock_id, found.amount, found.block_hash) == (
        tx.txid + (0).to_bytes(4, "big"), AMOUNT, block,
    )  # fmt: skip


def unmarked(world, proof: HnsProof) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExchangeError) as exc:
        verify(world, proof)
    assert exc.value.reason is Reason.UNMARKED_LOCK


def test_a_lock_whose_refund_key_is_not_input_0s_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    """The operator reads the refund key from input 0's witness: a script refunding to another
    key is a lock the operator would watch under the wrong terms."""
    chain = world[0]
    script = scripts.htlc_script(H, CLAIM, OTHER, TIMELOCK)
    prev = funding(REFUND)
    proof, _ = chain.prove(lock(prev, script))
    unmarked(world, HnsProof(proof, 0, script, prev.encode_base()))
    # nor can the attacker hand in another previous transaction that pays the script's key
    fake_prev = funding(OTHER)
    unmarked(world, HnsProof(proof, 0, script, fake_prev.encode_base()))
    with pytest.raises(ValidationError, match="previous transaction of input 0"):
        verify(world, HnsProof(proof, 0, script, b""))  # or none (no context)


def test_locks_without_exactly_their_own_marker_are_refused(world) -> None:  # type: ignore[no-untyped-def]
    chain = world[0]
    real = scripts.lock_marker(CLAIM, TIMELOCK)
    variants = {
        "no marker": (),
        "another timelock": (scripts.lock_marker(CLAIM, TIMELOCK + 1),),
        "another claim key": (scripts.lock_marker(OTHER, TIMELOCK),),
        "a second marker": (real, real),
        "a decoy first": (scripts.lock_marker(CLAIM, 7), real),
    }
    for case, markers in variants.items():
        prev = funding(REFUND, salt=bytes([len(case)]))
        proof, _ = chain.prove(lock(prev, SCRIPT, markers))
        with pytest.raises(ExchangeError) as exc:
            verify(world, HnsProof(proof, 0, SCRIPT, prev.encode_base()))
        assert exc.value.reason is Reason.UNMARKED_LOCK, case


def test_scripts_outputs_and_branches_that_do_not_match_are_refused(world) -> None:  # type: ignore[no-untyped-def]
    chain = world[0]
    prev = funding(REFUND)
    proof, _ = chain.prove(lock(prev, SCRIPT))
    good = HnsProof(proof, 0, SCRIPT, prev.encode_base())
    other_script = scripts.htlc_script(H, CLAIM, REFUND, TIMELOCK + 1)
    with pytest.raises(ValidationError, match="SHA3-256"):
        verify(world, replace(good, witness_script=other_script))
    with pytest.raises(ValidationError):  # the marker output is not an HTLC
        verify(world, replace(good, vout=1))
    with pytest.raises(InclusionProofError) as exc:
        verify(world, replace(good, vout=5))
    assert exc.value.reason == "bad-vout"
    bad_branch = replace(proof, branch=(bytes(32),))
    with pytest.raises(InclusionProofError) as exc:
        verify(world, replace(good, tx_proof=bad_branch))
    assert exc.value.reason == "merkle-root-mismatch"
    with pytest.raises(InclusionProofError) as exc:
        verify(world, replace(good, tx_proof=replace(proof, block_hash=b"\x42" * 32)))
    assert exc.value.reason == "unknown-block"


def test_a_proof_from_a_side_branch_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    chain = world[0]
    fork_point = chain.relay.tip().hash
    prev = funding(REFUND)
    proof, block = chain.prove(lock(prev, SCRIPT), depth=1)
    good = HnsProof(proof, 0, SCRIPT, prev.encode_base())
    assert verify(world, good).block_hash == block
    tip = chain.mine(parent=fork_point)  # a competing branch without the lock, one longer
    chain.mine(parent=tip)
    assert chain.relay.confirmations(block) == 0
    with pytest.raises(InclusionProofError) as exc:
        verify(world, good)
    assert exc.value.reason == "not-in-best-chain"
