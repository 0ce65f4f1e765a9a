"""LP money on a committee pool (design-14 sections 2.2, 4.1 kind 3, 4.5, 4.7): deposits (206)
become vault outputs only when they pay a vault accepting deposits; withdrawals (207) open an
``lp_withdraw`` mandate over the active vault's outputs (or queue it); tx 302 proves it. The
chain is Bitcoin's real ``CustodySpec`` (pure: scripts, spend plans, digests, txids); the SPV
part of the outcome proof (relay, depth) is replaced by reading the spend plan itself (the
real proof runs against a node in tests/integration/custody/test_btc_lp_vault.py). Every
refusal reason and every attack of the brief is performed here."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest
from custody_world import DOMAIN

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import RoundClose, TxContext, build_registry
from etm_bridge.chain.state import EmptyBackend, State, StateView
from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.spec import SPEC
from etm_bridge.custody import hooks, mandate_store, mandates, outcome, vaults
from etm_bridge.custody import records as cr
from etm_bridge.custody.params import CustodyParams
from etm_bridge.custody.port import ChainCustody
from etm_bridge.custody.spec import CreatedOutput, CustodySpec, ProvenOutcome
from etm_bridge.errors import CustodyError, ExchangeError, TxRejectedError, ValidationError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as xr
from etm_bridge.exchange.obligations import VerifiedDeposit
from etm_bridge.exchange.plans import TxPlan
from etm_bridge.exchange.pool import COMMITTEE_OPERATOR, Pool, PoolParams

pytestmark = pytest.mark.unit

PLUGINS = ("etm_bridge.custody.txtypes", "etm_bridge.exchange.txtypes")
SECTION = {"domain": DOMAIN.hex(), "chains": ["btc"], "min_bond": 1_000, "grace_blocks": 5,
           "btc": {"network": "regtest"}}  # fmt: skip
SECRETS = [bytes([0x50 + i]) * 32 for i in range(6)]
KEYS = [ecdsa.pubkey(s) for s in SECRETS]
D = [bytes([i]) * 32 for i in range(1, 7)]
PAYEE = ecdsa.pubkey(bytes([0x77]) * 32)
OPERATOR_KEY = ecdsa.pubkey(bytes([0x66]) * 32)


def proven_from_plan(view: StateView, proof: bytes, ctx: TxContext) -> ProvenOutcome:
    """The test's outcome: ``proof`` is a spend plan encoding, taken as proven on Bitcoin."""
    try:
        plan = build.decode_plan(proof)
    except ValidationError as exc:
        raise CustodyError("malformed_field", str(exc)) from exc
    txid = build.txid(plan)
    created = tuple(CreatedOutput(txid + k.to_bytes(4, "little"), o.amount, o.script_pubkey)
                    for k, o in enumerate(plan.outputs))  # fmt: skip
    return ProvenOutcome(txid, 7, txid, tuple(i.outpoint for i in plan.inputs), created)


TEST_SPEC = replace(SPEC, outcome=proven_from_plan)
SPECS: Callable[[], Mapping[str, CustodySpec]] = lambda: {"btc": TEST_SPEC}  # noqa: E731
PORT = ChainCustody(SPECS)


def ctx(height: int = 10) -> TxContext:
    return TxContext(ChainParams(), height, 1_000 + height, bytes(32))


