"""The Bitcoin committee vault on a real regtest node (bcoin by default, Core with $BITCOIND).

A 3-of-4 vault (design-14 section 2) holds coins; every spend kind is built by the Bitcoin
``CustodySpec`` from a mandate's terms, signed by the members (coincurve, RFC 6979), assembled
from 3 of the 4 shares (the first 3 members in key order that signed), cross-checked by
libbitcoinkernel, and accepted by the node. Attacks performed: 2 shares, the 3 shares in the
wrong order, a counter refund one block early, a lone member's theft signature (refused by the
node, convicted by the fraud verdict), a member's share over the mandated spend (not fraud).
The user's single-key branches (counter claim, swap-in refund) are spent too.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

import pytest
from bitcoin.core import (
    CMutableTransaction,
    COutPoint,
    CScriptWitness,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
)
from bitcoin.core.script import SIGVERSION_WITNESS_V0, CScript, SignatureHash
from bitcoin.segwit_addr import encode as bech32_encode
from btc_kernel import kernel_verifies
from etm_bridge_regtest.bitcoin import BitcoinNode

from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.fraud import encode_body
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig
from etm_bridge.custody import fraud as custody_fraud
from etm_bridge.custody.records import (
    Committee,
    CustodyUtxo,
    MandateKind,
    Member,
    UtxoStatus,
)
from etm_bridge.custody.spec import SpendRequest
from etm_bridge.errors import CustodyError, RPCError
from etm_bridge.hashlock import hashlock_of

SECRETS = tuple(bytes([0x40 + i]) * 32 for i in range(4))
BY_KEY = {ecdsa.pubkey(s): s for s in SECRETS}
KEYS = tuple(sorted(BY_KEY))
DELEGATES = tuple(bytes([0xD0 + i]) * 32 for i in range(4))
COMMITTEE = Committee(0, DELEGATES, 3, 4, {"btc": KEYS}, 0, "genesis")
MEMBERS = {d: Member(d, d, {"btc": k}, 10**12) for d, k in zip(DELEGATES, KEYS, strict=True)}
CFG = BtcCustodyConfig("regtest")
VAULT = SPEC.vault(COMMITTEE, CFG)
POLICY = scripts.parse_policy(VAULT.claim_key)
USER_SECRET = bytes([0x77]) * 32
USER_KEY = ecdsa.pubkey(USER_SECRET)
RATE = 2


def _fund(node: BitcoinNode, spk: bytes, amount: int) -> bytes:
    """Pay ``amount`` to ``spk`` from the faucet, confirmed; the new outpoint."""
    txid = node.fund(bech32_encode("bcrt", 0, spk[2:]), amount)
    tx = CTransaction.deserialize(bytes.fromhex(node.rpc.call("getrawtransaction", txid, 0)))
    vout = next(k for k, o in enumerate(tx.vout) if bytes(o.scriptPubKey) == spk)
    return bytes.fromhex(txid)[::-1] + vout.to_bytes(4, "little")


def _request(kind: MandateKind, terms: Mapping[str, object]) -> SpendRequest:
    return SpendRequest(kind, secrets.token_bytes(32), 0, 0, COMMITTEE, VAULT, terms, RATE)


def _shares(spend: bytes, members: Sequence[bytes]) -> dict[bytes, tuple[bytes, ...]]:
    """Each member's share: its signature of every digest of the spend."""
    return {k: tuple(ecdsa.sign(BY_KEY[k], d) for d in SPEC.digests(spend)) for k in members}


def _send(node: BitcoinNode, raw: bytes, spent: list[tuple[int, bytes]]) -> str:
    """Broadcast after libbitcoinkernel's verdict; a node refusal re-raised as RPCError."""
    kernel_ok = kernel_verifies(CTransaction.deserialize(raw), spent)
    txid = str(node.rpc.call("sendrawtransaction", raw.hex()))
    assert kernel_ok, "the node accepted a spend libbitcoinkernel refuses"
    return txid


