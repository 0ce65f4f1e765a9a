"""The ports the swap engine and the use cases talk to ETM through (protocols and values, pure).

- :class:`SwapGateway`: what the watcher needs of ETM besides the HTLC leg itself (the foreign
  chain's relay on ETM, the status and submission of a swap in's SPV proof, a swap out's lock,
  a pool swap in's bonded intent and its cancel).
  Tests implement it with an in-memory exchange; ``etm_client.exchange.NodeExchange`` over a
  node's HTTP API.
- :class:`PoolSwapLog`: the pools' swap log, which the operator's engine follows.
- :class:`EtmExchange`: everything the use cases need of ETM (pools, quotes, bindings, intents,
  deposits, relays), signed with one ETM key.

Chain names are the engine's leg names (``[chains.<name>]``); assets are the exchange's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ...adapter import HtlcLock, HtlcTerms, InclusionProof
from ...exchange.htlc import Htlc
from ...exchange.records import PoolSwap
from .model import SwapRecord
from .pool_terms import PoolInfo
from .views import ProofView


@dataclass(frozen=True)
class TxResult:
    """An ETM transaction we submitted: its id, fee, ``pending``/``confirmed`` and height."""

    id: str
    fee: int
    status: str
    height: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "fee": self.fee, "status": self.status}
        if self.status == "confirmed":
            out["height"] = self.height
        return out


class SwapGateway(Protocol):
    """The ETM exchange operations of a pool swap besides the HTLC itself."""

    def relay_tip(self, chain: str) -> int:
        """Best height of ``chain`` that the ETM SPV relay knows."""
        ...

    def relay_header_at(self, chain: str, height: int) -> bytes | None:
        """The raw header the relay's best chain has at ``height`` (None if none)."""
        ...

    def relay_headers(self, chain: str, start_height: int, headers: list[bytes]) -> int:
        """Submit raw headers from ``start_height`` (which may fork below the relay's tip);
        returns the relay's new tip height."""
        ...

    def proof_view(self, rec: SwapRecord, relay_tip: int) -> ProofView:
        """ETM's judgement of the proof of ``rec``'s user lock (none / accepted / rejected)."""
        ...

    def submit_proof(self, rec: SwapRecord, lock: HtlcLock, proof: InclusionProof) -> str:
        """Submit the SPV proof of ``lock``; returns the ETM transaction id."""
        ...

    def lock_swap_out(self, terms: HtlcTerms, asset: str, min_out: int) -> HtlcLock:
        """Lock our ETM to pool ``asset`` (``xchg_swap_out``: the pool reserves at least
        ``min_out`` of the asset for us); ``terms.claim_key`` is the pool's leg key."""
        ...

    def cancel_intent(self, hashlock: bytes) -> TxResult:
        """``xchg_swap_intent_cancel`` (issue 15), waited for."""
        ...

    def swap_intent(self, hashlock: bytes) -> dict[str, Any] | None:
        """Our bonded intent for ``hashlock`` (None if none)."""
        ...


@runtime_checkable
class InclusionWatch(Protocol):
    """An adapter that tracks whether its submitted transactions reach a block (the ETM leg on a
    :class:`~etm_bridge.etm_client.endpoints.NodeSet`). ``check_inclusion`` re-sends late ones
    and returns the suspected censorships (items with ``tx_id`` and ``message()``); the watcher
    calls it once per tick."""

    def check_inclusion(self) -> tuple[Any, ...]: ...


class PoolSwapLog(Protocol):
    """The pools' swap log on ETM, read from a cursor."""

    def exchange_swaps(
        self, asset: str, after: str | None = None
    ) -> tuple[list[tuple[PoolSwap, Htlc]], str | None]:
        """The swaps pool ``asset`` opened after cursor ``after`` (None: all), with their HTLC,
        in the order opened, and the cursor to poll from next."""
        ...

    def log_heights(self) -> tuple[int, int]:
        """(tip height, finalized height) of the ETM chain the log is read from."""
        ...


class EtmExchange(SwapGateway, PoolSwapLog, Protocol):
    """Everything the use cases need of ETM, signed with one ETM key."""

    def etm_address(self) -> str: ...

    def pools(self) -> list[PoolInfo]: ...

    def pool(self, asset: str) -> dict[str, Any]:
        """The pool's API record; NotFoundError if there is none."""
        ...

    def pool_info(self, asset: str) -> PoolInfo:
        """What the terms need of pool ``asset``; SwapError naming the asset if none."""
        ...

    def quote(self, asset: str, direction: str, amount_in: int) -> dict[str, Any]: ...

    def deposit_quote(self, asset: str, amount: int) -> dict[str, Any]: ...

    def bound_key(self, address: str, ticker: str) -> bytes | None: ...

    def last_binding_nonce(self, address: str, ticker: str) -> int | None: ...

    def submit(
        self, type_id: int, payload: Any, *, fee: int | None = None, wait: bool = True
    ) -> TxResult: ...

    def record_intent(self, asset: str, hashlock: bytes, amount_in: int, min_out: int) -> TxResult:
        """``xchg_swap_intent`` (pins ``min_out``, reserves the hashlock and the quoted output
        against a bond), waited for."""
        ...

    def submit_deposit(
        self, asset: str, proof: bytes, *, etm_max: int, min_shares: int = 1, fee: int | None = None
    ) -> TxResult: ...

    def relay_all(self) -> dict[str, int]:
        """Feed every relay we may feed (the operator's continuous relaying): chain -> sent."""
        ...

    def relay_confirmations(self, chain: str, height: int, header: bytes) -> int:
        """Confirmations the ETM relay holds of ``chain``'s block ``header`` at ``height``
        (0: not on the relay's best chain, yet or any more)."""
        ...

    def status(self) -> Mapping[str, Any]: ...
