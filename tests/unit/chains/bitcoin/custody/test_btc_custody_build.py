"""Spend plans, signatures, share selection and the Bitcoin CustodySpec (design-14 2.3-2.5)."""

from __future__ import annotations

import secrets

import pytest
from bitcoin.core import CTransaction

from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig
from etm_bridge.chains.bitcoin.profile import PROFILE
from etm_bridge.custody.records import Committee, CustodyUtxo, MandateKind, UtxoStatus
from etm_bridge.custody.spec import SpendRequest
from etm_bridge.errors import ConfigError, CustodyError, ValidationError

SECRETS = tuple(bytes([0x20 + i]) * 32 for i in range(4))
BY_KEY = {ecdsa.pubkey(s): s for s in SECRETS}
KEYS = tuple(sorted(BY_KEY))
POLICY = scripts.KeyPolicy(3, KEYS)
COMMITTEE = Committee(0, tuple(bytes([i]) * 32 for i in range(4)), 3, 4, {"btc": KEYS}, 0, "g")
CFG = BtcCustodyConfig()
VAULT = SPEC.vault(COMMITTEE, CFG)
USER = ecdsa.pubkey(b"\x77" * 32)


def _utxo(amount: int, tag: int = 0) -> CustodyUtxo:
    return CustodyUtxo("btc", bytes([tag]) * 32 + b"\x00" * 4, amount, 0, UtxoStatus.UNSPENT)


def _req(kind: MandateKind, terms: dict, rate: int = 2) -> SpendRequest:
    return SpendRequest(kind, b"\x42" * 32, 0, 0, COMMITTEE, VAULT, terms, rate)


def _shares(plan: build.SpendPlan, keys: tuple[bytes, ...] = KEYS) -> dict:
    return {k: build.sign_plan(plan, BY_KEY[k]) for k in keys}


# --- ecdsa ---------------------------------------------------------------------------------------


def _high_s(sig: bytes) -> bytes:
    der = sig[:-1]
    r_len = der[3]
    r, s = der[4 : 4 + r_len], int.from_bytes(der[6 + r_len :], "big")
    body = b"\x02" + bytes([len(r)]) + r + ecdsa._der_int(ecdsa.ORDER - s)
    return b"\x30" + bytes([len(body)]) + body + sig[-1:]


def test_signatures_are_deterministic_low_s_strict_der() -> None:
    digest = secrets.token_bytes(32)
    sig = ecdsa.sign(SECRETS[0], digest)
    assert sig == ecdsa.sign(SECRETS[0], digest) and ecdsa.is_strict_der(sig)
    assert ecdsa.verify_share(digest, ecdsa.pubkey(SECRETS[0]), sig)
    assert not ecdsa.verify_share(digest, ecdsa.pubkey(SECRETS[1]), sig)
    assert not ecdsa.verify_share(secrets.token_bytes(32), ecdsa.pubkey(SECRETS[0]), sig)


def test_a_high_s_twin_is_no_share_but_still_the_keys_signature() -> None:
    digest, key = secrets.token_bytes(32), ecdsa.pubkey(SECRETS[0])
    high = _high_s(ecdsa.sign(SECRETS[0], digest))
    assert ecdsa.is_strict_der(high)
    assert not ecdsa.verify_share(digest, key, high)  # would make the spend non-standard
    assert ecdsa.verify(key, digest, high) == ecdsa.SIGHASH_ALL  # a fraud proof accepts it


def test_non_all_hash_types_and_lax_der_are_no_shares() -> None:
    digest, key = secrets.token_bytes(32), ecdsa.pubkey(SECRETS[0])
    sig = ecdsa.sign(SECRETS[0], digest)
    for hash_type in (0x02, 0x03, 0x81, 0x00):
        assert not ecdsa.verify_share(digest, key, sig[:-1] + bytes([hash_type]))
    der = sig[:-1]
    padded_r = b"\x30" + bytes([der[1] + 1]) + b"\x02" + bytes([der[3] + 1]) + b"\x00" + der[4:]
    for lax in (padded_r + b"\x01", sig + b"\x00", sig[:-2] + sig[-1:], b"\x31" + sig[1:], b""):
        assert not ecdsa.is_strict_der(lax)
        assert ecdsa.verify(key, digest, lax) is None