def _refused(
    node: BitcoinNode, raw: bytes, spent: list[tuple[int, bytes]], *, script_ok: bool = False
) -> None:
    """The node refuses ``raw`` (-26); libbitcoinkernel says whether its scripts pass, so a
    refusal is shown to be the script's (or, ``script_ok``, something else's: finality)."""
    assert kernel_verifies(CTransaction.deserialize(raw), spent) is script_ok
    with pytest.raises(RPCError) as err:
        node.rpc.call("sendrawtransaction", raw.hex())
    assert err.value.code == -26, err.value


def _with_dummy(raw: bytes, dummy: bytes) -> bytes:
    """``raw`` with every input's CHECKMULTISIG dummy (witness item 0) replaced."""
    tx = CMutableTransaction.from_tx(CTransaction.deserialize(raw))
    wits = [
        CTxInWitness(CScriptWitness([dummy, *list(w.scriptWitness)[1:]])) for w in tx.wit.vtxinwit
    ]
    tx.wit = CTxWitness(wits)
    return tx.serialize()


def _spent_of(spend: bytes) -> list[tuple[int, bytes]]:
    plan = build.decode_plan(spend)
    return [(i.amount, scripts.p2wsh(i.witness_script)) for i in plan.inputs]


def _settle(node: BitcoinNode, spend: bytes, extras: Mapping[str, bytes] = {}) -> str:
    """Refused with 2 shares, with 3 shares out of key order and with a non-empty dummy;
    accepted with the first 3 valid members in key order (member 0 offline: members 1-3
    sign). Returns the txid."""
    plan, spent = build.decode_plan(spend), _spent_of(spend)
    all_three = _shares(spend, KEYS[1:])
    chosen = build.select_shares(plan, all_three)
    two = {k: sigs[:2] for k, sigs in chosen.items()}
    _refused(node, SPEC.assemble(spend, two, extras), spent)
    backwards = {k: list(reversed(sigs)) for k, sigs in chosen.items()}
    _refused(node, SPEC.assemble(spend, backwards, extras), spent)
    with pytest.raises(Exception, match="2 valid shares, 3 needed"):
        build.select_shares(plan, _shares(spend, KEYS[2:]))
    signed = SPEC.assemble(spend, chosen, extras)
    _refused(node, _with_dummy(signed, b"\x01"), spent)  # NULLDUMMY (BIP147)
    txid = _send(node, signed, spent)
    assert bytes.fromhex(txid)[::-1] == SPEC.txid(spend)  # ETM's precomputed txid
    return txid


def _vault_utxo(node: BitcoinNode, amount: int) -> CustodyUtxo:
    return CustodyUtxo("btc", _fund(node, VAULT.destination, amount), amount, 0, UtxoStatus.UNSPENT)


def test_a_vault_payout_needs_three_of_four_in_key_order(bitcoin_node: BitcoinNode) -> None:
    utxo = _vault_utxo(bitcoin_node, 200_000)
    req = _request(MandateKind.LP_WITHDRAW, {"amount": 50_000, "claim_key": USER_KEY.hex()})
    spend = SPEC.build(req, [utxo], CFG).spend
    txid = _settle(bitcoin_node, spend)
    tx = CTransaction.deserialize(
        bytes.fromhex(bitcoin_node.rpc.call("getrawtransaction", txid, 0))
    )
    assert scripts.parse_withdrawal_tag(bytes(tx.vout[1].scriptPubKey)) == req.mandate_id
    assert bytes(tx.vout[2].scriptPubKey) == VAULT.destination  # change back to the vault
    assert sum(o.nValue for o in tx.vout) == 200_000 - build.decode_plan(spend).fee


def test_a_swap_in_claim_takes_the_preimage_and_three_signatures(bitcoin_node: BitcoinNode) -> None:
    preimage = secrets.token_bytes(32)
    timelock = bitcoin_node.height() + 100
    lock = scripts.SwapInHtlc(hashlock_of(preimage), POLICY, USER_KEY, timelock)
    outpoint = _fund(bitcoin_node, scripts.p2wsh(lock.script), 120_000)
    terms = {
        "outpoint": outpoint.hex(),
        "amount": 120_000,
        "hashlock": lock.hashlock.hex(),
        "refund_key": USER_KEY.hex(),
        "timelock": timelock,
    }
    spend = SPEC.build(_request(MandateKind.CLAIM_SWAP_IN, terms), [], CFG).spend
    with pytest.raises(Exception, match="preimage"):
        SPEC.assemble(spend, {0: []}, {})
    _settle(bitcoin_node, spend, {"preimage": preimage})


