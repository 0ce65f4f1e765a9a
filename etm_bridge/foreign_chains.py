"""The foreign chains as the swap engine, the ETM client and the use cases know them: ONE place.

Until the chain registry lands (``etm_bridge.chains``, issue 12 WP-A: one folder and one
``ChainProfile`` per chain), ``swaps/``, ``etm_client/`` and ``app/`` ask this module, and only
this module, anything that depends on which foreign chain they deal with: names and aliases,
assets and units, the ETM-side relay of the chain's headers, the exchange's proof encodings,
the LP deposit's payments, the binding signature, the wallet key a pool is claimed by. Its
functions mirror the registry's lookups (``resolve``, ``find``, ``for_asset``,
``native_assets``, ``unit_of``) and its records mirror the profile's parts (``relay``,
``exchange``, ``binding``), so switching to the registry changes this file and no other.

Pure: values and functions over today's pure modules (units, exchange proofs and binding, SPV
header helpers); no node, no plugin.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import rlp
from eth_utils import keccak

from .adapter import HtlcLock, InclusionProof, Payment
from .chain.codec import sha256d
from .chains.bitcoin.binding import btc_pubkey_of, sign_btc
from .chains.bitcoin.etm.relay_types import BTC_RELAY_HEADERS, MAX_HEADERS_PER_TX
from .chains.bitcoin.etm.verifier import DEPOSIT_TAG, BtcProof, htlc_witness_script, p2wpkh
from .chains.bitcoin.spv.tx import parse_tx
from .chains.ethereum.binding import sign_eth
from .chains.ethereum.etm.relay_types import ETH_RELAY_HEADERS
from .chains.ethereum.etm.verifier import DEPOSITED_EVENT, EthLogProof, EthProof
from .chains.ethereum.spv.headers import decode_receipt
from .chains.ethereum.spv.rlp import header_hash
from .errors import ConfigError, ValidationError
from .swaps.core.pool_assets import FORMS
from .units import UNITS, Unit
from .wallet.derive import WalletPublic

BTC_FORM, ETH_FORM = FORMS
#: ``eth_relay_headers`` takes 1..256 headers.
MAX_ETH_HEADERS_PER_TX = 256
_OP_RETURN = 0x6A


@dataclass(frozen=True)
class RelayInfo:
    """The ETM-side header relay of a chain (the registry's ``RelaySpec`` fields we use)."""

    headers_type_id: int
    header_id: Callable[[bytes], str]  # raw header -> the relay API's hash form
    encode_headers: Callable[[list[bytes]], bytes]
    max_headers_per_tx: int
    tip_field: str  # "height" / "number" in the status JSON's "tip"
    permissionless: bool  # True: anyone feeds it; False: the genesis's trusted relayers only
    #: None: an absent relay counts as tip 0 (it starts with the first batch); else the error.
    missing_relay: str | None


@dataclass(frozen=True)
class DepositRequest:
    """What an LP deposit of ``amount`` into a pool whose operator claims with ``claim_key``
    pays, for the ETM owner ``owner20``; ``destination``: the chain's extra option (a vault)."""

    claim_key: bytes
    amount: int
    owner20: bytes
    destination: str | None = None


@dataclass(frozen=True)
class DestinationOption:
    """A deposit option the chain requires (``--vault``), with its check and error text."""

    flag: str
    help: str
    pattern: str
    error: str  # formatted with {value!r}

    def check(self, value: str | None) -> str:
        if not (value and re.fullmatch(self.pattern, value)):
            raise ValidationError(self.error.format(value=value))
        return value


@dataclass(frozen=True)
class ExchangeInfo:
    """Pools of the chain's assets: proof encodings and the LP deposit (``ExchangeSpec``)."""

    lock_proof: Callable[[HtlcLock, InclusionProof], bytes]  # -> xchg_swap_in proof bytes
    #: the adapter's lock id of the lock the exchange proved (its ``lock_id`` bytes), or None
    adapter_lock_id: Callable[[bytes, bytes], str | None]
    deposit_payments: Callable[[DepositRequest], list[Payment]]
    deposit_proof: Callable[[InclusionProof], bytes]  # payment proof -> xchg_lp_deposit bytes
    check_deposit: Callable[[InclusionProof, DepositRequest], None]  # a resumed payment's check
    resumable: bool  # `lp deposit --txid` allowed
    destination: DestinationOption | None
    txid_json_key: str  # the payment's key in `lp deposit --json`


@dataclass(frozen=True)
class ForeignChain:
    """One foreign chain (the registry's ``ChainProfile``, the parts used here)."""

    name: str  # a swap leg's chain name, the [chains.<name>] table, the adapter entry point
    ticker: str  # consensus: pool asset, binding chain, /api/spv/<ticker>, wallet label
    aliases: tuple[str, ...]
    unit: Unit
    relay: RelayInfo
    exchange: ExchangeInfo
    #: wallet secret -> the key swaps, bindings and pools name (claim/refund/bound key)
    key_of: Callable[[bytes], bytes]
    #: (message, secret) -> signature of the binding proof (by :attr:`key_of` the secret)
    sign_binding: Callable[[str, bytes], bytes]
    owns: Callable[[str], bool]  # the chain's pool assets (native and tokens)
    #: the wallet's public key of this chain (the keystore's public section) and its address
    public_key: Callable[[WalletPublic], bytes]
    display_address: Callable[[WalletPublic, str], str]

    @property
    def wallet_label(self) -> str:
        return self.ticker

    @property
    def spellings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.name, self.ticker, *self.aliases)))


