"""The pool assets of the foreign chains as the pure swap core needs them: which assets a chain
owns and the form of a proven lock's id on it (pure, no chain module imported).

An ETM pool swap names its foreign asset (a chain's ticker, or a token of it) and the lock the
exchange proved by the bytes of that chain's proof (``lock_id``); the operator's engine turns
them back into the adapter's lock id. These few facts live here, not in
:mod:`etm_bridge.foreign_chains` (which holds everything else a chain means to the client side
and is built on the chain folders), so that ``swaps/core`` reaches no chain package and stays
pure whole. The chain registry's profiles take them over with the rest of the shim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class AssetForm:
    """A chain's pool assets: its ticker (the native asset), which assets it owns, and the
    adapter's lock id of a proven lock (``lock_id`` bytes, hashlock), None if malformed."""

    ticker: str
    owns: Callable[[str], bool]
    adapter_lock_id: Callable[[bytes, bytes], str | None]


def _utxo_lock_id(lock_id: bytes, hashlock: bytes) -> str | None:
    """``txid_le || vout u32 BE`` -> the adapter's ``<txid display hex>:<vout>:<hashlock>``."""
    if len(lock_id) != 36:
        return None
    return f"{lock_id[:32][::-1].hex()}:{int.from_bytes(lock_id[32:], 'big')}:{hashlock.hex()}"


def _account_lock_id(lock_id: bytes, hashlock: bytes) -> str | None:
    """A contract's 32-byte swap id -> its hex."""
    return lock_id.hex() if len(lock_id) == 32 else None


def _account_owns(asset: str) -> bool:
    return asset == "eth" or (asset.startswith("erc20:0x") and len(asset) == 48)


FORMS: tuple[AssetForm, ...] = (
    AssetForm("btc", lambda asset: asset == "btc", _utxo_lock_id),
    AssetForm("eth", _account_owns, _account_lock_id),
)


def native_assets() -> tuple[str, ...]:
    return tuple(form.ticker for form in FORMS)


def form_of(asset: str) -> AssetForm | None:
    """The form of pool asset ``asset``'s chain, None for an asset no chain owns."""
    return next((form for form in FORMS if form.owns(asset)), None)
