"""Regenerate ``htlc_vectors.json`` from the Bitcoin adapter's pure code.

    .venv/bin/python contracts/bitcoin/gen_vectors.py > contracts/bitcoin/htlc_vectors.json

Fixed keys, preimage, heights and a made-up funding outpoint. Everything is reproducible except
the ECDSA signatures (python-bitcoinlib signs through OpenSSL with a random nonce), so
``tests/unit/bitcoin`` compares fresh transactions with the committed ones up to the signature
and verifies the committed spends with libbitcoinkernel.
"""

from __future__ import annotations

import json

from bitcoin.core import b2x
from bitcoin.segwit_addr import encode as bech32_encode
from etm_bridge_bitcoin.script import HtlcScript, LockMarker
from etm_bridge_bitcoin.txbuild import WalletKey, build_claim_tx, build_refund_tx, vsize

from etm_bridge.hashlock import hashlock_of

CLAIM_SECRET = bytes([0x01]) * 32
REFUND_SECRET = bytes([0x02]) * 32
PREIMAGE = bytes(range(32))
FUNDING = ("11" * 32, 0, 100_000)  # (txid display hex, vout, value_sat)
FEE_RATE_SAT_VB = 2
TIMELOCKS = (1, 16, 17, 500, 840_000)


def _case(timelock_height: int) -> dict:
    claim, refund = WalletKey(CLAIM_SECRET), WalletKey(REFUND_SECRET)
    htlc = HtlcScript(hashlock_of(PREIMAGE), claim.pubkey, refund.pubkey, timelock_height)
    program = htlc.script_pubkey[2:]
    claim_tx = build_claim_tx(claim, *FUNDING, htlc, PREIMAGE, FEE_RATE_SAT_VB)
    refund_tx = build_refund_tx(refund, *FUNDING, htlc, FEE_RATE_SAT_VB)
    return {
        "timelock_height": timelock_height,
        "witness_script": htlc.script.hex(),
        "script_pubkey": htlc.script_pubkey.hex(),
        "address_regtest": bech32_encode("bcrt", 0, program),
        "address_mainnet": bech32_encode("bc", 0, program),
        "marker_script_pubkey": LockMarker(claim.pubkey, refund.pubkey, timelock_height)
        .script_pubkey()
        .hex(),
        "claim_tx": b2x(claim_tx.serialize()),
        "claim_vsize": vsize(claim_tx),
        "refund_tx": b2x(refund_tx.serialize()),
        "refund_vsize": vsize(refund_tx),
    }


def vectors() -> dict:
    return {
        "description": "etm-bridge P2WSH HTLC vectors, see htlc.md; made by gen_vectors.py",
        "claim_secret": CLAIM_SECRET.hex(),
        "refund_secret": REFUND_SECRET.hex(),
        "claim_pubkey": WalletKey(CLAIM_SECRET).pubkey.hex(),
        "refund_pubkey": WalletKey(REFUND_SECRET).pubkey.hex(),
        "preimage": PREIMAGE.hex(),
        "hashlock": hashlock_of(PREIMAGE).hex(),
        "funding": {"txid": FUNDING[0], "vout": FUNDING[1], "value_sat": FUNDING[2]},
        "fee_rate_sat_vb": FEE_RATE_SAT_VB,
        "cases": [_case(height) for height in TIMELOCKS],
    }


if __name__ == "__main__":
    print(json.dumps(vectors(), indent=2))
