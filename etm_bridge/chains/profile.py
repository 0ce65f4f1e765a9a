"""What a foreign chain tells the core about itself: :class:`ChainProfile` and its parts.

Each chain folder ``etm_bridge/chains/<name>/`` exports one ``PROFILE`` (an out-of-tree chain
declares it in the entry-point group ``etm_bridge.chains``); :mod:`.registry` finds, validates
and serves them. The core reads chain knowledge only from here: units, key kinds and lengths,
wallet derivation, the ETM-side header relay (transaction types, tables, genesis keys, status),
the exchange's proof verifier and codec, proof kinds, and the client side of its pools (how
a proven lock's id reads back into the adapter's, what an LP deposit pays and how its proof is
encoded and checked, what an operator's payment of a withdrawal obligation pays:
:class:`ClientSpec`).

Names that must never change once a chain is live: ``ticker`` is consensus and persisted data
(pool asset, binding chain, the ``spv_config`` key, the ``<ticker>_`` prefixes of transaction
type names and genesis keys, ``spv_<ticker>_`` table names, ``/api/spv/<ticker>``, the wallet
derivation label). ``name`` is the ``[chains.<name>]`` config key, the default adapter, the
key of the relay in ``/api/spv`` and a swap leg's chain name.

Every part that needs a heavy import (a chain's crypto library, its SPV code) is a
callable that imports when called, so the registry scan imports nothing heavy. Pure: values and
callables only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigError, ValidationError
from ..observations import KeyKind
from ..units import Unit

if TYPE_CHECKING:
    from ..chain.registry import TxType
    from ..chain.state import State, StateView, TableSpec
    from ..custody.spec import CustodySpec
    from ..exchange.txtypes import ForeignVerifier
    from ..observations import HtlcLock, InclusionProof
    from ..spv.relay_policy import RelayPolicy

#: A ticker: lowercase, 2..10 characters, a letter first (it prefixes consensus names).
TICKER_RE = re.compile(r"[a-z][a-z0-9]{1,9}")
#: Names no chain may take (config tables and the core chain's leg name).
RESERVED_NAMES = frozenset({"etm", "kdf", "policy"})
#: Legal type-id blocks: multiples of 10 in [100, 190] or [1000, 65530].
TYPE_ID_BLOCKS = (range(100, 191, 10), range(1000, 65531, 10))


class ChainPublic(Protocol):
    """A wallet's public view of one chain's key (the keystore's ``public.<label>`` entry)."""

    @property
    def key(self) -> bytes:
        """The swap / binding / claim key (e.g. a 33-byte pubkey or a 20-byte address)."""
        ...

    def to_json(self) -> dict[str, Any]: ...

    def display_address(self, network: str) -> str: ...


@dataclass(frozen=True)
class WalletSpec:
    """How a wallet derives this chain's key from its master seed (byte-identical forever)."""

    label: str  # HMAC domain label: the keys change if this changes
    is_valid_secret: Callable[[bytes], bool]  # candidate filter (e.g. the secp256k1 range)
    public_of: Callable[[bytes], ChainPublic]  # secret -> public view
    public_from_json: Callable[[Mapping[str, Any]], ChainPublic]  # keystore entry -> view
    #: ``wallet show`` rows for this chain's key: (label, text); "" continues the row above.
    describe: Callable[[ChainPublic, str], list[tuple[str, str]]] = field(
        default=lambda public, network: []
    )


@dataclass(frozen=True)
class AssetSpec:
    """The exchange assets whose swaps settle on this chain."""

    native: str  # the native asset (equal to the ticker for in-tree chains)
    owns: Callable[[str], bool]  # the native asset, and tokens ("<standard>:0x...")
    unit_of: Callable[[str], Unit | None]  # None: shown in base units


@dataclass(frozen=True)
class BindingSpec:
    """How a key of this chain signs an address binding (``exchange.binding``)."""

    key_len: int  # the bound key's length (== key_kind.length, checked at load)
    sign: Callable[[str, bytes], tuple[bytes, bytes]]  # (message, secret) -> (key, signature)
    #: (message, signature, claimed key) -> the key that signed; raises BindingError
    #: (BAD_SIGNATURE) for a signature that does not verify. Recoverable schemes ignore the key.
    signer: Callable[[str, bytes, bytes], bytes]


@dataclass(frozen=True)
class GenesisPart:
    """This chain's keys of the genesis ``plugins.spv`` section (all prefixed ``<ticker>_``).

    ``to_json(cfg)`` gives every key, or when ``cfg`` is None what keeps the genesis id of a
    chain without this relay unchanged: the first chains wrote null values, a chain installed
    later writes nothing (its keys would move every existing genesis id); ``from_json(section)``
    reads them back (None: no relay configured); ``initialise(state, cfg)`` writes the relay's
    checkpoint and ``spv_config`` record into the genesis state."""

    keys: tuple[str, ...]  # every key to_json writes (checked by the registry without a call)
    to_json: Callable[[Any], dict[str, Any]]
    from_json: Callable[[Mapping[str, Any]], Any]
    initialise: Callable[[State, Any], None]


@dataclass(frozen=True)
class RelaySpec:
    """The ETM-side header relay of this chain (transaction types, tables, API, feeding)."""

    type_id_block: int  # its types use block+1 .. block+9
    headers_type_id: int  # the relay-headers type (in the block)
    #: id -> name of every relay type, declared here so the registry checks them without
    #: importing the SPV code; :func:`etm_bridge.spv.relay_types.register` holds ``tx_types``
    #: to it.
    types: Mapping[int, str]
    tx_types: Callable[[bool], list[TxType[Any]]]  # (dev) -> relay types; dev: autostart
    tables: tuple[TableSpec, ...]  # "spv_<ticker>_*" (spv_config is the core's)
    genesis: GenesisPart
    status: Callable[[StateView], dict[str, Any] | None]  # /api/spv/<ticker>; None: none yet
    best_hash: Callable[[StateView, int], str | None]  # display form, at a height
    header_id: Callable[[bytes], str]  # raw header -> that display form
    encode_headers: Callable[[list[bytes]], bytes]  # the relay-headers payload
    max_headers_per_tx: int
    tip_field: str  # "height" / "number" in the status JSON's "tip"
    permissionless: bool  # True: anyone relays; False: the genesis's trusted relayers only
    #: None: an absent relay counts as tip 0 (it starts with the first batch, ``dev_autostart``);
    #: else the error text a feeder shows when this chain's ETM relay does not exist.
    missing_relay: str | None
    policy_of: Callable[[StateView], RelayPolicy]  # raises spv_relay_not_initialised
    network_of: Callable[[StateView], str | None]  # the relay's network, None: no relay
    default_policy: Callable[[str], RelayPolicy]  # a network's default policy
    dev_network: str  # the network assumed while no relay exists (quotes)
    #: networks whose headers anyone can forge: pools on them need ``allow_dev_pools``
    dev_networks: frozenset[str] = frozenset()
    dev_autostart: str | None = None  # network whose genesis block the first batch starts
    #: None: the node's SPV plug-in registers this relay on every ETM chain (the first chains);
    #: a module path: this relay's own tx plug-in, so only an ETM chain whose genesis lists it
    #: (``node init`` adds it with the relay's options) has its types and tables. Installing
    #: such a chain changes nothing on chains that do not use it.
    tx_plugin: str | None = None


@dataclass(frozen=True)
class ExchangeSpec:
    """Pools of this chain's assets: how their proofs are verified and encoded."""

    verifier: Callable[[], ForeignVerifier]  # bound to this chain's relay in state
    lock_proof: Callable[[HtlcLock, InclusionProof], bytes]  # -> xchg_swap_in proof bytes
    txid_json_key: str  # the payment's id key in `lp deposit --json` ("<name>_txid", ...)
    #: CONSENSUS: the least a withdrawal may pay out in the native asset (base units), whatever
    #: a pool sets: above the chain's dust limit plus the fee of the operator's payment, so no
    #: obligation is too small to pay (issue 11, item 6). 1: no floor but a positive amount.
    #: Tokens of the chain have no floor (their pools set their own minimum).
    withdrawal_floor: int = 1


@dataclass(frozen=True)
class DepositRequest:
    """What an LP deposit of ``amount`` into a pool whose operator claims with ``claim_key``
    pays, for the ETM owner ``owner20``; ``destination``: the chain's extra option (a vault)."""

    claim_key: bytes
    amount: int
    owner20: bytes
    destination: str | None = None


@dataclass(frozen=True)
class ObligationRequest:
    """A payment of withdrawal obligations: ``amount`` to the investor's bound key
    ``destination`` (the obligation's), listing ``obligation_ids`` so the ETM verifier can tell
    which obligations the proven output pays."""

    destination: bytes
    amount: int
    obligation_ids: tuple[int, ...]


@dataclass(frozen=True)
class DestinationOption:
    """A deposit option a chain requires (e.g. a contract address), its check and error text."""

    flag: str
    help: str
    pattern: str
    error: str  # formatted with {value!r}

    def check(self, value: str | None) -> str:
        if not (value and re.fullmatch(self.pattern, value)):
            raise ValidationError(self.error.format(value=value))
        return value


@dataclass(frozen=True)
class ClientSpec:
    """The client side of this chain's pools (swap engine, ETM client, use cases).

    ``deposit_payments`` returns the adapter's ``Payment`` values (``etm_bridge.adapter``; not
    imported here, this module stays pure)."""

    #: (the ``lock_id`` bytes the exchange proved, hashlock) -> the adapter's lock id, None if
    #: malformed
    adapter_lock_id: Callable[[bytes, bytes], str | None]
    deposit_payments: Callable[[DepositRequest], list[Any]]  # what the investor pays
    deposit_proof: Callable[[InclusionProof], bytes]  # payment proof -> xchg_lp_deposit bytes
    #: a resumed payment's check: the proven transaction pays what ``request`` asks (else raise)
    check_deposit: Callable[[InclusionProof, DepositRequest], None]
    resumable: bool  # `lp deposit --txid` allowed
    destination: DestinationOption | None = None  # a required deposit option
    #: What an operator pays to settle obligations (the bound key paid at output 0, then the
    #: chain's list of the ids); None: this chain's obligations are not paid by a plain payment
    #: of the operator's adapter (e.g. paid through the operator's vault contract).
    obligation_payments: Callable[[ObligationRequest], list[Any]] | None = None
    #: payment proof -> ``xchg_obligation_paid`` proof bytes (the output paying the key: 0)
    obligation_proof: Callable[[InclusionProof], bytes] | None = None


@dataclass(frozen=True)
class ProofKind:
    """An :class:`~etm_bridge.observations.InclusionProof` kind this chain's adapters emit."""

    header_len: int | None  # exact header length, None: any
    node_len: int | None  # exact branch node length, None: any
    verify: Callable[[InclusionProof], None]  # offline verifier (ProofError)


@dataclass(frozen=True)
class OptionSpec:
    """One command-line option a chain contributes (e.g. to ``node init``)."""

    flag: str  # "--name"; its values arrive keyed by the flag's name ("name", "-" -> "_")
    help: str
    multiple: bool = False
    default: Any = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    type: type = str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class NodeInitSpec:
    """``node init`` options of this chain and how they become its genesis relay config."""

    options: tuple[OptionSpec, ...]
    #: option values (by ``dest``) -> the relay's genesis cfg, None: no relay (may do I/O,
    #: e.g. read a checkpoint from a node)
    build: Callable[[Mapping[str, Any]], Any]
    summary: Callable[[Mapping[str, Any], Any], dict[str, Any]]  # (values, cfg) -> output rows


@dataclass(frozen=True)
class ChainProfile:
    """Everything the core knows about one foreign chain (see the module docstring)."""

    name: str
    ticker: str
    unit: Unit
    block_time_s: int  # nominal seconds per block
    key_kind: KeyKind
    confirmations: Mapping[str, int]  # network -> default depth
    wallet: WalletSpec
    assets: AssetSpec
    binding: BindingSpec
    aliases: tuple[str, ...] = ()  # extra spellings; name and ticker always resolve
    adapter: str = ""  # adapter entry point; "" means ``name``
    relay: RelaySpec | None = None  # None: not relayed to ETM (then no exchange either)
    exchange: ExchangeSpec | None = None
    client: ClientSpec | None = None  # needs ``exchange``
    node_init: NodeInitSpec | None = None
    proof_kinds: Mapping[str, ProofKind] = field(default_factory=dict)
    custody: CustodySpec | None = None  # None: pools of this chain cannot be under custody

    @property
    def adapter_name(self) -> str:
        return self.adapter or self.name

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every name this chain answers to: name, ticker, aliases (no duplicates)."""
        return tuple(dict.fromkeys((self.name, self.ticker, *self.aliases)))

    def default_confirmations(self, network: str) -> int:
        """The default depth on ``network`` (the largest of the table for an unknown one)."""
        return int(self.confirmations.get(network, max(self.confirmations.values(), default=1)))

    @property
    def wallet_label(self) -> str:
        return self.wallet.label

    def key_of(self, secret: bytes) -> bytes:
        """The key a wallet secret of this chain swaps, binds and claims with."""
        return self.wallet.public_of(secret).key

    def sign_binding(self, message: str, secret: bytes) -> bytes:
        """The binding proof's signature of ``message`` by :meth:`key_of` ``secret``."""
        return self.binding.sign(message, secret)[1]

    def public_of_wallet(self, public: Any) -> ChainPublic:
        """This chain's entry of a wallet's public keys (``WalletPublic.chains[label]``)."""
        found: ChainPublic | None = public.chains.get(self.wallet.label)
        if found is None:
            raise ValidationError(f"the wallet has no {self.wallet.label!r} key (made before "
                                  "this chain was installed: make a new wallet)")  # fmt: skip
        return found

    def public_key(self, public: Any) -> bytes:
        return self.public_of_wallet(public).key

    def display_address(self, public: Any, network: str) -> str:
        return self.public_of_wallet(public).display_address(network)

    def require_relay(self) -> RelaySpec:
        """The relay; ConfigError if this chain has none (nothing of it is on ETM)."""
        if self.relay is None:
            raise ConfigError(f"chain {self.name!r} has no relay on ETM")
        return self.relay

    def require_exchange(self) -> ExchangeSpec:
        if self.exchange is None:
            raise ConfigError(f"chain {self.name!r} has no ETM pools")
        return self.exchange

    def require_client(self) -> ClientSpec:
        if self.client is None:
            raise ConfigError(f"chain {self.name!r} has no client side of ETM pools")
        return self.client