class World:
    def __init__(self) -> None:
        registry = build_registry(ChainParams(tx_plugins=PLUGINS))
        self.s = State(EmptyBackend(), registry.table_names)
        self.s.put_json(cr.PARAMS, b"params", CustodyParams.from_json(SECTION).to_json())
        self.pool = Pool(PoolParams("btc", COMMITTEE_OPERATOR, b""))
        self.s.put_json(xr.POOLS, b"btc", xr.encode(self.pool))
        self.reserve = 0  # the pool's asset reserve as the exchange would move it
        self.n = 0

    def seat(self, epoch: int, members: range, start: int = 1) -> cr.Committee:
        ds = tuple(D[i] for i in members)
        keys = tuple(sorted(KEYS[i] for i in members))
        n = len(ds)
        c = cr.Committee(epoch, ds, n * 2 // 3 + 1, n, {"btc": keys}, start, "first")
        self.s.put_json(cr.EPOCHS, cr.epoch_key(epoch), cr.encode(c))
        self.s.put(cr.CURRENT, b"epoch", cr.epoch_key(epoch))
        return c

    def vault(self, epoch: int) -> bytes:
        c = vaults.committee_of(self.s, epoch)
        return SPEC.vault(c, SPEC.genesis.from_json({"network": "regtest"})).destination

    def commit(self, plan: TxPlan) -> None:
        for (table, key), value in plan.writes.items():
            self.s.put(table, key, value)

    def deposit(
        self, amount: int, dest: bytes, ref: bytes | None = None, height: int = 10,
        spends: tuple[bytes, ...] = (),
    ) -> bytes:  # fmt: skip
        self.n += 1
        ref = ref if ref is not None else bytes([self.n]) * 32 + b"\x00" * 4
        d = VerifiedDeposit(ref[:32] + b"\x00\x00\x00\x00", "btc", amount, "etm1x", b"",
                            dest, ref, spends)  # fmt: skip
        plan = TxPlan()
        PORT.on_lp_deposit(self.s, plan, d, ctx(height))
        self.commit(plan)
        self.reserve += amount
        return ref

    def withdraw(self, amount: int, tx_id: bytes, height: int = 10) -> cr.Mandate:
        plan = TxPlan()
        PORT.on_lp_withdraw(self.s, plan, _Tx(tx_id), self.pool, amount, PAYEE, ctx(height))  # type: ignore[arg-type]
        self.commit(plan)
        self.reserve -= amount
        mid = mandates.mandate_id(cr.MandateKind.LP_WITHDRAW, "btc", tx_id)
        m = mandate_store.get_mandate(self.s, mid)
        assert m is not None
        return m

    def prove(self, mandate_id: bytes, spend: bytes, height: int = 11) -> cr.Mandate:
        p = outcome.decode_outcome(outcome.OutcomeProof("btc", mandate_id, spend).encode())
        outcome.run(self.s, None, p, ctx(height), SPECS)  # type: ignore[arg-type]
        m = mandate_store.get_mandate(self.s, mandate_id)
        assert m is not None
        return m

    def close_round(self, height: int = 12, round_no: int = 1) -> None:
        """Run the custody round hook (the real one, with the test's specs) at a round close
        whose block is at ``height`` (timestamp as ``ctx``'s)."""
        close = RoundClose(ChainParams(), round_no, height, 1_000 + height, (), ())
        hooks.make_hook(lambda: {}, SPECS)(self.s, close)

    def utxos(self) -> list[cr.CustodyUtxo]:
        return [cr.decode(cr.CustodyUtxo, json.loads(v)) for _, v in self.s.scan(cr.UTXOS)]

    def books_balance(self) -> tuple[int, int]:
        held = sum(u.amount for u in self.utxos()
                   if u.status in (cr.UtxoStatus.UNSPENT, cr.UtxoStatus.RESERVED))  # fmt: skip
        raw = self.s.get_json(cr.ACCOUNTS, b"btc")
        acc = cr.CustodyAccount() if raw is None else cr.decode(cr.CustodyAccount, raw)
        return held + acc.in_htlc + acc.receivable, self.reserve + acc.owed + acc.pending_fees


class _Tx:
    def __init__(self, tx_id: bytes) -> None:
        self.id = tx_id


def reason(call: Callable[[], Any]) -> str:
    with pytest.raises((ExchangeError, TxRejectedError, CustodyError)) as exc:
        call()
    return str(exc.value.reason)


# --- deposits -----------------------------------------------------------------------------------


def test_a_deposit_to_the_vault_becomes_an_unspent_vault_output_and_the_books_balance() -> None:
    w = World()
    w.seat(0, range(4))
    ref = w.deposit(150_000, w.vault(0))
    u = mandate_store.get_utxo(w.s, "btc", ref)
    assert u is not None and (u.amount, u.epoch, u.status) == (150_000, 0, cr.UtxoStatus.UNSPENT)
    assert w.books_balance() == (150_000, 150_000)


def test_a_deposit_paying_anything_but_an_accepting_vault_is_refused() -> None:
    w = World()
    assert reason(lambda: w.deposit(1_000, b"\x00" * 34)) == "custody_inactive"  # no committee
    w.seat(0, range(4))
    operator = scripts.p2wpkh(OPERATOR_KEY)  # a legacy pool's operator key
    assert reason(lambda: w.deposit(1_000, operator)) == "wrong_destination"
    assert reason(lambda: w.deposit(1_000, b"")) == "wrong_destination"  # verifier named none
    assert w.utxos() == []


def test_the_previous_vault_accepts_deposits_only_within_grace_blocks() -> None:
    w = World()
    w.seat(0, range(4))
    old = w.vault(0)
    w.seat(1, range(1, 5), start=20)  # a rotation at height 20, grace 5
    ref = w.deposit(10_000, old, height=25)
    assert mandate_store.get_utxo(w.s, "btc", ref).epoch == 0  # type: ignore[union-attr]
    assert reason(lambda: w.deposit(10_000, old, height=26)) == "stale_vault"
    w.deposit(10_000, w.vault(1), height=26)


def test_a_deposit_counted_twice_is_refused() -> None:
    """Attack: the same vault output credited twice (the exchange's used-deposit table refuses
    the same proof; the port refuses an outpoint ETM already knows, e.g. a mandate's change)."""
    w = World()
    w.seat(0, range(4))
    ref = w.deposit(10_000, w.vault(0))
    assert reason(lambda: w.deposit(10_000, w.vault(0), ref=ref)) == "deposit_replayed"
    assert w.books_balance() == (10_000, 10_000)


# --- withdrawals --------------------------------------------------------------------------------


def test_a_withdrawal_opens_an_lp_withdraw_mandate_paying_the_bound_key_fee_out_of_it() -> None:
    w = World()
    c = w.seat(0, range(4))
    ref = w.deposit(150_000, w.vault(0))
    m = w.withdraw(40_000, b"\x11" * 32)
    assert (m.kind, m.status, m.sign_until_s) == (cr.MandateKind.LP_WITHDRAW,
                                                  cr.MandateStatus.OPEN, 1_010 + 3600)  # fmt: skip
    plan = build.decode_plan(m.revisions[0].spend)
    fee = m.terms["payout_fee"]
    assert fee == m.revisions[0].fee > 0 and m.terms["amount"] == 40_000
    assert [i.outpoint for i in plan.inputs] == [ref]
    assert plan.outputs[0] == build.PlannedOutput(scripts.p2wpkh(PAYEE), 40_000 - fee)
    assert plan.outputs[1].script_pubkey == scripts.withdrawal_tag(m.id)
    assert plan.outputs[2] == build.PlannedOutput(w.vault(0), 110_000)
    assert m.revisions[0].digests == SPEC.digests(m.revisions[0].spend)
    assert all(w.s.get(cr.COVERED, d) is not None for d in m.revisions[0].digests)
    assert mandate_store.get_utxo(w.s, "btc", ref).status is cr.UtxoStatus.RESERVED  # type: ignore[union-attr]
    assert w.s.get(cr.PAYOUTS, PAYEE + m.id) == b"\x01"
    assert w.books_balance() == (150_000, 150_000)  # reserve 110,000 + owed 40,000
    assert c.m == 3


def test_a_withdrawal_larger_than_the_vault_is_queued() -> None:
    w = World()
    w.seat(0, range(4))
    w.deposit(30_000, w.vault(0))
    m = w.withdraw(50_000, b"\x12" * 32)
    assert (m.status, m.revisions) == (cr.MandateStatus.QUEUED, ())
    assert [v for _, v in w.s.scan(cr.QUEUE)] == [m.id]
    assert all(u.status is cr.UtxoStatus.UNSPENT for u in w.utxos())
    assert w.books_balance() == (30_000, 30_000 - 50_000 + 50_000)


def test_a_withdrawal_never_reserves_inputs_another_mandate_holds() -> None:
    """Attack: a second withdrawal while the only vault output is reserved by the first."""
    w = World()
    w.seat(0, range(4))
    w.deposit(100_000, w.vault(0))
    first = w.withdraw(20_000, b"\x13" * 32)
    second = w.withdraw(20_000, b"\x14" * 32)
    assert (first.status, second.status) == (cr.MandateStatus.OPEN, cr.MandateStatus.QUEUED)


def test_a_withdrawal_spends_only_the_active_vault_and_leaves_no_dust_change() -> None:
    w = World()
    w.seat(0, range(4))
    old = w.deposit(500_000, w.vault(0))
    w.seat(1, range(1, 5), start=10)
    w.deposit(40_100, w.vault(1))  # 40,000 would leave 100 sat of change: dust
    w.deposit(60_000, w.vault(1))
    m = w.withdraw(40_000, b"\x15" * 32)
    plan = build.decode_plan(m.revisions[0].spend)
    assert old not in [i.outpoint for i in plan.inputs]  # the retiring vault's sweep owns it
    assert sum(i.amount for i in plan.inputs) == 60_000  # not the 40,100 one (dust change)
    assert m.revisions[0].fee == m.terms["payout_fee"]


def test_the_same_withdraw_tx_cannot_open_two_mandates() -> None:
    w = World()
    w.seat(0, range(4))
    w.deposit(100_000, w.vault(0))
    w.withdraw(20_000, b"\x16" * 32)
    assert reason(lambda: w.withdraw(20_000, b"\x16" * 32)) == "bad_transition"


# --- tx 302 -------------------------------------------------------------------------------------


def _opened(w: World) -> cr.Mandate:
    w.seat(0, range(4))
    w.deposit(150_000, w.vault(0))
    return w.withdraw(40_000, b"\x21" * 32)


def test_an_outcome_proof_proves_the_mandate_spends_its_inputs_and_keeps_the_change() -> None:
    w = World()
    m = _opened(w)
    spend = m.revisions[0].spend
    done = w.prove(m.id, spend)
    assert done.status is cr.MandateStatus.PROVEN and done.proven.rev == 0  # type: ignore[union-attr]
    txid = m.revisions[0].txid
    assert txid is not None
    by_ref = {u.outpoint: u for u in w.utxos()}
    change = by_ref[txid + (2).to_bytes(4, "little")]
    assert (change.amount, change.epoch, change.status) == (110_000, 0, cr.UtxoStatus.UNSPENT)
    assert txid + b"\x00\x00\x00\x00" not in by_ref  # the payout is the investor's
    assert [u.status for u in w.utxos() if u.outpoint != change.outpoint] == [cr.UtxoStatus.SPENT]
    assert w.books_balance() == (110_000, 110_000)  # owed released, exactly


def test_an_outcome_proof_replayed_is_refused() -> None:
    w = World()
    m = _opened(w)
    w.prove(m.id, m.revisions[0].spend)
    assert reason(lambda: w.prove(m.id, m.revisions[0].spend)) == "outcome_replayed"


def test_an_outcome_proof_of_an_unrelated_spend_is_refused_and_creates_no_vault_output() -> None:
    """Attacks: a proof of another transaction paying the vault (its outputs must not become
    vault outputs); a proof of the mandate's inputs spent differently (a theft)."""
    w = World()
    m = _opened(w)
    plan = build.decode_plan(m.revisions[0].spend)
    other = replace(plan, outputs=(build.PlannedOutput(w.vault(0), 149_000),), fee=1_000)
    before = w.utxos()
    assert reason(lambda: w.prove(m.id, build.encode_plan(other))) == "outcome_mismatch"
    assert w.utxos() == before


def test_an_outcome_proof_under_another_mandates_id_is_refused() -> None:
    w = World()
    m = _opened(w)
    w.deposit(100_000, w.vault(0))
    other = w.withdraw(30_000, b"\x22" * 32)
    assert other.status is cr.MandateStatus.OPEN
    assert reason(lambda: w.prove(other.id, m.revisions[0].spend)) == "outcome_mismatch"
    assert reason(lambda: w.prove(b"\x99" * 32, m.revisions[0].spend)) == "unknown_mandate"


def test_a_queued_mandate_cannot_be_proven() -> None:
    w = World()
    w.seat(0, range(4))
    w.deposit(10_000, w.vault(0))
    queued = w.withdraw(20_000, b"\x23" * 32)
    assert reason(lambda: w.prove(queued.id, build.encode_plan(
        build.sweep([build.vault_input(b"\x01" * 36, 10_000, vault_policy(w))], w.vault(0), 2)
    ))) == "outcome_mismatch"  # fmt: skip


def vault_policy(w: World) -> Any:
    from etm_bridge.chains.bitcoin.custody.spec import policy_of

    return policy_of(vaults.committee_of(w.s, 0))


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x02\x03btc" + bytes(32) + b"\x00\x00\x00\x00", b"\x01\x03btc" + bytes(31),
     b"\x01\x03btc" + bytes(32) + b"\x00\x00\x00\x05abc", b"\x01\x00" + bytes(32) + bytes(4)],
)  # fmt: skip
def test_a_malformed_outcome_payload_is_refused(payload: bytes) -> None:
    with pytest.raises(ValidationError):
        outcome.decode_outcome(payload)


