"""Custody records in ETM state: reserved ids, table names and keys, reasons, frozen records.

Everything custody stores (design-14 section 10.5) is declared here: the tables
(:data:`TABLES`), the escrow of custody bonds (:data:`BOND_ESCROW`), the transaction type ids
300-307 (:data:`TYPE_IDS`, the block 300-319 is custody's) and the header-attestation id 113 of
the committee-attested relay, the peer message code 10 (``custody_share``), and the records
(:class:`Member`, :class:`Committee`, :class:`VaultRecord`, :class:`Mandate`,
:class:`Revision`, :class:`CustodyUtxo`, :class:`CustodyHtlc`, :class:`CustodyAccount`,
:class:`Solvency`). Records are stored as canonical JSON through :func:`encode` /
:func:`decode`, driven by the dataclass field types (bytes as lowercase hex, enums as their
value, tuples as lists, mappings as objects, nested records as objects). Pure.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum, StrEnum
from typing import Any, TypeVar

from ..chain.codec import U32

T = TypeVar("T")

# --- reserved identifiers -----------------------------------------------------------------------

#: Transaction types of the custody plug-in (design-14 section 10.4); 308-319 stay reserved.
TYPE_IDS: Mapping[int, str] = {
    300: "custody_register",
    301: "custody_bond",
    302: "custody_outcome_proof",
    303: "custody_balance_proof",
    304: "custody_fraud",
    305: "custody_request",
    306: "custody_pool_propose",
    307: "custody_inflow_proof",
}
TYPE_ID_BLOCK = range(300, 320)
#: The header attestations of a committee-attested relay (the account chain's relay block 110,
#: its type 3); declared by that chain's folder when it lands, reserved here.
ATTEST_HEADERS_TYPE_ID = 113
#: Peer message ``custody_share`` (design-14 section 10.6), body cap 160 KiB.
SHARE_MESSAGE_CODE = 10
SHARE_MESSAGE_NAME = "custody_share"
SHARE_MESSAGE_MAX_BYTES = 160 * 1024

#: The escrow holding every custody bond.
BOND_ESCROW = "custody_bonds"
#: The genesis section ``plugins.custody``: a chain with it is a custody chain.
GENESIS_SECTION = "custody"

# --- tables -------------------------------------------------------------------------------------

PARAMS = "custody_params"
MEMBERS = "custody_members"
KEYS = "custody_keys"
AGENTS = "custody_agents"
EPOCHS = "custody_epochs"
CURRENT = "custody_current"
VAULTS = "custody_vaults"
MANDATES = "custody_mandates"
MANDATE_LOG = "custody_mandate_log"
MANDATE_SEQ = "custody_mandate_seq"
OPEN = "custody_open"
QUEUE = "custody_queue"
EXPIRY = "custody_expiry"
COVERED = "custody_covered"
TXIDS = "custody_txids"
UTXOS = "custody_utxos"
UTXO_EPOCH = "custody_utxo_epoch"
HTLCS = "custody_htlcs"
EVENTS = "custody_events"
BALANCES = "custody_balances"
ACCOUNTS = "custody_accounts"
SOLVENCY = "custody_solvency"
PRICES = "custody_prices"
PROPOSALS = "custody_proposals"
PAYOUTS = "custody_payouts"

TABLES: Mapping[str, str] = {
    PARAMS: "'params' -> the normalised genesis section plugins.custody (JSON)",
    MEMBERS: "delegate 32 -> Member (JSON: agent, keys, bond, slashed, ...)",
    KEYS: "ticker || 0x00 || custody key -> delegate 32 (permanent)",
    AGENTS: "agent 32 -> delegate 32 (permanent)",
    EPOCHS: "epoch u32 -> Committee (JSON)",
    CURRENT: "'epoch' -> u32 newest committee; 'pending_rotation' -> reason",
    VAULTS: "ticker || 0x00 || epoch u32 -> VaultRecord (JSON)",
    MANDATES: "mandate id 32 -> Mandate (JSON)",
    MANDATE_LOG: "seq u64 -> mandate id (every mandate, in the order created)",
    MANDATE_SEQ: "'next' -> u64 next seq of custody_mandate_log",
    OPEN: "ticker || 0x00 || mandate id -> 0x01 while the mandate is open",
    QUEUE: "seq u64 -> mandate id of a queued mandate (FIFO)",
    EXPIRY: "sign_until_s u64 || mandate id -> 0x01",
    COVERED: "digest 32 -> mandate id || rev u16 || input u16 (permanent)",
    TXIDS: "ticker || 0x00 || txid -> mandate id || rev u16",
    UTXOS: "ticker || 0x00 || outpoint -> CustodyUtxo (JSON)",
    UTXO_EPOCH: "ticker || 0x00 || epoch u32 || outpoint -> 0x01",
    HTLCS: "ticker || 0x00 || lock id -> CustodyHtlc (JSON)",
    EVENTS: "ticker || 0x00 || event id -> 0x01 (replay protection)",
    BALANCES: "ticker || 0x00 || asset -> proven vault balance (JSON)",
    ACCOUNTS: "asset -> CustodyAccount (JSON: pending_fees, owed, in_htlc, receivable)",
    SOLVENCY: "asset -> Solvency (JSON)",
    PRICES: "asset -> JSON list of the last price_window_rounds prices (ppt)",
    PROPOSALS: "params hash -> JSON {asset, params, members}",
    PAYOUTS: "payee || mandate id -> 0x01 (an investor's withdrawals)",
}


def ticker_key(ticker: str, ident: bytes) -> bytes:
    """``ticker || 0x00 || ident``: the keys of every per-chain table."""
    return ticker.encode() + b"\x00" + ident


def epoch_key(epoch: int) -> bytes:
    return U32.pack(epoch)


# --- reasons ------------------------------------------------------------------------------------


class Reason(StrEnum):
    """Why a custody rule refused (design-14 section 10.9; the exchange-facing ones live in
    :class:`etm_bridge.exchange.reasons.Reason`)."""

    MALFORMED_FIELD = "malformed_field"
    BAD_PARAMETER = "bad_parameter"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    UNKNOWN_DELEGATE = "unknown_delegate"
    DELEGATE_SLASHED = "delegate_slashed"
    BAD_CUSTODY_KEY = "bad_custody_key"
    BAD_POP = "bad_pop"
    KEY_REGISTERED = "key_registered"
    KEYS_LOCKED = "keys_locked"
    BOND_LOCKED = "bond_locked"
    NOT_CUSTODY_MEMBER = "not_custody_member"
    NOT_COMMITTEE_MEMBER = "not_committee_member"
    UNKNOWN_MANDATE = "unknown_mandate"
    BAD_TRANSITION = "bad_transition"
    OUTCOME_MISMATCH = "outcome_mismatch"
    OUTCOME_REPLAYED = "outcome_replayed"
    BAD_FRAUD_SIGNATURE = "bad_fraud_signature"
    SIGNATURE_MANDATED = "signature_mandated"
    NOT_CUSTODY_SCRIPT = "not_custody_script"
    ALREADY_SLASHED = "already_slashed"
    STALE_BALANCE_PROOF = "stale_balance_proof"
    NOT_BUMPABLE = "not_bumpable"
    NOT_REFUNDABLE_YET = "not_refundable_yet"
    PROPOSAL_MISMATCH = "proposal_mismatch"


# --- records ------------------------------------------------------------------------------------


class MandateKind(IntEnum):
    """What a mandate lets the committee sign (design-14 section 4.1); the value is the code."""

    COUNTER_LOCK = 1
    CLAIM_SWAP_IN = 2
    LP_WITHDRAW = 3
    COUNTER_REFUND = 4
    ROTATION_SWEEP = 5
    VAULT_ROTATION = 6
    CANCEL = 7
    POOL_CREATE = 8


class VaultStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    RETIRING = "retiring"
    RETIRED = "retired"


class MandateStatus(StrEnum):
    QUEUED = "queued"
    OPEN = "open"
    EXPIRED = "expired"
    PROVEN = "proven"
    CANCELLED = "cancelled"
    VOID = "void"


class UtxoStatus(StrEnum):
    UNSPENT = "unspent"
    RESERVED = "reserved"
    SPENT = "spent"
    STOLEN = "stolen"


class HtlcRole(StrEnum):
    SWAP_IN = "swap_in"  # a user's lock the vault may claim (a receivable once settled on ETM)
    COUNTER = "counter"  # the vault's lock to a user (in_htlc)


class SolvencyStatus(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    SHORTFALL_PENDING = "shortfall_pending"
    INSOLVENT = "insolvent"


@dataclass(frozen=True)
class Member:
    """A delegate registered for custody: its signer's ETM account, a key per chain, its bond."""

    delegate: bytes
    agent: bytes
    keys: Mapping[str, bytes]  # ticker -> custody key (the chain's key kind)
    bond: int
    slashed: bool = False
    registered_height: int = 0
    last_retired_round: int | None = None

    def eligible(self, chains: tuple[str, ...] | list[str], min_bond: int) -> bool:
        """May sit in a new committee: a key for every chain, not slashed, bond >= min_bond."""
        return not self.slashed and self.bond >= min_bond and all(c in self.keys for c in chains)


