"""The ETM chain's relays of the foreign chains (use cases): ``spv status|relay|risk``.

:func:`status` reads the relays' tips, checkpoints and forks from a node's API, or offline
from its data directory (:mod:`etm_bridge.node.inspect`). :func:`confirmation_rule` is the
whitepaper's confirmation rule (section 3.1) for an attacker share and a risk. :func:`feed`
sends, for each chain (default: every configured chain whose relay anyone may feed), the headers
of its node's best chain that the relay on ETM lacks, signed with the wallet's ETM key, one
batch per transaction, each waited for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..chains.registry import chain_registry
from ..errors import ConfigError
from ..etm_client.header_feed import check_batch, feed_missing_headers
from ..etm_client.submit import Submitter
from ..node.client import NodeClient
from ..node.inspect import relay_status_at
from ..spv import confirmation_risk
from ..spv.genesis_section import SpvSection
from .context import AppContext


def status(ctx: AppContext, *, url: str | None = None, data_dir: Path | None = None) -> dict:
    """Relay name -> its status: from the node at ``url`` (else ``[etm] url``), or, given a
    ``data_dir`` (or with no node configured, ``<home>/node``), read offline from its chain."""
    url = url if url or data_dir else ctx.require_config().etm_url
    if url:
        return NodeClient(url).spv_status()
    return relay_status_at(data_dir or ctx.require_config().home.node_dir)


def genesis_relays(relays: dict[str, Any], allow_dev_pools: bool) -> SpvSection | None:
    """The genesis ``spv`` section of a new chain: the relays ``node init`` was asked for
    (ticker -> relay config) and whether development relays may carry pools; None: neither."""
    return (
        SpvSection(relays, allow_dev_pools=allow_dev_pools) if relays or allow_dev_pools else None
    )


def confirmation_rule(q: str, risk: str) -> dict[str, Any]:
    """Confirmations an attacker with hash share ``q`` needs to succeed with chance <= ``risk``:
    the exact figure (whitepaper 3.1, Grunspan and Perez-Marco) and Nakamoto's beside it."""
    exact = confirmation_risk.confirmations_required(q, risk)
    return {
        "confirmations": exact,
        "nakamoto_confirmations": confirmation_risk.nakamoto_confirmations_required(q, risk),
        "q": q,
        "risk": risk,
        "attacker_success_probability": confirmation_risk.attacker_success_probability_float(
            q, exact
        ),
        "nakamoto_probability_at_confirmations": confirmation_risk.nakamoto_probability(q, exact),
        "formula": "Grunspan-Perez-Marco exact (whitepaper 3.1)",
    }


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
