"""What a chain's relay rules read from ETM state, written once for every relay.

A chain's ``etm/relay_types.py`` declares its relay's place in state once, as a
:class:`TreeRelayState` (ticker, headers table, how its relay class opens on a store, the
networks' default policies), and takes its readers and header rules from it.

A relay's ``spv_config`` record (:func:`~.relay_types.relay_config`) names its network (the
``network`` field, or the one a chain names instead) and its :class:`~.relay_policy.RelayPolicy`:
:func:`relay_network` and :func:`relay_policy` read them. For the header-tree relays of the UTXO
chains (:class:`~.header_tree.HeaderTree`): :func:`tree_status` (the ``/api/spv/<ticker>`` JSON),
:func:`split_headers` (a relay-headers payload of fixed-size headers) and
:func:`proven_record` (a proven transaction's record, re-checked against today's best chain).
Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..chain.state import State, StateView, TableStore
from ..errors import TxRejectedError, ValidationError
from .header_tree import HeaderTree
from .kvstore import KeyValueStore
from .relay_policy import RelayPolicy
from .relay_types import CONFIG, relay_config, spv_call
from .state_stores import ReadOnlyTableStore

R = TypeVar("R", bound=HeaderTree[Any])


def relay_network(view: StateView, ticker: str, field: str = "network") -> str | None:
    """The ``ticker`` relay's network, None if the chain has none (yet)."""
    cfg = view.get_json(CONFIG, ticker.encode())
    return None if cfg is None else str(cfg[field])


def relay_policy(
    view: StateView,
    ticker: str,
    default_policy: Callable[[str], RelayPolicy],
    field: str = "network",
) -> RelayPolicy:
    """The ``ticker`` relay's policy, missing fields from its network's default (raises
    ``spv_relay_not_initialised``)."""
    cfg = relay_config(view, ticker)
    network = str(cfg[field])
    return RelayPolicy.from_config(cfg, default_policy(network), network)


def _stored_json(stored: Any) -> dict[str, Any]:
    return {
        "height": stored.height,
        "hash": stored.hash_hex,
        "chain_work": hex(stored.chain_work),
        "time": stored.header.time,
    }


def tree_status(
    relay: HeaderTree[Any], min_confirmations: int, policy: RelayPolicy
) -> dict[str, Any]:
    """``/api/spv/<ticker>`` of a header-tree relay: network, checkpoint, tip, policy, forks."""
    tip = relay.tip()
    return {
        "network": relay.network,
        "checkpoint_height": relay.checkpoint_height,
        "tip": _stored_json(tip),
        "min_confirmations": min_confirmations,
        "policy": policy.to_json(),
        "forks": [_stored_json(t) for t in relay.chain_tips() if t.key != tip.key],
    }


def split_headers(payload: bytes, size: int, most: int) -> list[bytes]:
    """A relay-headers payload: 1..``most`` raw headers of ``size`` bytes, concatenated."""
    if not payload or len(payload) % size or len(payload) // size > most:
        raise ValidationError(f"payload must be 1..{most} headers of {size} bytes")
    return [payload[i : i + size] for i in range(0, len(payload), size)]


def proven_record(
    view: StateView,
    table: str,
    key: bytes,
    relay_and_depth: Callable[[StateView], tuple[HeaderTree[Any], int]],
    block_key: Callable[[str], bytes],
    not_proven: str,
) -> dict[str, Any]:
    """The record a proof wrote under ``key`` in ``table``, whose block (``block_key`` of its
    ``block_hash``) must still be in the best chain with the relay's confirmations:
    ``spv_tx_not_proven`` (``not_proven`` says what), ``spv_not_in_best_chain`` or
    ``spv_insufficient_confirmations``. A record is evidence at the time it was made."""
    record = view.get_json(table, key)
    if record is None:
        raise TxRejectedError("spv_tx_not_proven", not_proven)
    relay, confirmations = relay_and_depth(view)
    have = relay.confirmations(block_key(record["block_hash"]))
    if have < confirmations:
        reason = "spv_not_in_best_chain" if have == 0 else "spv_insufficient_confirmations"
        raise TxRejectedError(reason, f"block {record['block_hash']} has {have} confirmations")
    return dict(record, confirmations=have)


@dataclass(frozen=True)
class TreeRelayState(Generic[R]):
    """One chain's header-tree relay in ETM state: its ``spv_config`` record under ``ticker``,
    its tree in the table ``headers``; ``open(store, network)`` is the chain's relay class on
    a store, ``default_policy(network)`` its networks' default policies."""

    ticker: str
    headers: str
    open: Callable[[KeyValueStore, str], R]
    default_policy: Callable[[str], RelayPolicy]

    def relay_and_depth(self, view: StateView, store: KeyValueStore | None = None) -> tuple[R, int]:
        """The relay over ``view`` (or ``store``) and its confirmation floor (raises
        ``spv_relay_not_initialised``)."""
        cfg = relay_config(view, self.ticker)
        relay = self.open(store or ReadOnlyTableStore(view, self.headers), cfg["network"])
        return relay, int(cfg["min_confirmations"])

    def relay_of(self, view: StateView) -> R:
        """The relay, read-only over ``view`` (raises ``spv_relay_not_initialised``)."""
        return self.relay_and_depth(view)[0]

    def policy_of(self, view: StateView) -> RelayPolicy:
        return relay_policy(view, self.ticker, self.default_policy)

    def network(self, view: StateView) -> str | None:
        return relay_network(view, self.ticker)

    def status(self, view: StateView) -> dict[str, Any] | None:
        """``/api/spv/<ticker>`` (None: no relay yet)."""
        if self.network(view) is None:
            return None
        relay, confirmations = self.relay_and_depth(view)
        return tree_status(relay, confirmations, self.policy_of(view))

    def validate_headers(self, view: StateView, headers: Sequence[bytes], now: int) -> None:
        """Check a relay-headers batch (``spv_<rule>``) without writing."""
        relay, _ = self.relay_and_depth(view)
        spv_call(lambda: relay.validate_headers(headers, now))

    def submit_headers(self, state: State, headers: Sequence[bytes], now: int) -> None:
        """Check and store a relay-headers batch (``spv_<rule>``)."""
        relay, _ = self.relay_and_depth(state, TableStore(state, self.headers))
        spv_call(lambda: relay.submit_headers(headers, now))

    def proven(
        self, view: StateView, table: str, key: bytes, block_key: Callable[[str], bytes],
        not_proven: str,
    ) -> dict[str, Any]:  # fmt: skip
        """:func:`proven_record` of this relay."""
        return proven_record(view, table, key, self.relay_and_depth, block_key, not_proven)