@dataclass(frozen=True)
class Committee:
    """The vault committee of one epoch (members ascending by key bytes; m of n sign)."""

    epoch: int
    members: tuple[bytes, ...]
    m: int
    n: int
    keys: Mapping[str, tuple[bytes, ...]]  # ticker -> keys in the chain's sort order
    start_height: int
    reason: str  # "genesis" | "epoch" | "slashed_member"


@dataclass(frozen=True)
class VaultRecord:
    ticker: str
    epoch: int
    status: VaultStatus
    claim_key: bytes
    destination: bytes
    address: str
    since_height: int
    refs: int = 0


@dataclass(frozen=True)
class Revision:
    rev: int
    epoch: int
    height: int
    fee_rate: int
    fee: int
    spend: bytes
    digests: tuple[bytes, ...]
    txid: bytes | None = None


@dataclass(frozen=True)
class ProvenRef:
    rev: int
    ref: bytes
    foreign_height: int
    etm_height: int


@dataclass(frozen=True)
class Mandate:
    """What ETM lets the committee sign for one purpose (design-14 section 4.2)."""

    id: bytes
    kind: MandateKind
    ticker: str
    asset: str
    source: bytes
    status: MandateStatus
    created_height: int
    sign_until_s: int
    terms: Mapping[str, Any] = field(default_factory=dict)
    revisions: tuple[Revision, ...] = ()
    proven: ProvenRef | None = None
    replaces: bytes | None = None
    stalled: bool = False