def test_a_counter_lock_from_the_vault_and_its_refund_only_after_the_timelock(
    bitcoin_node: BitcoinNode,
) -> None:
    utxo = _vault_utxo(bitcoin_node, 300_000)
    timelock = bitcoin_node.height() + 3
    hashlock = hashlock_of(secrets.token_bytes(32))
    terms = {
        "amount": 100_000,
        "hashlock": hashlock.hex(),
        "claim_key": USER_KEY.hex(),
        "timelock": timelock,
    }
    spend = SPEC.build(_request(MandateKind.COUNTER_LOCK, terms), [utxo], CFG).spend
    txid = _settle(bitcoin_node, spend)
    bitcoin_node.mine(1)
    lock = scripts.CounterHtlc(hashlock, USER_KEY, POLICY, timelock)
    tx = CTransaction.deserialize(
        bytes.fromhex(bitcoin_node.rpc.call("getrawtransaction", txid, 0))
    )
    assert bytes(tx.vout[0].scriptPubKey) == scripts.p2wsh(lock.script)
    marker = scripts.parse_marker_v2(bytes(tx.vout[1].scriptPubKey))
    assert marker is not None and marker.htlc(hashlock, POLICY) == lock
    terms = {
        "outpoint": (bytes.fromhex(txid)[::-1] + bytes(4)).hex(),
        "amount": 100_000,
        "hashlock": hashlock.hex(),
        "claim_key": USER_KEY.hex(),
        "timelock": timelock,
    }
    refund = SPEC.build(_request(MandateKind.COUNTER_REFUND, terms), [], CFG).spend
    shares = build.select_shares(build.decode_plan(refund), _shares(refund, KEYS))
    signed, spent = SPEC.assemble(refund, shares, {}), _spent_of(refund)
    bitcoin_node.mine(timelock - 1 - bitcoin_node.height())
    _refused(bitcoin_node, signed, spent, script_ok=True)  # one block early: non-final
    bitcoin_node.mine(1)
    assert _settle(bitcoin_node, refund) == CTransaction.deserialize(signed).GetTxid()[::-1].hex()


def test_a_lone_members_theft_moves_nothing_and_is_convicted(bitcoin_node: BitcoinNode) -> None:
    utxo = _vault_utxo(bitcoin_node, 150_000)
    req = _request(MandateKind.LP_WITHDRAW, {"amount": 40_000, "claim_key": USER_KEY.hex()})
    mandated = build.decode_plan(SPEC.build(req, [utxo], CFG).spend)
    covered = frozenset(build.digests(mandated))
    thief = KEYS[2]
    theft = build.sweep(
        [build.vault_input(utxo.outpoint, utxo.amount, POLICY)], scripts.p2wpkh(thief), RATE
    )
    sig = ecdsa.sign(BY_KEY[thief], build.digests(theft)[0])
    _refused(bitcoin_node, build.assemble(theft, {0: [sig]}), [(utxo.amount, VAULT.destination)])

    def judge(plan: build.SpendPlan, signature: bytes) -> bytes:
        body = encode_body(
            build.unsigned_tx(plan), 0, POLICY.vault_script(), utxo.amount, signature
        )
        f = custody_fraud.Fraud("btc", 0, thief, body)
        return custody_fraud.judge(f, COMMITTEE, MEMBERS, SPEC.fraud, covered.__contains__)

    assert judge(theft, sig) == DELEGATES[2]
    honest = ecdsa.sign(BY_KEY[thief], build.digests(mandated)[0])
    with pytest.raises(CustodyError) as err:
        judge(mandated, honest)
    assert err.value.reason == "signature_mandated"
    # the mandated spend still settles without the accused member's share
    spend = build.encode_plan(mandated)
    others = build.select_shares(mandated, _shares(spend, [k for k in KEYS if k != thief]))
    _send(bitcoin_node, SPEC.assemble(spend, others, {}), _spent_of(spend))


