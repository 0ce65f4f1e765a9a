"""``contracts/bitcoin/custody_vectors.json`` is reproduced byte for byte, and its spends are
valid Bitcoin: every assembled transaction passes libbitcoinkernel against the outputs it spends
(so the BIP143 digests, the witness layout and the signatures are the consensus ones)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pbk
import pytest

from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.spec import SPEC
from etm_bridge.custody import fraud as custody_fraud
from etm_bridge.custody.records import Committee, Member

ROOT = Path(__file__).resolve().parents[5]
DIR = ROOT / "contracts" / "bitcoin"
VECTORS = json.loads((DIR / "custody_vectors.json").read_text())
FLAGS = (
    pbk.ScriptVerificationFlags.P2SH
    | pbk.ScriptVerificationFlags.DERSIG
    | pbk.ScriptVerificationFlags.NULLDUMMY
    | pbk.ScriptVerificationFlags.CHECKLOCKTIMEVERIFY
    | pbk.ScriptVerificationFlags.CHECKSEQUENCEVERIFY
    | pbk.ScriptVerificationFlags.WITNESS
)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_custody_vectors", DIR / "gen_custody_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_vectors_are_reproduced_byte_for_byte() -> None:
    assert _generator().render() == (DIR / "custody_vectors.json").read_text()


@pytest.mark.parametrize("case", VECTORS["spends"], ids=lambda c: c["kind"])
def test_every_assembled_spend_passes_libbitcoinkernel(case: dict) -> None:
    signed = bytes.fromhex(case["signed_tx"])
    tx = pbk.Transaction(signed)
    for index, spent in enumerate(case["spent"]):
        spk = pbk.ScriptPubkey(bytes.fromhex(spent["script_pubkey"]))
        assert spk.verify(spent["amount"], tx, None, index, FLAGS)
    # one signature short, or the two first swapped: refused by the reference code
    plan = build.decode_plan(bytes.fromhex(case["plan"]))
    sigs = {int(k): [bytes.fromhex(s) for s in v] for k, v in case["signatures"].items()}
    pre = (
        {"preimage": bytes.fromhex(VECTORS["preimage"])} if case["kind"] == "claim_swap_in" else {}
    )
    for bad in (
        {k: v[:2] for k, v in sigs.items()},
        {k: [v[1], v[0], v[2]] for k, v in sigs.items()},
    ):
        raw = SPEC.assemble(build.encode_plan(plan), bad, pre)
        spent = case["spent"][0]
        spk = pbk.ScriptPubkey(bytes.fromhex(spent["script_pubkey"]))
        assert not spk.verify(spent["amount"], pbk.Transaction(raw), None, 0, FLAGS)


def test_keys_policy_and_the_fraud_case() -> None:
    keys = tuple(bytes.fromhex(k) for k in VECTORS["keys_bip67"])
    assert keys == tuple(sorted(ecdsa.pubkey(bytes.fromhex(s)) for s in VECTORS["member_secrets"]))
    assert scripts.parse_policy(bytes.fromhex(VECTORS["policy"])) == scripts.KeyPolicy(3, keys)
    committee = Committee(0, tuple(bytes([i]) * 32 for i in range(4)), 3, 4, {"btc": keys}, 0, "g")
    members = {d: Member(d, d, {"btc": k}, 1) for d, k in zip(committee.members, keys, strict=True)}
    covered = {bytes.fromhex(d) for c in VECTORS["spends"] for d in c["digests"]}
    fraud = VECTORS["fraud"]
    f = custody_fraud.Fraud("btc", 0, bytes.fromhex(fraud["key"]), bytes.fromhex(fraud["body"]))
    offender = custody_fraud.judge(f, committee, members, SPEC.fraud, covered.__contains__)
    assert members[offender].keys["btc"] == bytes.fromhex(fraud["key"])
