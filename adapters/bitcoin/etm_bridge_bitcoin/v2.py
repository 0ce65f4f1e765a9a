"""Users' v2 locks: the chain folder's committee templates as the adapter reads and builds them.

A lock's claim or refund key may be a committee **key policy** (``0xa0 || m || n || keys``,
``etm_bridge.chains.bitcoin.custody.scripts``: design-14 2.1) instead of a 33-byte key:

* claim key a policy: the **swap-in HTLC v2** (claim: preimage + m signatures; refund: the
  user's key after T), marker v2 role 1;
* refund key a policy: the **counter HTLC v2** (claim: the user with the preimage; refund: m
  signatures after T), marker v2 role 2.

Every script byte comes from the chain folder (no template written twice here). A marker v2
names its policy by hash only, so a v2 lock is rebuilt only for a policy the adapter was told
(``watch_policy``): :class:`PolicyMarker` is the marker bound to that policy, with the shape the
index and the hashlock resolver read (``claim_pubkey``/``refund_pubkey``: the policy bytes on
the committee side). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from etm_bridge.chains.bitcoin.custody.scripts import (
    POLICY_TAG,
    ROLE_SWAP_IN,
    CounterHtlc,
    KeyPolicy,
    MarkerV2,
    SwapInHtlc,
    counter_claim_witness,
    p2wsh,
    parse_htlc_script,
    parse_marker_v2,
    parse_policy,
    parse_vault_script,
    swap_in_refund_witness,
)
from etm_bridge.errors import ValidationError
from etm_bridge.observations import HtlcTerms, KeyKind

from .script import HtlcScript, LockMarker, require_pubkey

__all__ = [
    "AnyHtlc", "CounterHtlc", "KeyPolicy", "MarkerV2", "PolicyMarker", "SwapInHtlc",
    "bind_marker", "counter_claim_witness", "htlc_of_terms", "is_policy", "marker_script",
    "parse_htlc_script", "parse_marker_v2", "parse_policy", "parse_vault_script",
    "script_pubkey_of", "swap_in_refund_witness",
]  # fmt: skip

AnyHtlc = HtlcScript | SwapInHtlc | CounterHtlc


def is_policy(key: bytes) -> bool:
    """True for key-policy bytes (``0xa0`` never starts a compressed key)."""
    return isinstance(key, bytes) and key[:1] == bytes([POLICY_TAG])


@dataclass(frozen=True)
class PolicyMarker:
    """A marker v2 bound to the policy whose hash it carries."""

    v2: MarkerV2
    policy: KeyPolicy

    def __post_init__(self) -> None:
        if self.policy.hash() != self.v2.policy_hash:
            raise ValidationError("the policy does not match the marker's policy hash")

    @property
    def swap_in(self) -> bool:
        return self.v2.role == ROLE_SWAP_IN

    @property
    def claim_pubkey(self) -> bytes:
        return self.policy.encode() if self.swap_in else self.v2.key

    @property
    def refund_pubkey(self) -> bytes:
        return self.v2.key if self.swap_in else self.policy.encode()

    @property
    def timelock_height(self) -> int:
        return self.v2.timelock

    def htlc(self, hashlock: bytes) -> SwapInHtlc | CounterHtlc:
        return self.v2.htlc(hashlock, self.policy)


def bind_marker(v2: MarkerV2, policies: Mapping[bytes, KeyPolicy]) -> PolicyMarker | None:
    """``v2`` bound to the watched policy of its hash, or None (no such policy watched)."""
    policy = policies.get(v2.policy_hash)
    return None if policy is None else PolicyMarker(v2, policy)


def htlc_of_terms(terms: HtlcTerms) -> AnyHtlc:
    """The script ``terms`` describe: v1 for two keys, swap-in v2 for a policy claim key,
    counter v2 for a policy refund key. ValidationError for anything else (two policies, a key
    of the wrong length, a malformed policy), naming what is wrong."""
    claim, refund = terms.claim_key, terms.refund_key
    if is_policy(claim) and is_policy(refund):
        raise ValidationError(
            "claim_key and refund_key are both key policies: one side of a lock must be a "
            "single 33-byte key (the user's)"
        )
    if is_policy(claim):
        policy = parse_policy(claim)
        refund_key = require_pubkey(refund, "refund_key")
        return SwapInHtlc(terms.hashlock, policy, refund_key, terms.timelock_height)
    if is_policy(refund):
        policy = parse_policy(refund)
        claim_key = require_pubkey(claim, "claim_key")
        return CounterHtlc(terms.hashlock, claim_key, policy, terms.timelock_height)
    terms.check_key_kind(KeyKind.SECP256K1_COMPRESSED)
    return HtlcScript(terms.hashlock, claim, refund, terms.timelock_height)


def script_pubkey_of(htlc: AnyHtlc) -> bytes:
    """The P2WSH output paying ``htlc``."""
    return p2wsh(htlc.script)


def marker_script(htlc: AnyHtlc) -> bytes:
    """The marker output of a lock of ``htlc``: v1 for v1 locks, v2 for the committee ones."""
    if isinstance(htlc, HtlcScript):
        marker = LockMarker(htlc.claim_pubkey, htlc.refund_pubkey, htlc.timelock_height)
        return marker.script_pubkey()
    return MarkerV2.of(htlc).script_pubkey()
