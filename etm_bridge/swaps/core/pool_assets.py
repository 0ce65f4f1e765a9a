"""The pool assets of the foreign chains as the swap core needs them: which assets exist and the
adapter's id of a lock the exchange proved (``lock_id`` bytes) on the asset's chain.

Both come from the chain registry's profiles (``assets`` and ``client.adapter_lock_id``); the
registry is imported when asked, so importing the swap core loads no chain package.
"""

from __future__ import annotations


def native_assets() -> tuple[str, ...]:
    """The native asset of every chain whose pools a client can use."""
    from ...chains.registry import chain_registry

    return tuple(p.assets.native for p in chain_registry().pooled())


def adapter_lock_id(asset: str, lock_id: bytes, hashlock: bytes) -> str | None:
    """The adapter's lock id of the lock proven as ``lock_id`` in a pool of ``asset``; None for
    an asset no chain owns or a malformed id."""
    from ...chains.registry import chain_registry

    chain = next((p for p in chain_registry().pooled() if p.assets.owns(asset)), None)
    return None if chain is None else chain.require_client().adapter_lock_id(lock_id, hashlock)