def test_an_outcome_for_a_chain_not_under_custody_is_refused() -> None:
    w = World()
    m = _opened(w)
    p = outcome.OutcomeProof("eth", m.id, m.revisions[0].spend)
    assert reason(lambda: outcome.run(w.s, None, p, ctx(), SPECS)) == "bad_parameter"  # type: ignore[arg-type]


def test_a_deposit_to_a_committee_htlc_is_not_a_vault_deposit() -> None:
    """Attack: a swap-in lock (P2WSH of an HTLC whose claim branch is the committee's policy)
    proven as a deposit: not the vault's script, so not a vault output."""
    w = World()
    w.seat(0, range(4))
    lock = scripts.SwapInHtlc(b"\x01" * 32, vault_policy(w), PAYEE, 500)
    assert reason(lambda: w.deposit(50_000, scripts.p2wsh(lock.script))) == "wrong_destination"


def test_the_bitcoin_client_refuses_to_pay_a_committee_pool_as_if_it_had_a_key() -> None:
    """A committee pool has no claim key: the client must not pay P2WPKH(hash160(b"")), an
    output nobody can spend (funds lost, deposit refused on ETM)."""
    from etm_bridge.chains.bitcoin.client import deposit_payments
    from etm_bridge.chains.profile import DepositRequest

    with pytest.raises(ValidationError, match="committee pool"):
        deposit_payments(DepositRequest(b"", 10_000, b"\x01" * 20))


