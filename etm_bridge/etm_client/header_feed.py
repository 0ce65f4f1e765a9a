"""Feeding a foreign chain's headers to its relay on ETM through the node's API (no database).

:func:`feed_missing_headers` compares a source of headers (any
:class:`~etm_bridge.adapter.ChainAdapter`: ``tip()`` and ``headers()``) with the ETM chain's
relay of that chain (``/api/spv/<ticker>``, ``/best/<height>``), finds the fork point
(:func:`etm_bridge.spv.fork_point.common_height`) and sends the headers after it as the relay's
headers transactions, in batches. Who may send them is the relay's rule (``permissionless``: any
key; else the trusted relayers named in the ETM genesis). A relay that does not exist yet counts
as tip 0 when the chain's first batch starts it (``missing_relay`` None), else it is an error.

What a chain's relay looks like comes from its chain profile (the registry's ``RelaySpec``: the
relay's headers type, header id form, batch limit, status tip field).

Relayers race: every user of a pool relays the headers its own proof needs, so between reading
the relay's tip and sending, another relayer may have sent the same headers. The relay then
refuses the batch as ``spv_duplicate``; that is not a failure (the headers are there): the
feed finds the fork point again and sends only what is still missing (issue 13: with 50
concurrent swaps every proof step was failing this way and retrying with backoff).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..adapter import Tip
from ..chain.keys import SigningKey
from ..chains.profile import ChainProfile
from ..chains.registry import chain_registry
from ..errors import ChainError, NotFoundError, TxRejectedError, ValidationError
from ..node.client import NodeClient
from ..spv.fork_point import common_height
from .submit import Submitter

DEFAULT_BATCH = 500
#: A batch another relayer sent first (the relay's refusal of headers it stores).
DUPLICATE = "spv_duplicate"
#: How many such races one feed takes before the refusal is raised.
MAX_RACES = 8


class HeaderSource(Protocol):
    """Where headers come from: any :class:`~etm_bridge.adapter.ChainAdapter` fits."""

    def tip(self) -> Tip: ...
    def headers(self, start_height: int, count: int) -> list[bytes]: ...


def relay_tip(client: NodeClient, chain: ChainProfile) -> int | None:
    """The best height of ``chain``'s relay on ETM; None if the relay does not exist (yet)."""
    try:
        status = client.spv_relay(chain.ticker)
    except NotFoundError:
        return None
    tip = status.get("tip") or {}
    return int(tip.get(chain.require_relay().tip_field, 0))


def fork_point(client: NodeClient, chain: ChainProfile, source: HeaderSource) -> int:
    """The highest height at which ``source``'s best chain and the relay's agree (0: none)."""
    tip = relay_tip(client, chain)
    if tip is None:
        if chain.require_relay().missing_relay is not None:
            raise ChainError(chain.require_relay().missing_relay)
        tip = 0  # the relay starts with the first batch

    def agree(height: int) -> bool:
        relay_hash = client.spv_best_hash(chain.ticker, height)
        if relay_hash is None:  # below the relay's checkpoint
            raise ChainError(f"the {chain.ticker} node's chain does not contain the checkpoint")
        return chain.require_relay().header_id(source.headers(height, 1)[0]) == relay_hash

    return common_height(min(tip, source.tip().height), agree, floor=1) or 0


def check_batch(chain: ChainProfile, batch: int | None) -> int:
    """Headers per transaction: ``batch``, or the default within the relay's limit."""
    most = chain.require_relay().max_headers_per_tx
    batch = min(DEFAULT_BATCH, most) if batch is None else batch
    if not 1 <= batch <= most:
        raise ValidationError(f"batch must be 1..{most} headers, got {batch}")
    return batch


def feed_missing_headers(
    client: NodeClient,
    submitter: Submitter,
    source: HeaderSource,
    chain: ChainProfile,
    *,
    batch: int | None = None,
    fee: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Send every header of ``source``'s best chain the relay lacks; how many were sent (by
    us: a batch another relayer sent first is skipped, see the module).
    ``progress(sent, height)`` after each batch (each waits for its block)."""
    batch = check_batch(chain, batch)
    tip = source.tip().height
    start, sent, races = fork_point(client, chain, source) + 1, 0, 0
    while start <= tip:
        headers = source.headers(start, min(batch, tip - start + 1))
        if not headers:
            break
        relay = chain.require_relay()
        try:
            submitter.submit_raw(relay.headers_type_id, relay.encode_headers(headers), fee=fee)
        except TxRejectedError as exc:
            if exc.reason != DUPLICATE or races >= MAX_RACES:
                raise
            races += 1  # another relayer sent them first: start again after what it sent
            start = fork_point(client, chain, source) + 1
            continue
        start, sent = start + len(headers), sent + len(headers)
        if progress is not None:
            progress(sent, start - 1)
    return sent


def relay_missing_headers(
    client: NodeClient,
    key: SigningKey,
    source: HeaderSource,
    *,
    chain: str,
    batch: int | None = None,
    fee: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """:func:`feed_missing_headers` for a relayer holding only ``key``: the relay of ``chain``
    (a chain's name, ticker or alias), signed by a submitter of its own."""
    found = chain_registry().find(chain)
    if found is None or found.relay is None:
        raise ValidationError(f"no foreign chain named {chain!r} has a relay on ETM")
    submitter = Submitter(client, key)
    return feed_missing_headers(
        client, submitter, source, found, batch=batch, fee=fee, progress=progress
    )