# --- the first chain ----------------------------------------------------------------------------


def _op_return(data: bytes) -> bytes:
    if not 0 < len(data) <= 75:
        raise ValueError("OP_RETURN data must be 1..75 bytes")
    return bytes([_OP_RETURN, len(data)]) + data


def _utxo_lock_proof(lock: HtlcLock, proof: InclusionProof) -> bytes:
    vout, t = int(lock.lock_id.split(":")[1]), lock.terms
    script = htlc_witness_script(t.hashlock, t.claim_key, t.refund_key, t.timelock_height)
    return BtcProof.from_adapter_proof(proof, vout, script).encode()


def _utxo_payments(req: DepositRequest) -> list[Payment]:
    """The pool payment at output 0, then the ``OP_RETURN "ETMD" || owner`` tag."""
    tag = _op_return(DEPOSIT_TAG + req.owner20)
    return [Payment(p2wpkh(req.claim_key), req.amount), Payment(tag, 0)]


def _utxo_check_deposit(proof: InclusionProof, req: DepositRequest) -> None:
    """The proven transaction pays the pool at output 0 and carries the owner tag."""
    tx = parse_tx(proof.leaf)
    pay, tag = _utxo_payments(req)
    out = tx.outputs[0] if tx.outputs else None
    if out is None or out.script_pubkey != pay.destination or out.value_sat != pay.amount:
        raise ValidationError(
            f"bitcoin tx {tx.txid_hex} does not pay {pay.amount} sat to the pool at output 0"
        )
    if tag.destination not in [o.script_pubkey for o in tx.outputs]:
        raise ValidationError(f"bitcoin tx {tx.txid_hex} does not carry this wallet's owner tag")


BITCOIN = ForeignChain(
    name="bitcoin",
    ticker="btc",
    aliases=(),
    unit=UNITS["btc"],
    relay=RelayInfo(
        headers_type_id=BTC_RELAY_HEADERS,
        header_id=lambda header: sha256d(header)[::-1].hex(),
        encode_headers=b"".join,
        max_headers_per_tx=MAX_HEADERS_PER_TX,
        tip_field="height",
        permissionless=True,
        missing_relay=None,
    ),
    exchange=ExchangeInfo(
        lock_proof=_utxo_lock_proof,
        adapter_lock_id=BTC_FORM.adapter_lock_id,
        deposit_payments=_utxo_payments,
        deposit_proof=lambda proof: BtcProof.from_adapter_proof(proof, 0).encode(),
        check_deposit=_utxo_check_deposit,
        resumable=True,
        destination=None,
        txid_json_key="bitcoin_txid",
    ),
    key_of=btc_pubkey_of,
    sign_binding=sign_btc,
    owns=BTC_FORM.owns,
    public_key=lambda public: public.btc.public_key,
    display_address=lambda public, network: public.btc.address(network),
)


# --- the second chain ---------------------------------------------------------------------------

_VAULT_DEPOSIT = keccak(b"deposit(bytes20)")[:4]


def _account_payments(req: DepositRequest) -> list[Payment]:
    """One call of the operator's PoolVault: ``deposit(bytes20 etmOwner)`` with the value."""
    vault = bytes.fromhex(str(req.destination).removeprefix("0x"))
    return [Payment(vault, req.amount, _VAULT_DEPOSIT + req.owner20 + bytes(12))]