@dataclass(frozen=True)
class CustodyUtxo:
    ticker: str
    outpoint: bytes
    amount: int
    epoch: int
    status: UtxoStatus
    mandate: bytes | None = None
    height: int = 0


@dataclass(frozen=True)
class CustodyHtlc:
    ticker: str
    lock_id: bytes
    role: HtlcRole
    swap_htlc_id: bytes
    amount: int
    epoch: int
    status: str
    terms: Mapping[str, Any] = field(default_factory=dict)  # the lock's terms (JSON values)


@dataclass(frozen=True)
class CustodyAccount:
    """Per pool asset, what sits outside the vault or is owed (design-14 section 4.7)."""

    pending_fees: int = 0
    owed: int = 0
    in_htlc: int = 0
    receivable: int = 0


@dataclass(frozen=True)
class Solvency:
    status: SolvencyStatus
    round: int
    assets: int
    liabilities: int
    shortfall: int
    since_round: int | None = None
    cause: str | None = None


# --- codec --------------------------------------------------------------------------------------


def encode(record: Any) -> dict[str, Any]:
    """A frozen record as a JSON-able dict (bytes -> hex, enums -> values, tuples -> lists)."""
    return {f.name: _enc(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _enc(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode(value)
    if isinstance(value, tuple | list):
        return [_enc(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _enc(v) for k, v in value.items()}
    return value


def decode(cls: type[T], raw: Mapping[str, Any]) -> T:
    """The record of type ``cls`` that :func:`encode` produced ``raw`` from (a missing field
    with a default takes it; a missing required field raises KeyError)."""
    hints: tuple[tuple[str, Any], ...] = _hints(cls)  # type: ignore[arg-type]
    values = {name: _dec(kind, raw[name]) for name, kind in hints if name in raw}
    return cls(**values)


@functools.cache
def _hints(cls: Any) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _dec(kind: Any, raw: Any) -> Any:
    if raw is None:
        return None
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if isinstance(kind, types.UnionType) or origin is typing.Union:
        return _dec(next(k for k in args if k is not type(None)), raw)
    if kind is bytes:
        return bytes.fromhex(raw)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(raw)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return decode(kind, raw)
    if origin is tuple:
        return tuple(_dec(args[0], v) for v in raw)
    if origin in (Mapping, dict, typing.Mapping):
        return {k: _dec(args[1], v) for k, v in raw.items()}
    return raw
