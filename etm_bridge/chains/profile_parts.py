"""Builders of the :class:`~.profile.ChainProfile` parts every chain folder spells alike.

A chain's ``profile.py`` stays light (the registry imports it to list the installed chains), so
each part that needs the chain's heavy modules calls into them late. A chain folder writes one
small getter per module (``def _wallet(): from . import wallet; return wallet``: the import
stays in the chain folder, where the layering and purity tests read it) and these builders turn
the getters into the parts, by the attribute names every chain folder uses:

- :func:`wallet_spec`: ``wallet.is_valid_secret``, ``public_of``, ``describe`` and the public
  class's ``from_json``;
- :func:`native_assets`: the chain's native asset (and its tokens, with ``owns``);
- :func:`genesis_part`: ``etm/genesis.py``'s ``to_json``, ``from_json``, ``initialise``;
- :func:`relay_reads`: ``etm/relay_types.py``'s ``tx_types``, ``status``, ``best_hash``,
  ``relay_network`` and the policy reader, and ``etm/genesis.py``'s ``default_policy``;
- :func:`client_spec`: ``client.py``'s ``adapter_lock_id``, ``deposit_payments``,
  ``deposit_proof``, ``check_deposit``.

What differs between chains (units, keys, type ids, tables, header ids, floors, networks) stays
in the chain's profile. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..units import Unit
from .profile import AssetSpec, ClientSpec, DestinationOption, GenesisPart, WalletSpec

#: A chain module, imported when first asked for.
Module = Callable[[], Any]


def late(module: Module, name: str) -> Callable[..., Any]:
    """``module().<name>(...)``: the module is imported at the first call, not now."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(module(), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def wallet_spec(label: str, wallet: Module, public_class: str) -> WalletSpec:
    """The wallet derivation of a chain whose ``wallet`` module has the usual functions."""

    def public_from_json(data: Any) -> Any:
        return getattr(wallet(), public_class).from_json(data)

    return WalletSpec(
        label=label,
        is_valid_secret=late(wallet, "is_valid_secret"),
        public_of=late(wallet, "public_of"),
        public_from_json=public_from_json,
        describe=late(wallet, "describe"),
    )


def native_assets(ticker: str, unit: Unit, owns: Callable[[str], bool] | None = None) -> AssetSpec:
    """Assets of a chain whose native asset is its ticker (``owns``: it has tokens too)."""
    return AssetSpec(
        native=ticker,
        owns=owns or (lambda asset: asset == ticker),
        unit_of=lambda asset: unit if asset == ticker else None,
    )


def genesis_part(keys: tuple[str, ...], genesis: Module) -> GenesisPart:
    """The genesis keys ``keys``, read and written by the chain's ``etm/genesis.py``."""
    return GenesisPart(
        keys=keys,
        to_json=late(genesis, "to_json"),
        from_json=late(genesis, "from_json"),
        initialise=late(genesis, "initialise"),
    )


def relay_reads(relay_types: Module, genesis: Module, policy_of: str) -> dict[str, Any]:
    """The :class:`~.profile.RelaySpec` fields that read the relay's state, as keyword
    arguments: ``policy_of`` names the relay types' policy reader (``<ticker>_policy_of``)."""
    return {
        "tx_types": late(relay_types, "tx_types"),
        "status": late(relay_types, "status"),
        "best_hash": late(relay_types, "best_hash"),
        "policy_of": late(relay_types, policy_of),
        "network_of": late(relay_types, "relay_network"),
        "default_policy": late(genesis, "default_policy"),
    }


def client_spec(
    client: Module,
    *,
    resumable: bool,
    destination: DestinationOption | None = None,
    obligations: bool = False,
) -> ClientSpec:
    """The client side of the chain's pools, from its ``client`` module (``obligations``: it
    also says how an operator pays and proves withdrawal obligations)."""
    paying = {}
    if obligations:
        paying = {
            "obligation_payments": late(client, "obligation_payments"),
            "obligation_proof": late(client, "obligation_proof"),
        }
    return ClientSpec(
        adapter_lock_id=late(client, "adapter_lock_id"),
        deposit_payments=late(client, "deposit_payments"),
        deposit_proof=late(client, "deposit_proof"),
        check_deposit=late(client, "check_deposit"),
        resumable=resumable,
        destination=destination,
        **paying,
    )