def _user_spend(
    node: BitcoinNode, outpoint: bytes, amount: int, script: bytes, tail: list[bytes], **tx: int
) -> bytes:
    """A one-input spend of a v2 HTLC's single-key branch by the user, to the user's P2WPKH:
    witness ``<sig> <tail...> <script>``; ``tx``: ``locktime``, ``sequence``."""
    vin = CTxIn(
        COutPoint(outpoint[:32], int.from_bytes(outpoint[32:], "little")),
        nSequence=tx.get("sequence", 0xFFFFFFFD),
    )
    vout = [CTxOut(amount - 2_000, CScript(scripts.p2wpkh(USER_KEY)))]
    unsigned = CTransaction([vin], vout, tx.get("locktime", 0), 2)
    digest = SignatureHash(CScript(script), unsigned, 0, 1, amount, SIGVERSION_WITNESS_V0)
    sig = ecdsa.sign(USER_SECRET, bytes(digest))
    wit = CTxWitness([CTxInWitness(CScriptWitness([sig, *tail, script]))])
    return CTransaction([vin], vout, unsigned.nLockTime, 2, wit).serialize()


def test_the_users_single_key_branches_of_both_v2_templates(bitcoin_node: BitcoinNode) -> None:
    """The user claims a counter lock with the preimage (a wrong one is refused) and refunds a
    swap-in lock at its timelock (one block early is refused)."""
    preimage = secrets.token_bytes(32)
    timelock = bitcoin_node.height() + 3
    counter = scripts.CounterHtlc(hashlock_of(preimage), USER_KEY, POLICY, timelock)
    swap_in = scripts.SwapInHtlc(hashlock_of(preimage), POLICY, USER_KEY, timelock)
    c_out = _fund(bitcoin_node, scripts.p2wsh(counter.script), 60_000)
    s_out = _fund(bitcoin_node, scripts.p2wsh(swap_in.script), 70_000)
    c_spent = [(60_000, scripts.p2wsh(counter.script))]
    wrong = _user_spend(bitcoin_node, c_out, 60_000, counter.script, [bytes(32), b"\x01"])
    _refused(bitcoin_node, wrong, c_spent)
    claim = _user_spend(bitcoin_node, c_out, 60_000, counter.script, [preimage, b"\x01"])
    _send(bitcoin_node, claim, c_spent)
    refund = _user_spend(
        bitcoin_node, s_out, 70_000, swap_in.script, [b""], locktime=timelock, sequence=0xFFFFFFFE
    )
    s_spent = [(70_000, scripts.p2wsh(swap_in.script))]
    bitcoin_node.mine(timelock - 1 - bitcoin_node.height())
    _refused(bitcoin_node, refund, s_spent, script_ok=True)
    bitcoin_node.mine(1)
    _send(bitcoin_node, refund, s_spent)


def test_a_rotation_sweep_of_two_outputs_lands_in_the_next_committees_vault(
    bitcoin_node: BitcoinNode,
) -> None:
    """Two inputs, each signed by 3 of the old committee; the one output pays the new vault."""
    new_keys = tuple(sorted(ecdsa.pubkey(bytes([0x60 + i]) * 32) for i in range(4)))
    new_vault = SPEC.vault(Committee(1, DELEGATES, 3, 4, {"btc": new_keys}, 0, "epoch"), CFG)
    utxos = [_vault_utxo(bitcoin_node, 90_000), _vault_utxo(bitcoin_node, 40_000)]
    req = SpendRequest(
        MandateKind.ROTATION_SWEEP, secrets.token_bytes(32), 0, 0, COMMITTEE, new_vault, {}, RATE
    )
    spend = SPEC.build(req, utxos, CFG).spend
    txid = _settle(bitcoin_node, spend)
    tx = CTransaction.deserialize(
        bytes.fromhex(bitcoin_node.rpc.call("getrawtransaction", txid, 0))
    )
    assert len(tx.vin) == 2 and [bytes(o.scriptPubKey) for o in tx.vout] == [new_vault.destination]
