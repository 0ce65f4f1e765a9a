"""The exchange's proof verifier for UTXO chains, written once: what a proven output is worth.

A UTXO chain's verifier (``etm_bridge/chains/<name>/etm/verifier.py``) subclasses
:class:`UtxoVerifier` and supplies only its chain's rules: how its exchange proof decodes, how
an inclusion is checked against its relay, how an output's value reads, whether an output pays a
key, how a deposit names its ETM owner and a payment its obligations, and what makes an output a
lock (:meth:`UtxoVerifier.lock_terms`: script template, marker, ...). What every such chain
shares lives here:

- the output ``vout`` of a transaction proven in the relay's best chain (``bad-vout``), its
  block's timestamp and the relay's tip (:meth:`UtxoVerifier.proven`);
- the depth every proof needs: ``max(relay floor, pool min_confirmations, value-scaled depth)``
  sized on everything proven from the proof's block (:mod:`.proof_budget`; deposits and
  payments refuse a shallower proof as ``insufficient-confirmations``, a lock carries the depth
  it needs in its record and the swap rules refuse it);
- deposit: the output pays the pool's claim key (``wrong_destination``), the owner is the one
  the transaction names; a committee pool has no claim key: the deposit carries what it pays
  (``destination_of``) and its outpoint, and the custody port decides; payment: the output
  pays one of the obligations the transaction lists;
- ids: a lock's, deposit's or payment's id is ``txid || vout u32 BE``. Pure.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from ..chain.address import encode_address
from ..chain.registry import TxContext
from ..chain.state import StateView
from ..errors import ExchangeError, InclusionProofError
from ..spv.header_tree import HeaderTree
from ..spv.relay_policy import RelayPolicy
from .obligations import VerifiedDeposit, VerifiedPayment
from .plans import get_obligation
from .pool import COMMITTEE_OPERATOR, Pool
from .proof_budget import value_at_risk
from .reasons import Reason
from .swap_rules import VerifiedForeignLock


class ExchangeProof(Protocol):
    """A chain's exchange proof names the output that matters."""

    @property
    def vout(self) -> int: ...


class ParsedTx(Protocol):
    """A chain's parsed transaction has outputs."""

    @property
    def outputs(self) -> Sequence[Any]: ...


P = TypeVar("P", bound=ExchangeProof)
T = TypeVar("T", bound=ParsedTx)
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class Included(Generic[T]):
    """A transaction in the relay's best chain: its block (relay key), height and depth."""

    tx: T
    block: bytes
    height: int
    confirmations: int


@dataclass(frozen=True)
class ProvenOutput(Generic[P, T]):
    """A checked proof: the output that matters, its value, its block and the relay's tip."""

    proof: P
    tx: T
    out: Any
    value: int
    included: Included[T]
    block_time_s: int  # the block's header timestamp (unix)
    tip_height: int
    tip_time: int


