"""Verifying a block's signatures ahead of applying it (pure; the threads are the caller's).

Most of what a block costs to validate is public-key cryptography that needs no state: the block
signature (ed25519, in the chain's signing domain), the RANDAO reveal (an RFC 9381 VRF proof, about
ten times an ed25519 verify) and each transaction's signature. A syncing node runs
:func:`preverify` on blocks it has fetched but not applied yet, in worker threads (libsodium
releases the GIL, so they run beside the thread that applies earlier blocks), and hands the
results to the chain (``Chain.note_preverified``). The chain then skips exactly those checks for
exactly those blocks:

* a :class:`Preverified` is keyed by the header's id, the sha256 of its full signed encoding, so
  it can vouch for no other header; the VRF input (network, round of the height) and the signing
  domain (genesis id) are the chain's own, fixed for its life;
* a failure is not recorded: the chain verifies that block again and rejects it with the usual
  reason (``bad_signature``, ``bad_reveal``, ``invalid_transaction``);
* every other rule (slot, delegate, hashing test, payload, state) runs as usual.

:class:`PreverifiedCache` bounds what is kept (the oldest forgotten first): an entry whose block
never arrives at ``apply_block`` only costs memory until it falls out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass

from ..errors import BlockRejectedError
from .block import Block, payload_summary
from .params import ChainParams
from .rules import check_signatures


@dataclass(frozen=True)
class Preverified:
    """What was verified for the block with header id ``block_id``: the reveal's VRF output
    ``beta`` (set only if the block signature and the reveal both verify) and the ids of its
    transactions whose signatures verify."""

    block_id: bytes
    beta: bytes | None
    tx_ids: frozenset[bytes]


def preverify(
    params: ChainParams,
    genesis_id: bytes,
    block: Block,
    generators: Container[bytes] | None = None,
) -> Preverified:
    """Verify ``block``'s block signature, reveal and transaction signatures. Thread-safe: it
    reads only its arguments (immutable values).

    The transactions' signatures (a block may hold thousands) are verified only for a block
    that could be valid: its generator among ``generators`` (the registered, unslashed
    delegates, when given), its signature and reveal verified, its payload the one its header
    commits to. Otherwise nobody but the sender vouches for them (review a13d: a peer answered
    sync requests with blocks of junk-signed transactions under a header of its own key and the
    node verified every one ahead, for the ban score of one invalid block)."""
    h = block.header
    if generators is not None and h.generator_public_key not in generators:
        return Preverified(block.id, None, frozenset())
    try:
        beta: bytes | None = check_signatures(params, genesis_id, h)
    except BlockRejectedError:
        beta = None
    summary = (h.number_of_transactions, h.payload_length, h.payload_hash)
    txs = block.transactions
    if beta is None or summary != (len(txs), *payload_summary(txs)):
        return Preverified(block.id, beta, frozenset())
    tx_ids = frozenset(tx.id for tx in txs if tx.signature_ok())
    return Preverified(block.id, beta, tx_ids)


class PreverifiedCache:
    """At most ``capacity`` :class:`Preverified` by block id holding at most ``max_tx_ids``
    transaction ids in all (a block may hold thousands: blocks that never get applied must not
    hold memory without bound), the oldest forgotten first."""

    def __init__(self, capacity: int = 8_192, max_tx_ids: int = 262_144):
        self.capacity, self.max_tx_ids = capacity, max_tx_ids
        self._by_id: OrderedDict[bytes, Preverified] = OrderedDict()
        self._tx_ids = 0

    def add(self, result: Preverified) -> None:
        self.discard(result.block_id)
        self._by_id[result.block_id] = result
        self._tx_ids += len(result.tx_ids)
        while len(self._by_id) > self.capacity or self._tx_ids > self.max_tx_ids:
            _, old = self._by_id.popitem(last=False)
            self._tx_ids -= len(old.tx_ids)

    def get(self, block_id: bytes) -> Preverified | None:
        return self._by_id.get(block_id)

    def discard(self, block_id: bytes) -> None:
        old = self._by_id.pop(block_id, None)
        if old is not None:
            self._tx_ids -= len(old.tx_ids)

    def __len__(self) -> int:
        return len(self._by_id)