def test_a_vault_deposit_cannot_be_read_as_a_swap_in_lock() -> None:
    """Attack: the proof of a vault deposit reused as a swap-in lock (the lock's witness script
    would have to be the vault script): neither lock template reads it."""
    from etm_bridge.chains.bitcoin.etm.verifier import parse_htlc_witness_script, policy_lock

    w = World()
    w.seat(0, range(4))
    script = vault_policy(w).vault_script()
    assert scripts.p2wsh(script) == w.vault(0)
    for read in (parse_htlc_witness_script, policy_lock):
        with pytest.raises(ValidationError):
            read(script)


def test_vault_money_cannot_buy_shares_as_a_deposit() -> None:
    """Attack: members move a vault output into a new vault output tagged as their deposit
    (ETM still counts the old one): the deposit spends a recorded vault output, refused."""
    w = World()
    w.seat(0, range(4))
    mine = w.deposit(150_000, w.vault(0))
    err = reason(lambda: w.deposit(150_000, w.vault(0), spends=(b"\x42" * 36, mine)))
    assert err == "custody_pool"
    assert w.books_balance() == (150_000, 150_000)
    w.deposit(10_000, w.vault(0), spends=(b"\x42" * 36,))  # paid from anyone else's coins


def test_a_deposit_without_an_outpoint_and_a_chain_without_a_custody_spec_are_refused() -> None:
    w = World()
    w.seat(0, range(4))
    assert reason(lambda: w.deposit(1_000, w.vault(0), ref=b"")) == "bad_parameter"
    bare = ChainCustody(lambda: {})  # a node without Bitcoin's custody spec installed
    d = VerifiedDeposit(b"\x01" * 36, "btc", 1_000, "etm1x", b"", w.vault(0), b"\x01" * 36)
    assert reason(lambda: bare.on_lp_deposit(w.s, TxPlan(), d, ctx())) == "custody_inactive"
    withdraw = lambda: bare.on_lp_withdraw(w.s, TxPlan(), _Tx(b"\x02" * 32), w.pool, 20_000,  # noqa: E731
                                           PAYEE, ctx())  # type: ignore[arg-type]  # fmt: skip
    assert reason(withdraw) == "custody_inactive"