class UtxoVerifier(Generic[P, T]):
    """The exchange's :class:`~.txtypes.ForeignVerifier` of a UTXO chain (see the module).

    ``relay_of(view)`` opens the chain's header relay on the state being checked;
    ``policy_of(view)`` reads its :class:`RelayPolicy` (None: the relay network's default
    policy, :meth:`default_policy`); ``pool_network(view, ticker, ctx)`` refuses pools on
    development relays (None: none refused); ``block_time_s`` (None: :attr:`BLOCK_TIME_S`)
    is the chain's block time a lock's remaining-time estimate uses."""

    #: the chain's ticker (the pool-network check), its base unit's name (messages) and its
    #: nominal block time (the default ``block_time_s``)
    TICKER: ClassVar[str]
    UNIT: ClassVar[str]
    BLOCK_TIME_S: ClassVar[int]

    def __init__(
        self,
        relay_of: Callable[[StateView], Any],
        policy_of: Callable[[StateView], RelayPolicy] | None = None,
        pool_network: Callable[[StateView, str, TxContext], None] | None = None,
        block_time_s: int | None = None,
    ):
        self.relay_of: Callable[[StateView], HeaderTree[Any]] = relay_of
        self.policy_of: Callable[[StateView], RelayPolicy] = policy_of or (
            lambda view: self.default_policy(self.relay_of(view).network)
        )
        self.pool_network = pool_network
        self.block_time_s = block_time_s or self.BLOCK_TIME_S

    # --- the chain's rules --------------------------------------------------------------------

    def default_policy(self, network: str) -> RelayPolicy:
        """The chain's default relay policy of ``network``."""
        raise NotImplementedError

    def decode(self, data: bytes) -> P:
        raise NotImplementedError

    def include(self, relay: Any, proof: P) -> Included[T]:
        """The proof's transaction in the relay's best chain (any depth), or raise."""
        raise NotImplementedError

    def value_of(self, out: Any) -> int:
        raise NotImplementedError

    def pays(self, out: Any, key: bytes) -> bool:
        """``out`` pays ``key`` (a pool's claim key, an obligation's destination)."""
        raise NotImplementedError

    def txid(self, tx: T) -> bytes:
        raise NotImplementedError

    def destination_of(self, out: Any) -> bytes:
        """What ``out`` pays, as a committee vault's ``destination`` reads (empty: unknown,
        so no committee pool accepts it)."""
        return b""

    def outpoint(self, proven: ProvenOutput[P, T]) -> bytes:
        """The proven output in the chain's own outpoint form (custody's vault outputs)."""
        return self.txid(proven.tx) + struct.pack("<I", proven.proof.vout)

    def spent_outpoints(self, tx: T) -> tuple[bytes, ...]:
        """The outpoints ``tx`` spends, in :meth:`outpoint`'s form (empty: not known)."""
        return ()

    def deposit_owner(self, tx: T) -> bytes:
        """The 20-byte ETM owner a deposit transaction names, or raise."""
        raise NotImplementedError

    def paid_ids(self, tx: T) -> list[int]:
        """The obligation ids a payment transaction lists, or raise."""
        raise NotImplementedError

    def lock_terms(self, proven: ProvenOutput[P, T]) -> tuple[bytes, bytes, bytes, int]:
        """(hashlock, claim key, refund key, timelock) of a proven lock output, or raise."""
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------

    def proven(self, view: StateView, data: bytes) -> ProvenOutput[P, T]:
        """The output a proof names, in the relay's best chain (any depth)."""
        proof = self.decode(data)
        relay = self.relay_of(view)
        included = self.include(relay, proof)
        outputs, vout = included.tx.outputs, proof.vout
        if not 0 <= vout < len(outputs):
            raise InclusionProofError("bad-vout", f"output {vout} of {len(outputs)}")
        stored = relay.get(included.block)
        assert stored is not None  # include() found it
        tip = relay.tip()
        out = outputs[vout]
        return ProvenOutput(
            proof, included.tx, out, self.value_of(out), included, stored.header.time,
            tip.height, tip.header.time,
        )  # fmt: skip

    def output_id(self, proven: ProvenOutput[P, T]) -> bytes:
        return self.txid(proven.tx) + _U32.pack(proven.proof.vout)

    @staticmethod
    def at_risk(view: StateView, pool: Pool, proven: ProvenOutput[P, T]) -> int:
        """The value a reorganisation of the proof's block takes back, this proof included:
        what its value-scaled depth is sized on (:mod:`.proof_budget`)."""
        return value_at_risk(view, pool.params.asset, proven.included.block, proven.value)

    def deep(self, view: StateView, pool: Pool, data: bytes) -> ProvenOutput[P, T]:
        """A deposit's or payment's proof at the depth its amount needs (``bad_proof``)."""
        proven = self.proven(view, data)
        at_risk = self.at_risk(view, pool, proven)
        need = self.policy_of(view).required_depth(at_risk, pool.params.min_confirmations)
        have = proven.included.confirmations
        if have < need:
            raise InclusionProofError(
                "insufficient-confirmations",
                f"{have} confirmations, {need} are required for {proven.value} {self.UNIT} "
                f"({at_risk} {self.UNIT} proven from its block with it; relay policy, pool "
                "value, value-scaled depth)",
            )
        return proven

    def verify_lock(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedForeignLock:
        proven = self.proven(view, proof)
        hashlock, claim, refund, timelock = self.lock_terms(proven)
        policy = self.policy_of(view)
        included = proven.included
        return VerifiedForeignLock(
            pool.params.asset, self.output_id(proven), proven.value, hashlock, claim, refund,
            timelock, included.confirmations,
            policy.required_depth(self.at_risk(view, pool, proven), pool.params.min_confirmations),
            included.block, included.height, proven.block_time_s, proven.tip_height,
            proven.tip_time, self.block_time_s, policy.max_lag_s, self.outpoint(proven),
        )  # fmt: skip

    def confirmations(self, view: StateView, pool: Pool, block_hash: bytes) -> int:
        return self.relay_of(view).confirmations(block_hash)

    def check_pool_network(self, view: StateView, asset: str, ctx: TxContext) -> None:
        if self.pool_network is not None:
            self.pool_network(view, self.TICKER, ctx)

    def verify_deposit(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedDeposit:
        proven = self.deep(view, pool, proof)
        committee = pool.params.operator == COMMITTEE_OPERATOR
        if not committee and not self.pays(proven.out, pool.params.claim_key):
            raise ExchangeError(
                Reason.WRONG_DESTINATION,
                f"output {proven.proof.vout} does not pay the {pool.params.asset} pool",
            )
        owner = encode_address(self.deposit_owner(proven.tx))
        return VerifiedDeposit(
            self.output_id(proven), pool.params.asset, proven.value, owner, proven.included.block,
            self.destination_of(proven.out), self.outpoint(proven), self.spent_outpoints(proven.tx),
        )  # fmt: skip

    def verify_payment(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedPayment:
        proven = self.deep(view, pool, proof)
        listed = [get_obligation(view, oid) for oid in self.paid_ids(proven.tx)]
        here = [ob for ob in listed if self.pays(proven.out, ob.destination)]
        if not here:
            raise ExchangeError(
                Reason.WRONG_DESTINATION,
                f"output {proven.proof.vout} pays none of the obligations the payment lists "
                f"({[ob.obligation_id for ob in listed]})",
            )
        return VerifiedPayment(
            self.output_id(proven), pool.params.asset, proven.value, here[0].destination,
            tuple(ob.obligation_id for ob in here), proven.included.block,
        )  # fmt: skip
