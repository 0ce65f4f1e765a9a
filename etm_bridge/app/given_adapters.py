"""The pool-swap use cases for a caller that already holds opened adapters by leg name.

The real-node swap tests (their parties, the crash-test watcher processes) open their adapters
themselves and predate :class:`~.context.AppContext`; these functions wrap such a mapping in a
context (``given`` adapters, no config, no store) and call the use cases of :mod:`.swaps` and
:mod:`.watch`, so those tests run unchanged. New code builds an ``AppContext``.

The secret of a new swap comes from :func:`new_preimage`, which is the context's own source
(a test may replace it to replay a secret someone already used).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..adapter import ChainAdapter
from ..errors import ConfigError
from ..etm_client.exchange import NodeExchange
from ..etm_client.htlc_leg import EtmAdapter
from ..swaps.core.model import SwapRecord
from ..swaps.core.pool_terms import LegChain, PoolInfo
from . import context, swaps, watch
from .swaps import chain_of


def new_preimage() -> bytes:
    """A new swap's secret: the context's source (:func:`.context.AppContext.new_secret`)."""
    return context.AppContext().new_secret()


def _context(adapters: Mapping[str, ChainAdapter]) -> context.AppContext:
    return context.AppContext(given=adapters, new_secret=lambda: new_preimage())


class EtmSide:
    """The ETM leg adapter of ``adapters`` plus the pools' swap log (what the operator's
    :class:`~etm_bridge.swaps.runtime.operator.PoolFollower` reads): the leg's reads are the
    adapter's."""

    def __init__(self, adapter: EtmAdapter) -> None:
        self.adapter = adapter
        self._log = NodeExchange(adapter.submitter, adapter, {}, {})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.adapter, name)

    def exchange_swaps(self, asset: str, after: str | None = None) -> Any:
        return self._log.exchange_swaps(asset, after)

    def log_heights(self) -> tuple[int, int]:
        return self._log.log_heights()


def etm_side(adapters: Mapping[str, ChainAdapter]) -> tuple[str, EtmSide]:
    """The ETM leg among ``adapters``: (its leg name, the leg with the pools' swap log)."""
    name = _context(adapters).etm_name()
    return name, EtmSide(_context(adapters).etm_leg())


def make_gateway(
    adapters: Mapping[str, ChainAdapter], *, trusted_relayer: bool = False
) -> NodeExchange | None:
    """The exchange port over the ETM leg among ``adapters`` (None without one);
    ``trusted_relayer``: as :meth:`.context.AppContext.exchange`."""
    ctx = _context(adapters)
    if ctx.etm_name_or_none() is None:
        return None
    return ctx.exchange(trusted_relayer=trusted_relayer)


__all__ = ["chain_of", "etm_side", "make_gateway", "new_preimage", "operator_pools",
           "start_pool_swap"]  # fmt: skip


def operator_pools(adapters: Mapping[str, ChainAdapter]) -> dict[str, tuple[PoolInfo, LegChain]]:
    """:func:`.watch.operator_pools` over ``adapters``."""
    return watch.operator_pools(_context(adapters))


def start_pool_swap(
    adapters: Mapping[str, ChainAdapter],
    from_chain: str,
    to_chain: str,
    amount_in: int,
    *,
    min_out: int | None = None,
    slippage_bps: int = 50,
    lock_within_s: int = 3600,
) -> tuple[SwapRecord, dict[str, Any] | None]:
    """:func:`.swaps.pool_swap_record` over ``adapters``: (our record, not written; the
    quote it pinned)."""
    if not adapters:
        raise ConfigError("no adapters given")
    started = swaps.pool_swap_record(
        _context(adapters), from_chain, to_chain, amount_in, min_out=min_out,
        slippage_bps=slippage_bps, lock_within_s=lock_within_s,
    )  # fmt: skip
    return started.record, started.quote
