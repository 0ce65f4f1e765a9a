"""What a chain tells custody about its vaults: :class:`CustodySpec` and its value types.

A chain that can hold pool assets under committee custody sets ``ChainProfile.custody`` to a
``CustodySpec`` (design-14 section 10.3). The custody core names no chain: it builds, digests,
verifies and proves every foreign-chain thing through these callables, so a third chain adds
custody in its own folder (the fake in ``etm_bridge.testing.custody_fake`` is one).

Two models:

* ``UTXO``: the vault is a script of the committee's keys; ETM tracks its outputs from proofs,
  and a mandate fixes every byte of the unsigned spend (its inputs, outputs, fee), whose digests
  (one per input) and txid ETM computes when it creates the revision.
* ``ACCOUNT``: the vault is a contract holding a signer set; a mandate is one typed message
  (one digest), executed once by the contract; ETM proves events and balances.

Every callable is pure and deterministic (it runs inside consensus): no I/O, no clock. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .records import Committee, CustodyUtxo, MandateKind

if TYPE_CHECKING:
    from ..chain.registry import TxContext
    from ..chain.state import StateView


class CustodyModel(StrEnum):
    UTXO = "utxo"
    ACCOUNT = "account"


#: Mandate kinds a chain of each model may implement (design-14 section 4.1).
MODEL_KINDS: Mapping[CustodyModel, frozenset[MandateKind]] = {
    CustodyModel.UTXO: frozenset(MandateKind) - {MandateKind.VAULT_ROTATION},
    CustodyModel.ACCOUNT: frozenset(
        {MandateKind.COUNTER_LOCK, MandateKind.LP_WITHDRAW, MandateKind.VAULT_ROTATION,
         MandateKind.POOL_CREATE}
    ),
}  # fmt: skip


def ascending_keys(keys: Sequence[bytes]) -> tuple[bytes, ...]:
    """``CustodySpec.sort_keys`` of a chain whose keys sort as bytes (BIP67 for compressed keys)."""
    return tuple(sorted(keys))


@dataclass(frozen=True)
class VaultInfo:
    """A committee's vault on one chain.

    ``claim_key``: what a user's swap-in lock must pay (a key policy, or the vault address);
    ``destination``: the bytes an output or call pays to reach the vault (a script, an address);
    ``address``: the display form."""

    claim_key: bytes
    destination: bytes
    address: str


@dataclass(frozen=True)
class SpendRequest:
    """What a mandate revision asks the chain's builder for.

    ``terms`` are the mandate's kind-specific terms (JSON values: payee, amount, hashlock,
    timelock, ...); ``vault`` receives change, claims, refunds and sweeps; ``fee_rate`` is the
    revision's rate in the chain's fee unit."""

    kind: MandateKind
    mandate_id: bytes
    revision: int
    epoch: int
    committee: Committee
    vault: VaultInfo
    terms: Mapping[str, Any]
    fee_rate: int


@dataclass(frozen=True)
class EncodedSpend:
    """A built revision: the spend's encoding (what ``digests``/``txid`` read), the inputs it
    names (outpoints, UTXO model; empty for an account chain) and the fee it pays."""

    spend: bytes
    inputs: tuple[bytes, ...]
    fee: int


@dataclass(frozen=True)
class FraudContext:
    """What a fraud body is judged against: the accused epoch's committee and key."""

    ticker: str
    committee: Committee
    key: bytes


@dataclass(frozen=True)
class FraudClaim:
    """A parsed, signature-checked fraud body (design-14 section 6).

    ``digest``: what the key signed; ``custody_script``: the signed thing is a custody script
    of the accused epoch (UTXO) or a vault-domain message (account); ``canonical``: signed the
    way a mandate would be (e.g. SIGHASH_ALL): a non-canonical signature is fraud whatever the
    digest."""

    digest: bytes
    key: bytes
    custody_script: bool
    canonical: bool


@dataclass(frozen=True)
class CreatedOutput:
    outpoint: bytes
    amount: int
    destination: bytes


@dataclass(frozen=True)
class ProvenOutcome:
    """What a proven foreign transaction or vault event did (``custody_outcome_proof``).

    ``ref``: the foreign id the proof is replay-protected by (txid, tx hash || log index);
    ``txid``: the transaction's id when it has one to match a revision; ``spent`` / ``created``
    (UTXO model); ``mandate_id`` / ``digest`` (account model: the executed message)."""

    ref: bytes
    foreign_height: int
    txid: bytes | None = None
    spent: tuple[bytes, ...] = ()
    created: tuple[CreatedOutput, ...] = ()
    mandate_id: bytes | None = None
    digest: bytes | None = None
    event: str = ""


@dataclass(frozen=True)
class ProvenInflow:
    ref: bytes
    foreign_height: int
    output: CreatedOutput


@dataclass(frozen=True)
class ProvenBalance:
    block_hash: bytes
    foreign_height: int
    asset: str
    amount: int


@dataclass(frozen=True)
class CustodyGenesisPart:
    """This chain's block ``plugins.custody.<ticker>`` of the genesis section."""

    from_json: Callable[[Mapping[str, Any]], Any]  # raises ConfigError naming the field
    to_json: Callable[[Any], dict[str, Any]]
    default: Callable[[], Any]


@dataclass(frozen=True)
class CustodySpec:
    """Custody on one chain (``ChainProfile.custody``; see the module docstring)."""

    model: CustodyModel
    kinds: frozenset[MandateKind]
    key_len: int  # a custody key's length (== the profile's key kind length)
    sort_keys: Callable[[Sequence[bytes]], tuple[bytes, ...]]
    genesis: CustodyGenesisPart
    vault: Callable[[Committee, Any], VaultInfo]  # (committee, genesis cfg) -> its vault
    #: (request, the vault outputs it may spend, genesis cfg) -> the revision's spend
    build: Callable[[SpendRequest, Sequence[CustodyUtxo], Any], EncodedSpend]
    digests: Callable[[bytes], tuple[bytes, ...]]  # spend -> what each signer signs
    txid: Callable[[bytes], bytes | None]  # spend -> its transaction id (None: account)
    verify_share: Callable[[bytes, bytes, bytes], bool]  # (digest, key, signature)
    fraud: Callable[[bytes, FraudContext], FraudClaim]  # raises CustodyError
    outcome: Callable[[StateView, bytes, TxContext], ProvenOutcome]  # raises CustodyError
    #: (spend, signatures per input index, extras such as a preimage) -> raw tx / call data
    assemble: Callable[[bytes, Mapping[int, Sequence[bytes]], Mapping[str, bytes]], bytes]
    inflow: Callable[[StateView, bytes, TxContext], ProvenInflow] | None = None  # 307 (UTXO)
    balance: Callable[[StateView, bytes, TxContext], ProvenBalance] | None = None  # 303
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from ..errors import ConfigError

        unknown = set(self.kinds) - MODEL_KINDS[self.model]
        if unknown:
            names = sorted(k.name.lower() for k in unknown)
            raise ConfigError(f"a {self.model} custody chain cannot implement mandates {names}")
        if self.key_len <= 0:
            raise ConfigError(f"custody key length must be positive, got {self.key_len}")
        if (self.model is CustodyModel.ACCOUNT) != (self.balance is not None):
            raise ConfigError("exactly the account-model custody chains prove balances (303)")
