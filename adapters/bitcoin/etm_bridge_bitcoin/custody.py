"""The Bitcoin adapter's CUSTODY capability (design-14 10.3): committee policies and spends.

* ``watch_policy(policy)``: v2 locks whose marker names ``sha256(policy)`` are rebuilt from
  then on (``find_locks``, ``get_lock``, ``htlc_activity``): the marker carries the policy's
  hash only, so a lock is found only for a policy we were told, and only if the script rebuilt
  from the marker, the hashlock and that policy is the one the output pays (``v2.py``).
* ``custody_submit(raw)``: sends a committee spend (assembled from the members' signatures by
  ``etm_bridge.chains.bitcoin.custody.build``). Every input must spend a committee script of a
  watched policy (the vault, or a v2 lock's committee side): anything else is refused before
  the node sees it. Already in the mempool or in one of the last ``SUBMIT_LOOKBACK`` blocks is
  success (a second signer submitting the same spend).
* ``custody_status(ref)`` / ``custody_outcome_proof(ref, item)``: where a spend is, and its
  ``bitcoin-merkle`` proof (the adapter's inclusion-proof path) naming output ``item``.
* ``custody_spends(outpoints, since_height)``: the transactions spending watched outpoints
  (``txid_le 32 || vout u32 LE``, as the custody ledger names them), mined from
  ``since_height`` on or in the mempool, with their raw bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

from bitcoin.core import CBlock, CTransaction

from etm_bridge.adapter import InclusionProof, ObservedSpend, PaymentStatus
from etm_bridge.chains.bitcoin.custody.scripts import CLAIM_SELECTOR, REFUND_SELECTOR
from etm_bridge.errors import LockNotFoundError, RPCError, ValidationError

from .activity import HashlockResolver
from .index import ChainIndex
from .v2 import (
    CounterHtlc,
    KeyPolicy,
    SwapInHtlc,
    parse_htlc_script,
    parse_policy,
    parse_vault_script,
)

#: How many recent blocks ``custody_submit`` searches for a spend the node calls known.
SUBMIT_LOOKBACK = 144
#: Core's ``RPC_VERIFY_ALREADY_IN_CHAIN``.
ALREADY_IN_CHAIN = -27


class _Host(Protocol):
    """What the mixin uses of :class:`~etm_bridge_bitcoin.adapter.BitcoinAdapter`."""

    rpc: Any
    index: ChainIndex
    _policies: dict[bytes, KeyPolicy]
    _resolver: HashlockResolver
    _submitted: dict[str, int]

    def payment_status(self, txid: str, *, since_height: int = 0) -> PaymentStatus: ...
    def transaction_proof(self, txid: str, height: int) -> InclusionProof: ...
    def _block(self, height: int) -> CBlock: ...
    def _mempool_tx(self, txid: str) -> CTransaction | None: ...
    def _broadcast(self, tx: CTransaction) -> str: ...


def committee_policy(witness_script: bytes) -> KeyPolicy | None:
    """The policy whose signatures spend ``witness_script`` on its committee side (the vault,
    a swap-in v2's claim, a counter v2's refund), or None for any other script."""
    try:
        return parse_vault_script(witness_script)
    except ValidationError:
        pass
    try:
        htlc = parse_htlc_script(witness_script)
    except ValidationError:
        return None
    return htlc.policy if isinstance(htlc, SwapInHtlc | CounterHtlc) else None


def committee_spend_policy(witness: Sequence[bytes]) -> KeyPolicy | None:
    """The policy whose m signatures this input's ``witness`` spends with: a vault script, or
    a v2 lock through its **committee branch** (the selector under the script: ``0x01`` for a
    swap-in v2's claim, empty for a counter v2's refund). None for anything else, the user's
    branch of a v2 lock included (a swap-in refund, a counter claim: the user's own spends)."""
    if len(witness) < 2:
        return None
    script, selector = bytes(witness[-1]), bytes(witness[-2])
    policy = committee_policy(script)
    if policy is None or script == policy.vault_script():
        return policy
    htlc = parse_htlc_script(script)
    wanted = CLAIM_SELECTOR if isinstance(htlc, SwapInHtlc) else REFUND_SELECTOR
    return policy if selector == wanted else None


def _outpoint(txin: Any) -> bytes:
    return bytes(txin.prevout.hash) + int(txin.prevout.n).to_bytes(4, "little")


class CustodyMixin:
    """The CUSTODY methods of the Bitcoin adapter (see the module docstring)."""

    def watch_policy(self: _Host, policy: bytes) -> None:
        parsed = parse_policy(policy)
        if parsed.hash() in self._policies:
            return
        self._policies[parsed.hash()] = parsed
        # locks the resolver already judged without the policy are judged again
        fresh = HashlockResolver()
        for hashlock in self._resolver.watched:
            fresh.watch(hashlock)
        self._resolver = fresh

    def custody_submit(self: _Host, signed: bytes) -> str:
        try:
            tx = CTransaction.deserialize(signed)
        except Exception as exc:  # python-bitcoinlib raises several types on bad bytes
            raise ValidationError(
                f"custody_submit: not a raw Bitcoin transaction ({exc})"
            ) from None
        witnesses = tx.wit.vtxinwit if not tx.wit.is_null() else []
        for k in range(len(tx.vin)):
            items = list(witnesses[k].scriptWitness) if k < len(witnesses) else []
            policy = committee_spend_policy(items)
            if policy is None or policy.hash() not in self._policies:
                raise ValidationError(
                    f"custody_submit: input {k} does not spend a committee script of a watched "
                    "policy through its committee side (the vault, a swap-in v2's claim, a "
                    "counter v2's refund): refused; only committee spends go through "
                    "custody_submit (watch_policy the policy first; a user's refund or claim "
                    "of a v2 lock is the adapter's refund/claim)"
                )
        txid = tx.GetTxid()[::-1].hex()
        tip = int(self.rpc.call("getblockcount"))
        try:
            self._broadcast(tx)
        except RPCError as exc:
            if not _known(self, txid, tip, exc):
                raise
        self._submitted.setdefault(txid, max(self.index.birth_height, tip - SUBMIT_LOOKBACK))
        return txid

    def custody_status(self: _Host, ref: str) -> PaymentStatus:
        since = self._submitted.get(ref, self.index.birth_height)
        return self.payment_status(ref, since_height=since)

    def custody_outcome_proof(self: _Host, ref: str, item: int | None) -> InclusionProof:
        status = CustodyMixin.custody_status(self, ref)
        if status.block_height is None:
            raise LockNotFoundError(f"custody spend {ref} is not mined yet; no proof")
        proof = self.transaction_proof(ref, status.block_height)
        if item is not None:
            n_out = len(CTransaction.deserialize(proof.leaf).vout)
            if not 0 <= item < n_out:
                raise ValidationError(f"custody spend {ref} has no output {item} (0..{n_out - 1})")
        return dataclasses.replace(proof, item=item)

    def custody_spends(
        self: _Host, watched: Sequence[bytes], since_height: int
    ) -> list[ObservedSpend]:
        wanted = set()
        for point in watched:
            if not isinstance(point, bytes) or len(point) != 36:
                raise ValidationError("a watched outpoint is txid_le 32 || vout u32 LE (36 bytes)")
            wanted.add(point)
        if since_height < 0:
            raise ValidationError(f"since_height must be >= 0, got {since_height}")
        found: list[ObservedSpend] = []
        tip = int(self.rpc.call("getblockcount"))
        for height in range(since_height, tip + 1):
            found += _spending(self._block(height).vtx, wanted, height)
        pending = [self._mempool_tx(str(t)) for t in self.rpc.call("getrawmempool")]
        found += _spending([t for t in pending if t is not None], wanted, None)
        return found


def _spending(txs: Sequence[Any], wanted: set[bytes], height: int | None) -> list[ObservedSpend]:
    out = []
    for tx in txs:
        spent = tuple(p for p in map(_outpoint, tx.vin) if p in wanted)
        if spent:
            txid = tx.GetTxid()[::-1].hex()
            out.append(ObservedSpend(txid, height, tx.serialize(), spent))
    return out


def _known(host: _Host, txid: str, tip: int, exc: RPCError) -> bool:
    """True if the node refused ``txid`` because it already has it (mempool or chain)."""
    if exc.code == ALREADY_IN_CHAIN:
        return True
    if txid in {str(t) for t in host.rpc.call("getrawmempool")}:
        return True
    start = max(host.index.birth_height, tip - SUBMIT_LOOKBACK)
    return any(
        any(tx.GetTxid()[::-1].hex() == txid for tx in host._block(h).vtx)
        for h in range(tip, start - 1, -1)
    )
