"""Bitcoin transaction inclusion proofs checked against a relay's best chain.

A :class:`BitcoinTxProof` is what a prover submits: the raw transaction, the block hash, the
position, the transaction count and the Merkle branch (optionally the coinbase and its branch,
which pins the tree depth). :func:`check_bitcoin_proof` verifies the branch against the
*stored* header (so the header's proof of work was checked by the relay), requires the block
to be in the relay's best chain, and counts confirmations there: a proof whose block was
reorganised away is invalid, even if it was valid before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay
from etm_bridge.chains.bitcoin.spv.merkle import (
    branch_from_merkle_block,
    parse_merkle_block,
    verify_coinbase_depth,
    verify_tx_in_header,
)
from etm_bridge.chains.bitcoin.spv.tx import ParsedTx, parse_tx
from etm_bridge.errors import InclusionProofError, ValidationError

_FIXED = struct.Struct(">32sIIB")


@dataclass(frozen=True)
class BitcoinTxProof:
    """A transaction, where it is, and the branch that proves it (internal byte order)."""

    raw_tx: bytes
    block_hash_le: bytes
    index: int
    tx_count: int
    branch_le: tuple[bytes, ...]
    coinbase_raw: bytes | None = None
    coinbase_branch_le: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if len(self.block_hash_le) != 32 or any(len(h) != 32 for h in self.branch_le):
            raise ValidationError("block hash and branch entries must be 32 bytes")
        if not (0 <= self.index < 2**32 and 0 <= self.tx_count < 2**32):
            raise ValidationError("index and tx_count must be uint32")
        if len(self.branch_le) > 255 or len(self.coinbase_branch_le) > 255:
            raise ValidationError("a branch has at most 255 hashes")

    @classmethod
    def from_txoutproof(
        cls, raw_tx: bytes, txoutproof: bytes, index: int | None = None
    ) -> BitcoinTxProof:
        """Build a proof from bitcoind's ``gettxoutproof`` result for the tx at ``index``.

        Without ``index``, the position of ``raw_tx``'s txid among the matches is used.
        """
        txid_le = parse_tx(raw_tx).txid_le
        if index is None:
            matches = parse_merkle_block(txoutproof).matches
            positions = [i for i, t in matches if t == txid_le]
            if not positions:
                proven = ", ".join(t[::-1].hex() for _, t in matches)
                raise InclusionProofError(
                    "not-matched",
                    f"the txoutproof proves {proven}, not this transaction ({txid_le[::-1].hex()})",
                )
            index = positions[0]
        header, tx_count, matched_le, branch = branch_from_merkle_block(txoutproof, index)
        if matched_le != txid_le:
            raise InclusionProofError(
                "not-matched",
                f"the txoutproof proves {matched_le[::-1].hex()} at index {index}, not this "
                f"transaction ({txid_le[::-1].hex()})",
            )
        return cls(bytes(raw_tx), header.hash_le, index, tx_count, tuple(branch))

    def encode(self) -> bytes:
        """Payload encoding: tx, fixed fields, branch, then the optional coinbase proof."""
        coinbase = self.coinbase_raw or b""
        parts = [
            struct.pack(">I", len(self.raw_tx)),
            self.raw_tx,
            _FIXED.pack(self.block_hash_le, self.index, self.tx_count, len(self.branch_le)),
            *self.branch_le,
            struct.pack(">I", len(coinbase)),
            coinbase,
            bytes((len(self.coinbase_branch_le),)),
            *self.coinbase_branch_le,
        ]
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> BitcoinTxProof:
        try:
            pos = 0
            (tx_len,) = struct.unpack_from(">I", data, pos)
            raw_tx = data[4 : 4 + tx_len]
            pos = 4 + tx_len
            block, index, tx_count, n = _FIXED.unpack_from(data, pos)
            pos += _FIXED.size
            branch = tuple(data[pos + 32 * i : pos + 32 * i + 32] for i in range(n))
            pos += 32 * n
            (cb_len,) = struct.unpack_from(">I", data, pos)
            coinbase = data[pos + 4 : pos + 4 + cb_len]
            pos += 4 + cb_len
            m = data[pos]
            cb_branch = tuple(data[pos + 1 + 32 * i : pos + 33 + 32 * i] for i in range(m))
            pos += 1 + 32 * m
        except (struct.error, IndexError):
            raise ValidationError("bitcoin proof payload ends early") from None
        if pos != len(data) or len(raw_tx) != tx_len or len(coinbase) != cb_len:
            raise ValidationError("bitcoin proof payload has the wrong length")
        return cls(raw_tx, block, index, tx_count, branch, coinbase or None, cb_branch)


@dataclass(frozen=True)
class ConfirmedTx:
    """A transaction proven to be in the relay's best chain with enough confirmations."""

    tx: ParsedTx
    block_hash_le: bytes
    height: int
    confirmations: int


def check_bitcoin_proof(
    relay: BitcoinRelay, proof: BitcoinTxProof, min_confirmations: int
) -> ConfirmedTx:
    """Verify ``proof`` against the relay; raises :class:`InclusionProofError` naming the rule."""
    stored = relay.get(proof.block_hash_le)
    if stored is None:
        raise InclusionProofError(
            "unknown-block", f"block {proof.block_hash_le[::-1].hex()} is not in the relay"
        )
    header = stored.header
    if proof.coinbase_raw is not None:
        if len(proof.coinbase_branch_le) != len(proof.branch_le):
            raise InclusionProofError("bad-coinbase", "the coinbase proof has another depth")
        verify_coinbase_depth(proof.coinbase_raw, proof.coinbase_branch_le, proof.tx_count, header)
    tx = verify_tx_in_header(proof.raw_tx, proof.branch_le, proof.index, proof.tx_count, header)
    confirmations = relay.require_depth(stored, min_confirmations)
    return ConfirmedTx(tx, proof.block_hash_le, stored.height, confirmations)
