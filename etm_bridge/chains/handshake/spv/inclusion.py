"""Handshake transaction inclusion proofs checked against a relay's best chain. Pure.

A :class:`HnsTxProof` is the witness-stripped transaction, the block hash, the position, the
block's transaction count and the Merkle branch. :func:`check_hns_proof` parses the transaction
strictly and computes its txid itself, verifies the branch against the **stored** header's
Merkle root (the relay checked its proof of work), and requires the block to be in the relay's
best chain with the confirmations asked: a proof whose block was reorganised away is rejected
(``not-in-best-chain``) even though it was valid before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from etm_bridge.errors import InclusionProofError, ValidationError

from .header_relay import HandshakeRelay
from .merkle import MERKLE_ROOT, root_from_branch
from .tx import StrippedTx, parse_stripped_tx

_FIXED = struct.Struct(">32sIIB")


@dataclass(frozen=True)
class HnsTxProof:
    raw_tx: bytes  # witness-stripped
    block_hash: bytes
    index: int
    tx_count: int
    branch: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if len(self.block_hash) != 32 or any(len(h) != 32 for h in self.branch):
            raise ValidationError("block hash and branch entries must be 32 bytes")
        if not (0 <= self.index < 2**32 and 0 <= self.tx_count < 2**32):
            raise ValidationError("index and tx_count must be uint32")
        if len(self.branch) > 32:
            raise ValidationError("a branch has at most 32 hashes")

    def encode(self) -> bytes:
        return b"".join(
            [
                struct.pack(">I", len(self.raw_tx)),
                self.raw_tx,
                _FIXED.pack(self.block_hash, self.index, self.tx_count, len(self.branch)),
                *self.branch,
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> HnsTxProof:
        try:
            (n,) = struct.unpack_from(">I", data, 0)
            raw = data[4 : 4 + n]
            block, index, count, m = _FIXED.unpack_from(data, 4 + n)
        except struct.error:
            raise ValidationError("handshake proof payload ends early") from None
        pos = 4 + n + _FIXED.size
        branch = tuple(data[pos + 32 * i : pos + 32 * i + 32] for i in range(m))
        if len(raw) != n or pos + 32 * m != len(data):
            raise ValidationError("handshake proof payload has the wrong length")
        return cls(raw, block, index, count, branch)


@dataclass(frozen=True)
class ConfirmedHnsTx:
    tx: StrippedTx
    block_hash: bytes
    height: int
    confirmations: int


def check_hns_proof(
    relay: HandshakeRelay, proof: HnsTxProof, min_confirmations: int
) -> ConfirmedHnsTx:
    """Verify ``proof`` against the relay; raises :class:`InclusionProofError` naming the rule."""
    stored = relay.get(proof.block_hash)
    if stored is None:
        raise InclusionProofError(
            "unknown-block", f"block {proof.block_hash.hex()} is not in the relay"
        )
    try:
        tx = parse_stripped_tx(proof.raw_tx)
    except ValidationError as exc:
        raise InclusionProofError("bad-tx", f"not a stripped Handshake tx: {exc}") from None
    root = root_from_branch(tx.txid, proof.branch, proof.index, proof.tx_count)
    if root != stored.raw[MERKLE_ROOT]:
        raise InclusionProofError("merkle-root-mismatch", "the branch misses the header's root")
    confirmations = relay.require_depth(stored, min_confirmations)
    return ConfirmedHnsTx(tx, proof.block_hash, stored.height, confirmations)