def test_a_payout_that_its_fee_leaves_as_dust_is_refused() -> None:
    w = World()
    w.seat(0, range(4))
    w.deposit(100_000, w.vault(0))
    assert reason(lambda: w.withdraw(500, b"\x17" * 32)) == "bad_parameter"
    assert all(u.status is cr.UtxoStatus.UNSPENT for u in w.utxos())  # nothing reserved


def test_an_exchange_without_a_custody_port_refuses_a_committee_pools_deposit() -> None:
    """Fail closed: the legacy port checks nothing about what a committee deposit pays."""
    from etm_bridge.exchange import plans as xplans

    w = World()
    d = VerifiedDeposit(b"\x01" * 36, "btc", 1_000, "etm1x", b"", b"\x00" * 34, b"\x01" * 36)
    p = pl.LpDeposit("btc", 10**8, 1, b"")
    tx = _Tx(b"\x03" * 32)
    assert reason(lambda: xplans.plan_lp_deposit(w.s, tx, p, ctx(), d)) == "custody_inactive"  # type: ignore[arg-type]


def test_the_pool_view_shows_where_deposits_go() -> None:
    w = World()
    w.seat(0, range(4))
    view = PORT.pool_view(w.s, "btc")
    assert view is not None and view["vault"]["destination"] == w.vault(0).hex()
    assert view["vault"]["address"].startswith("bcrt1q") and view["vault"]["epoch"] == 0
    assert ChainCustody(lambda: {}).pool_view(w.s, "btc")["vault"] is None  # type: ignore[index]