# --- plans ----------------------------------------------------------------------------------------


def test_plans_round_trip_and_refuse_malformed_encodings() -> None:
    plan = build.decode_plan(
        SPEC.build(
            _req(MandateKind.ROTATION_SWEEP, {}), [_utxo(90_000, 2), _utxo(50_000, 1)], CFG
        ).spend
    )
    raw = build.encode_plan(plan)
    assert build.decode_plan(raw) == plan
    assert [i.outpoint[0] for i in plan.inputs] == [1, 2]  # BIP69 order
    for bad in (raw + b"\x00", raw[:-1], b"\x02" + raw[1:]):
        with pytest.raises(ValidationError):
            build.decode_plan(bad)
    with pytest.raises(ValidationError, match="sorted"):
        build.SpendPlan(tuple(reversed(plan.inputs)), plan.outputs, 0, plan.fee, 2)
    with pytest.raises(ValidationError, match="fee"):
        build.SpendPlan(plan.inputs, plan.outputs, 0, plan.fee + 1, 2)
    with pytest.raises(ValidationError):  # a vault input must carry a vault script
        build.PlannedInput(
            b"\x00" * 36, 1000, scripts.HtlcV1(b"\x00" * 32, USER, USER, 5).script, "vault"
        )


def test_the_fee_covers_the_rate_for_the_largest_signatures() -> None:
    for rate in (1, 2, 7, 50):
        plan = build.decode_plan(
            SPEC.build(
                _req(
                    MandateKind.COUNTER_LOCK,
                    {
                        "amount": 100_000,
                        "hashlock": "11" * 32,
                        "claim_key": USER.hex(),
                        "timelock": 900,
                    },
                    rate,
                ),
                [_utxo(400_000, 3), _utxo(5_000, 4)],
                CFG,
            ).spend
        )
        signed = build.assemble_from_shares(plan, _shares(plan))
        tx = CTransaction.deserialize(signed)
        vsize = (len(tx.serialize({"include_witness": False})) * 3 + len(signed) + 3) // 4
        assert vsize <= build.vsize_bound(plan.inputs, plan.outputs) <= vsize + 2 * 3
        assert plan.fee >= rate * vsize


def test_change_below_dust_joins_the_fee_and_overspending_is_refused() -> None:
    vin = build.vault_input(b"\x01" * 36, 100_000, POLICY)
    exact = 100_000 - build.fee_for(2, [vin], [build.PlannedOutput(scripts.p2wpkh(USER), 0)]) - 100
    plan = build.pay_with_change(
        [vin], [build.PlannedOutput(scripts.p2wpkh(USER), exact)], VAULT.destination, 2
    )
    assert len(plan.outputs) == 1 and plan.fee == 100_000 - exact
    with pytest.raises(ValidationError, match="cannot pay"):
        build.pay_with_change([vin], [build.PlannedOutput(USER, 100_000)], VAULT.destination, 2)


def test_shares_of_the_first_m_valid_members_in_key_order_are_chosen() -> None:
    plan = build.decode_plan(
        SPEC.build(
            _req(MandateKind.ROTATION_SWEEP, {}), [_utxo(90_000, 2), _utxo(50_000, 1)], CFG
        ).spend
    )
    shares = _shares(plan)
    chosen = build.select_shares(plan, shares)
    assert chosen == {k: [shares[key][k] for key in KEYS[:3]] for k in range(2)}
    # member 0 gossips garbage and a high-S twin: skipped, members 1-3 are taken, same for all
    bad = dict(shares)
    bad[KEYS[0]] = (_high_s(shares[KEYS[0]][0]), shares[KEYS[1]][1])
    again = build.select_shares(plan, dict(reversed(list(bad.items()))))
    assert again == {k: [shares[key][k] for key in KEYS[1:]] for k in range(2)}
    assert build.select_shares(plan, bad) == again
    with pytest.raises(ValidationError, match="input 0: 2 valid shares, 3 needed"):
        build.select_shares(plan, {k: shares[k] for k in KEYS[:2]})
    with pytest.raises(ValidationError):  # a share of one input too few counts for none
        build.select_shares(plan, {k: v[:1] for k, v in shares.items()})


