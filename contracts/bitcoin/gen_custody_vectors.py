"""Write ``custody_vectors.json``: the Bitcoin committee vault's scripts, spends and signatures.

Usage (from the repository root)::

    .venv/bin/python contracts/bitcoin/gen_custody_vectors.py          # (re)write
    .venv/bin/python contracts/bitcoin/gen_custody_vectors.py --check  # exit 1 if stale

Everything derives from fixed public seeds, so the file is reproducible byte for byte: member
secrets are sha256 of fixed strings (**public test keys, never for real funds**), funding
outpoints are made up, and signatures are RFC 6979 (coincurve). It holds the 3-of-4 policy
(and a 15-key one), the vault script, swap-in and counter HTLC v2 scripts with their markers for
several timelocks, the withdrawal tag, one spend per mandate kind built by the Bitcoin
``CustodySpec`` (plan, unsigned tx, txid, BIP143 digests, the first three members' signatures,
the assembled transaction), and a lone member's theft signature with its fraud body.
``tests/unit/chains/bitcoin/custody/test_custody_vectors.py`` regenerates and compares it and
verifies every assembled spend with libbitcoinkernel; ``contracts/bitcoin/custody.md`` explains it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from bitcoin.segwit_addr import encode as bech32_encode

from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.fraud import encode_body
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig
from etm_bridge.custody.records import Committee, CustodyUtxo, MandateKind, UtxoStatus
from etm_bridge.custody.spec import SpendRequest

OUT = Path(__file__).with_name("custody_vectors.json")
SECRETS = [
    hashlib.sha256(f"etm-bridge custody vector member {i}".encode()).digest() for i in range(15)
]
USER_SECRET = hashlib.sha256(b"etm-bridge custody vector user").digest()
PREIMAGE = bytes(range(32))
MANDATE_ID = hashlib.sha256(b"etm-bridge custody vector mandate").digest()
TIMELOCKS = (1, 16, 17, 500, 840_000)
RATE = 2


def _keys(n: int) -> tuple[bytes, ...]:
    return tuple(sorted(ecdsa.pubkey(s) for s in SECRETS[:n]))


KEYS = _keys(4)
BY_KEY = {ecdsa.pubkey(s): s for s in SECRETS}
COMMITTEE = Committee(
    0, tuple(bytes([i]) * 32 for i in range(4)), 3, 4, {"btc": KEYS}, 0, "genesis"
)
CFG = BtcCustodyConfig("regtest")


def _outpoint(tag: str, vout: int) -> bytes:
    return hashlib.sha256(tag.encode()).digest() + vout.to_bytes(4, "little")


def _scripts(policy: scripts.KeyPolicy, user: bytes) -> list[dict[str, Any]]:
    hashlock = hashlib.sha256(PREIMAGE).digest()
    cases = []
    for t in TIMELOCKS:
        for htlc in (
            scripts.SwapInHtlc(hashlock, policy, user, t),
            scripts.CounterHtlc(hashlock, user, policy, t),
        ):
            spk = scripts.p2wsh(htlc.script)
            cases.append(
                {
                    "template": "swap_in_v2"
                    if isinstance(htlc, scripts.SwapInHtlc)
                    else "counter_v2",
                    "timelock": t,
                    "witness_script": htlc.script.hex(),
                    "script_pubkey": spk.hex(),
                    "address_regtest": bech32_encode("bcrt", 0, spk[2:]),
                    "marker_script_pubkey": scripts.MarkerV2.of(htlc).script_pubkey().hex(),
                }
            )
    return cases


def _spend(kind: MandateKind, terms: dict[str, Any], utxos: list[CustodyUtxo]) -> dict[str, Any]:
    vault = SPEC.vault(COMMITTEE, CFG)
    req = SpendRequest(kind, MANDATE_ID, 0, 0, COMMITTEE, vault, terms, RATE)
    spend = SPEC.build(req, utxos, CFG).spend
    plan = build.decode_plan(spend)
    shares = {k: tuple(ecdsa.sign(BY_KEY[k], d) for d in SPEC.digests(spend)) for k in KEYS}
    chosen = build.select_shares(plan, shares)
    extras = {"preimage": PREIMAGE} if kind is MandateKind.CLAIM_SWAP_IN else {}
    return {
        "kind": kind.name.lower(),
        "terms": terms,
        "utxos": [{"outpoint": u.outpoint.hex(), "amount": u.amount} for u in utxos],
        "plan": spend.hex(),
        "unsigned_tx": build.unsigned_tx(plan).hex(),
        "txid": SPEC.txid(spend)[::-1].hex(),
        "fee": plan.fee,
        "spent": [
            {"amount": i.amount, "script_pubkey": scripts.p2wsh(i.witness_script).hex()}
            for i in plan.inputs
        ],
        "digests": [d.hex() for d in SPEC.digests(spend)],
        "signatures": {str(k): [s.hex() for s in v] for k, v in chosen.items()},
        "signed_tx": SPEC.assemble(spend, chosen, extras).hex(),
    }


def _spends(user: bytes) -> list[dict[str, Any]]:
    hashlock = hashlib.sha256(PREIMAGE).digest().hex()
    vault_utxos = [
        CustodyUtxo("btc", _outpoint("vault a", 1), 250_000, 0, UtxoStatus.UNSPENT),
        CustodyUtxo("btc", _outpoint("vault b", 0), 80_000, 0, UtxoStatus.UNSPENT),
    ]
    return [
        _spend(MandateKind.LP_WITHDRAW, {"amount": 60_000, "claim_key": user.hex()}, vault_utxos),
        _spend(
            MandateKind.COUNTER_LOCK,
            {"amount": 100_000, "hashlock": hashlock, "claim_key": user.hex(), "timelock": 840_000},
            vault_utxos,
        ),
        _spend(
            MandateKind.CLAIM_SWAP_IN,
            {
                "outpoint": _outpoint("swap in", 0).hex(),
                "amount": 120_000,
                "hashlock": hashlock,
                "refund_key": user.hex(),
                "timelock": 840_000,
            },
            [],
        ),
        _spend(
            MandateKind.COUNTER_REFUND,
            {
                "outpoint": _outpoint("counter", 0).hex(),
                "amount": 100_000,
                "hashlock": hashlock,
                "claim_key": user.hex(),
                "timelock": 840_000,
            },
            [],
        ),
        _spend(MandateKind.ROTATION_SWEEP, {}, vault_utxos),
    ]


def _fraud(policy: scripts.KeyPolicy, user: bytes) -> dict[str, Any]:
    """Member KEYS[2] alone signs the whole vault output over to itself."""
    thief = KEYS[2]
    vin = build.vault_input(_outpoint("vault a", 1), 250_000, policy)
    theft = build.sweep([vin], scripts.p2wpkh(thief), RATE)
    sig = ecdsa.sign(BY_KEY[thief], build.digests(theft)[0])
    body = encode_body(build.unsigned_tx(theft), 0, policy.vault_script(), 250_000, sig)
    return {
        "key": thief.hex(),
        "digest": build.digests(theft)[0].hex(),
        "signature": sig.hex(),
        "body": body.hex(),
        "verdict": "fraud",
    }


def vectors() -> dict[str, Any]:
    policy = scripts.KeyPolicy(3, KEYS)
    big = scripts.KeyPolicy(11, _keys(15))
    user = ecdsa.pubkey(USER_SECRET)
    vault_spk = scripts.p2wsh(policy.vault_script())
    return {
        "description": "etm-bridge Bitcoin committee vault vectors (custody.md); "
        "made by gen_custody_vectors.py. PUBLIC TEST KEYS.",
        "member_secrets": [s.hex() for s in SECRETS[:4]],
        "keys_bip67": [k.hex() for k in KEYS],
        "user_secret": USER_SECRET.hex(),
        "user_key": user.hex(),
        "preimage": PREIMAGE.hex(),
        "hashlock": hashlib.sha256(PREIMAGE).hexdigest(),
        "mandate_id": MANDATE_ID.hex(),
        "fee_rate_sat_vb": RATE,
        "policy": policy.encode().hex(),
        "vault_script": policy.vault_script().hex(),
        "vault_script_pubkey": vault_spk.hex(),
        "vault_address_regtest": bech32_encode("bcrt", 0, vault_spk[2:]),
        "vault_address_mainnet": bech32_encode("bc", 0, vault_spk[2:]),
        "policy_15": big.encode().hex(),
        "vault_script_15": big.vault_script().hex(),
        "htlcs": _scripts(policy, user),
        "withdrawal_tag": scripts.withdrawal_tag(MANDATE_ID).hex(),
        "spends": _spends(user),
        "fraud": _fraud(policy, user),
    }


def render() -> str:
    return json.dumps(vectors(), indent=1, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    text = render()
    if parser.parse_args().check:
        if OUT.read_text() != text:
            print(f"{OUT} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
