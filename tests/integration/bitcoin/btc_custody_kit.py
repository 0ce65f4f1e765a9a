"""A 3-of-4 test committee for the Bitcoin CUSTODY conformance section and attack tests.

Claims of swap-in locks are built, signed and assembled by the chain folder
(``etm_bridge.chains.bitcoin.custody.build``: the plan a mandate would fix, each member's
share, the first m valid shares in key order), paying the committee's vault, exactly as the
signers will; nothing here writes a script byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from etm_bridge_bitcoin.adapter import parse_lock_id
from etm_bridge_bitcoin.v2 import htlc_of_terms

from etm_bridge.adapter import HtlcLock
from etm_bridge.chains.bitcoin.custody import build, ecdsa
from etm_bridge.chains.bitcoin.custody.scripts import KeyPolicy
from etm_bridge.testing.conformance_kit import CustodyKit

#: Fixed test keys (never funds outside regtest).
SECRETS = tuple(hashlib.sha256(b"etm-bridge custody test member %d" % i).digest() for i in range(4))
POLICY = KeyPolicy.of(3, [ecdsa.pubkey(s) for s in SECRETS])
FEE_RATE = 2


def outpoint(lock: HtlcLock) -> bytes:
    txid, vout, _ = parse_lock_id(lock.lock_id)
    return bytes.fromhex(txid)[::-1] + vout.to_bytes(4, "little")


def claim_plan(lock: HtlcLock, pay_to: bytes | None = None) -> build.SpendPlan:
    """The committee's claim of swap-in ``lock``: everything to the vault (or ``pay_to``)."""
    script = htlc_of_terms(lock.terms).script
    planned = build.PlannedInput(outpoint(lock), lock.terms.amount, script, "htlc_claim")
    to = build.vault_script_pubkey(POLICY) if pay_to is None else pay_to
    return build.sweep([planned], to, FEE_RATE)


def assemble_claim(
    lock: HtlcLock, preimage: bytes, secrets: Sequence[bytes], pay_to: bytes | None = None
) -> bytes:
    """The claim signed by ``secrets`` (all their valid shares, first m in key order; fewer
    than m are placed as they are, for the chain to refuse)."""
    plan = claim_plan(lock, pay_to)
    shares = {ecdsa.pubkey(s): build.sign_plan(plan, s) for s in secrets}
    if len(secrets) >= POLICY.m:
        return build.assemble_from_shares(plan, shares, preimage)
    ordered = [shares[k][0] for k in POLICY.keys if k in shares]
    return build.assemble(plan, {0: ordered}, preimage)


def custody_kit() -> CustodyKit:
    return CustodyKit(
        policy=POLICY.encode(),
        m=POLICY.m,
        secrets=SECRETS,
        claim=lambda lock, preimage, secrets: assemble_claim(lock, preimage, secrets),
        outpoint=outpoint,
    )