# --- the spec -------------------------------------------------------------------------------------


def test_the_profile_carries_the_bitcoin_spec() -> None:
    assert PROFILE.custody is SPEC and SPEC.key_len == 33
    assert SPEC.sort_keys(list(reversed(KEYS))) == KEYS
    assert VAULT.claim_key == POLICY.encode() and VAULT.address.startswith("bcrt1q")
    assert VAULT.destination == scripts.p2wsh(POLICY.vault_script())
    assert SPEC.vault(COMMITTEE, BtcCustodyConfig("mainnet")).address.startswith("bc1q")


def test_each_kind_builds_its_outputs_in_order() -> None:
    utxos = [_utxo(300_000, 1)]
    lock = SPEC.build(
        _req(
            MandateKind.COUNTER_LOCK,
            {"amount": 100_000, "hashlock": "22" * 32, "claim_key": USER.hex(), "timelock": 700},
        ),
        utxos,
        CFG,
    )
    plan = build.decode_plan(lock.spend)
    htlc = scripts.CounterHtlc(b"\x22" * 32, USER, POLICY, 700)
    assert [o.script_pubkey for o in plan.outputs] == [
        scripts.p2wsh(htlc.script),
        scripts.MarkerV2.of(htlc).script_pubkey(),
        VAULT.destination,
    ]
    assert lock.inputs == (utxos[0].outpoint,) and lock.fee == plan.fee
    pay = build.decode_plan(
        SPEC.build(
            _req(MandateKind.LP_WITHDRAW, {"amount": 50_000, "claim_key": USER.hex()}), utxos, CFG
        ).spend
    )
    assert pay.outputs[0].amount == 50_000 - pay.fee and pay.outputs[2].amount == 250_000
    assert scripts.parse_withdrawal_tag(pay.outputs[1].script_pubkey) == b"\x42" * 32
    bumped = build.decode_plan(
        SPEC.build(
            _req(
                MandateKind.LP_WITHDRAW,
                {"amount": 50_000, "claim_key": USER.hex(), "payout_fee": pay.fee},
                4,
            ),
            utxos,
            CFG,
        ).spend
    )
    assert bumped.outputs[0].amount == pay.outputs[0].amount  # the payout is fixed across bumps
    refund = build.decode_plan(
        SPEC.build(
            _req(
                MandateKind.COUNTER_REFUND,
                {
                    "outpoint": "33" * 36,
                    "amount": 100_000,
                    "hashlock": "22" * 32,
                    "claim_key": USER.hex(),
                    "timelock": 700,
                },
            ),
            [],
            CFG,
        ).spend
    )
    assert refund.locktime == 700 and refund.outputs[0].script_pubkey == VAULT.destination
    assert refund.inputs[0].branch == "htlc_refund"


