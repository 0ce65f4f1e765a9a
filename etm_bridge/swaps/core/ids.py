"""Swap ids: pure derivations (the use cases' context is the one place a swap is made).

- A user's swap is named by its hashlock (:func:`user_swap_id`: 16 hex digits), which the
  counterparty sees in the terms.
- A pool operator's record of a pool swap is named by the swap's ETM HTLC id
  (:func:`operator_swap_id`: 64 hex digits), never by its hashlock (issue 11).
"""

from __future__ import annotations

from ...exchange.htlc import Htlc

USER_SWAP_ID_HEX = 16


def user_swap_id(hashlock: bytes) -> str:
    """The id of a user's swap with ``hashlock``."""
    return hashlock.hex()[:USER_SWAP_ID_HEX]


def operator_swap_id(htlc: Htlc) -> str:
    """The operator's record id of a pool swap: its ETM HTLC id (64 hex digits)."""
    return htlc.htlc_id.hex()
