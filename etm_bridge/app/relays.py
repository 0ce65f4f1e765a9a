"""Feeding the ETM chain's relays of the foreign chains (use case): ``spv relay``.

:func:`feed` sends, for each chain (default: every configured chain whose relay anyone may
feed), the headers of its node's best chain that the relay on ETM lacks, signed with the
wallet's ETM key, one batch per transaction, each waited for.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..chains.registry import chain_registry
from ..errors import ConfigError
from ..etm_client.header_feed import check_batch, feed_missing_headers
from ..etm_client.submit import Submitter
from .context import AppContext


def feedable(ctx: AppContext) -> list[str]:
    """The configured chains whose relay on ETM anyone may feed."""
    found = []
    for name in ctx.chains():
        chain = chain_registry().for_leg(name, ctx.adapter_entry(name))
        relay = None if chain is None else chain.relay
        if relay is not None and name != ctx.etm_name_or_none() and relay.permissionless:
            found.append(name)
    return found


def feed(
    ctx: AppContext,
    chains: Sequence[str] | None = None,
    *,
    url: str | None = None,
    batch: int | None = None,
    fee: int | None = None,
) -> dict[str, int]:
    """Feed each relay what it lacks (the ETM node at ``url``, else ``[etm] url``); chain ->
    headers sent."""
    wanted = [ctx.resolve(c) for c in chains] if chains is not None else feedable(ctx)
    if not wanted:
        raise ConfigError(
            "no configured chain has a relay on ETM that anyone may feed: add its "
            "[chains.<name>] table (see docs/config.md) or start the local stack"
        )
    records = {name: ctx.foreign(name) for name in wanted}
    for record in records.values():
        check_batch(record, batch)  # before anything is sent
    client = ctx.node(url)
    submitter = Submitter(client, ctx.wallet().etm_signing_key())
    sent = {}
    for name, record in records.items():
        source = ctx.adapter(name)
        sent[name] = feed_missing_headers(client, submitter, source, record, batch=batch, fee=fee)
    return sent