@pytest.mark.parametrize(
    ("kind", "terms", "utxos"),
    [
        (MandateKind.LP_WITHDRAW, {"amount": 500_000, "claim_key": USER.hex()}, [_utxo(1000)]),
        (MandateKind.LP_WITHDRAW, {"amount": 400, "claim_key": USER.hex()}, [_utxo(90_000)]),
        (MandateKind.COUNTER_LOCK, {"amount": 1}, [_utxo(90_000)]),  # missing terms
        (
            MandateKind.COUNTER_LOCK,
            {"amount": 10, "hashlock": "22" * 31, "claim_key": USER.hex(), "timelock": 5},
            [_utxo(90_000)],
        ),
        (MandateKind.ROTATION_SWEEP, {}, []),
        (MandateKind.ROTATION_SWEEP, {}, [_utxo(300)]),
        (MandateKind.POOL_CREATE, {}, [_utxo(90_000)]),
        (MandateKind.ROTATION_SWEEP, {}, [_utxo(1000, i) for i in range(51)]),  # > max_inputs
    ],
)
def test_a_request_no_spend_can_satisfy_is_refused(
    kind: MandateKind, terms: dict, utxos: list[CustodyUtxo]
) -> None:
    with pytest.raises(CustodyError) as err:
        SPEC.build(_req(kind, terms), utxos, CFG)
    assert err.value.reason == "bad_parameter"


def test_genesis_config_and_a_malformed_outcome_proof() -> None:
    cfg = BtcCustodyConfig.from_json({"network": "regtest", "max_inputs": 20})
    assert BtcCustodyConfig.from_json(cfg.to_json()) == cfg
    for raw in (
        {"fee": 1},
        {"network": "signet"},
        {"max_inputs": 0},
        {"fee_rate_sat_vb": True},
        {"fee_rate_sat_vb": 9, "max_fee_rate_sat_vb": 8},
    ):
        with pytest.raises(ConfigError):
            BtcCustodyConfig.from_json(raw)
    with pytest.raises(CustodyError, match="malformed_field: bitcoin outcome proof"):
        SPEC.outcome(None, b"", None)  # the body is parsed before the relay is read


def test_the_signer_assembles_only_members_valid_shares_in_key_order() -> None:
    """Attack (x7c) on an assembler (``custody_signer`` -> ``signing.assemble``): the shares it
    is handed hold a stranger's valid signatures, a member's signatures replayed under another
    member's key, a member's shares over another spend, all in reverse key order. Stopped by
    ``build.select_shares``: every share is checked against this plan's own digests and only
    the policy's keys are taken, in key order, so the result is the honest transaction, and
    with only two honest members it refuses (a ValidationError naming the input)."""
    from etm_bridge.chains.bitcoin.custody import signing

    terms = {"amount": 60_000, "claim_key": USER.hex()}
    built = SPEC.build(_req(MandateKind.LP_WITHDRAW, terms), [_utxo(200_000, 5),
                                                             _utxo(90_000, 6)], CFG)  # fmt: skip
    other = SPEC.build(_req(MandateKind.LP_WITHDRAW, terms), [_utxo(200_000, 7)], CFG)
    plan, spend = build.decode_plan(built.spend), built.spend
    honest = build.assemble_from_shares(plan, _shares(plan, KEYS[:3]))

    def by_input(sigs: list[bytes]) -> dict[int, bytes]:
        return dict(enumerate(sigs))

    stranger = b"\x55" * 32
    mixed = {
        ecdsa.pubkey(stranger): by_input(build.sign_plan(plan, stranger)),
        KEYS[3]: by_input(build.sign_plan(plan, BY_KEY[KEYS[2]])),  # replayed under key 3
        KEYS[2]: by_input(build.sign_plan(plan, BY_KEY[KEYS[2]])),
        KEYS[1]: by_input(build.sign_plan(plan, BY_KEY[KEYS[1]])),
        KEYS[0]: by_input(build.sign_plan(plan, BY_KEY[KEYS[0]])),
    }
    assert signing.assemble(spend, mixed) == honest
    wrong = build.decode_plan(other.spend)
    short = {k: v for k, v in mixed.items() if k != KEYS[0]}
    short[KEYS[0]] = by_input(build.sign_plan(wrong, BY_KEY[KEYS[0]]) * 2)  # another spend's
    with pytest.raises(ValidationError, match="input 0: 2 valid shares"):
        signing.assemble(spend, short)