def _account_deposit_proof(proof: InclusionProof) -> bytes:
    """The receipt proof naming the vault log (``item``) plus the tx-trie nodes (``aux``)."""
    if proof.item is None:
        raise ValidationError("an ethereum deposit proof must name the vault log (item)")
    return EthLogProof(EthProof.from_adapter_proof(proof, proof.item), proof.aux).encode()


def _account_check_deposit(proof: InclusionProof, req: DepositRequest) -> None:
    """The proven log is the vault's ``Deposited`` of this amount for this owner."""
    from .chains.ethereum.spv.headers import decode_event

    receipt = decode_receipt(proof.leaf)
    logs = receipt.logs
    if proof.item is None or not 0 <= proof.item < len(logs):
        raise ValidationError("the deposit proof names no log of its receipt")
    log = logs[proof.item]
    vault = bytes.fromhex(str(req.destination).removeprefix("0x"))
    event = decode_event(log, DEPOSITED_EVENT)
    if log.address != vault or event["etmOwner"] != req.owner20 or event["amount"] != req.amount:
        raise ValidationError("the proven vault log is not this wallet's deposit of this amount")


def _eth_address(secret: bytes) -> bytes:
    from eth_account import Account  # ~1 s to import: only when a key is needed

    return bytes.fromhex(str(Account.from_key(secret).address)[2:])


ETHEREUM = ForeignChain(
    name="ethereum",
    ticker="eth",
    aliases=(),
    unit=UNITS["eth"],
    relay=RelayInfo(
        headers_type_id=ETH_RELAY_HEADERS,
        header_id=lambda header: "0x" + header_hash(header).hex(),
        encode_headers=rlp.encode,
        max_headers_per_tx=MAX_ETH_HEADERS_PER_TX,
        tip_field="number",
        permissionless=False,
        missing_relay="this ETM chain has no Ethereum relay (see node init --eth-rpc)",
    ),
    exchange=ExchangeInfo(
        lock_proof=lambda lock, proof: EthProof.from_adapter_proof(proof).encode(),
        adapter_lock_id=ETH_FORM.adapter_lock_id,
        deposit_payments=_account_payments,
        deposit_proof=_account_deposit_proof,
        check_deposit=_account_check_deposit,
        resumable=False,
        destination=DestinationOption(
            "--vault",
            "eth: the pool operator's PoolVault address.",
            r"0x[0-9a-fA-F]{40}",
            "an eth deposit needs --vault 0x<40 hex> (got {value!r})",
        ),
        txid_json_key="ethereum_tx",
    ),
    key_of=_eth_address,
    sign_binding=sign_eth,
    owns=ETH_FORM.owns,
    public_key=lambda public: bytes.fromhex(public.eth.address[2:]),
    display_address=lambda public, network: public.eth.address,
)

CHAINS: tuple[ForeignChain, ...] = (BITCOIN, ETHEREUM)


# --- lookups (the registry's) ------------------------------------------------------------------


def chains() -> tuple[ForeignChain, ...]:
    return CHAINS


def find(text: str) -> ForeignChain | None:
    """The chain named, tickered or aliased ``text`` (case-insensitive), else None."""
    wanted = text.strip().lower()
    return next((c for c in CHAINS if wanted in c.spellings), None)


def resolve(text: str, configured: Iterable[str] = ()) -> str:
    """The chain name ``text`` means: a configured name as is, else a chain's name for its name,
    ticker or alias, else ``text`` lowercased (an adapter with no profile, ``etm``, ``fake``)."""
    wanted, names = text.strip(), set(configured)
    if wanted in names:
        return wanted
    if wanted.lower() in names:
        return wanted.lower()
    found = find(wanted)
    return found.name if found is not None else wanted.lower()


def for_asset(asset: str) -> ForeignChain:
    """The chain of pool asset ``asset``; ConfigError naming the known ones otherwise."""
    found = next((c for c in CHAINS if c.owns(asset)), None)
    if found is None:
        known = ", ".join(c.ticker for c in CHAINS)
        raise ConfigError(f"no foreign chain has asset {asset!r} (known: {known})")
    return found


def for_leg(name: str, adapter: str | None = None) -> ForeignChain | None:
    """The chain a swap leg named ``name`` is on: by its name/ticker/alias, else by the entry
    point of its adapter (a chain configured as ``mybtc`` with ``adapter = "bitcoin"``)."""
    return find(name) or (find(adapter) if adapter else None)


def native_assets() -> tuple[str, ...]:
    return tuple(c.ticker for c in CHAINS)


def unit_of(asset: str) -> Unit | None:
    """The display unit of ``asset`` (ETM's or a chain's; None: base units, e.g. a token)."""
    return UNITS.get(asset.lower())
