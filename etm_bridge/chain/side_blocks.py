"""What a block off the main chain must pass before a node keeps it in memory (pure).

A side block (its parent is a known block other than the tip) cannot be fully validated until its
branch is applied (``ledger.Chain`` does that when the branch becomes the longest), but it is
held in memory until then and counted as valid by the peer layer, which relays it. Checked only
for its signature, a block signed by *any* key, not even a delegate's, with a 4 MiB payload of
well-formed transactions was kept (up to 1,000 of them) and relayed to every peer.

:func:`check_side_block` applies every header and payload rule that does not need the branch's
state, so an honest block never fails it: version, network, height and slot after the parent,
payload (count, size, Merkle root), reward, hashing test, signature (in this chain's signing
domain, its genesis id), the RANDAO reveal (its
input is the network and the round of the height, the same on every branch) and, when the
round's order was set on the common chain (the fork is at or after the round's opening close),
the generator: the delegate scheduled at the slot, whose second block for a slot is double
forging. On a branch that crossed a round close of its own the order cannot be known here (a
delegate registered and elected on that branch during a partition is legitimate there), so any
signer passes; ``Chain`` bounds what it keeps of such blocks by count and bytes.
"""

from __future__ import annotations

from ..errors import BlockRejectedError
from .block import Block, BlockHeader
from .genesis import signing_genesis_id
from .params import ChainParams
from .rounds import round_order, slot_delegate
from .rules import check_payload, check_signatures
from .state import StateView


def check_side_block(
    view: StateView,
    params: ChainParams,
    block: Block,
    parent: BlockHeader,
    fork_height: int,
    trusted_beta: bytes | None = None,
) -> None:
    """Raise BlockRejectedError unless ``block`` (child of ``parent``, on a branch that leaves the
    main chain in ``view`` after ``fork_height``) passes every branch-independent rule.

    ``trusted_beta``: as for ``rules.check_header`` (the signature and reveal were verified
    ahead for exactly this header)."""
    h = block.header
    if h.version != params.block_version:
        raise BlockRejectedError(
            "wrong_version", f"version {h.version}, expected {params.block_version}"
        )
    if h.network != params.network_id:
        raise BlockRejectedError("wrong_network", f"header is for network {h.network:#x}")
    if h.height != parent.height + 1:
        raise BlockRejectedError(
            "wrong_height", f"height {h.height} on a parent at {parent.height}"
        )
    slot = params.slot_of(h.timestamp)
    if slot <= params.slot_of(parent.timestamp):
        raise BlockRejectedError("stale_slot", f"slot {slot} is not after its parent's")
    check_payload(params, block)
    if h.reward != params.block_reward:
        raise BlockRejectedError(
            "wrong_reward", f"reward {h.reward}, expected {params.block_reward}"
        )
    if h.hash_value() >= params.hash_target:
        raise BlockRejectedError(
            "hashing_test_failed", "sha256d(header) is not below the hashing target"
        )
    _check_generator(view, params, h, slot, fork_height)
    if trusted_beta is None:  # signature (this chain's signing domain), then reveal
        check_signatures(params, signing_genesis_id(view), h)


def _check_generator(
    view: StateView, params: ChainParams, h: BlockHeader, slot: int, fork_height: int
) -> None:
    """The slot's delegate, when the round's order is the main chain's."""
    round_no = params.round_of(h.height)
    opened_at = (round_no - 1) * params.delegates_per_round  # the close that set the order
    order = round_order(view, round_no) if opened_at <= fork_height else []
    if order:  # else the branch set this round's order itself (module doc)
        expected = slot_delegate(order, slot)
        if h.generator_public_key != expected:
            raise BlockRejectedError("wrong_delegate", f"slot {slot} belongs to {expected.hex()}")
