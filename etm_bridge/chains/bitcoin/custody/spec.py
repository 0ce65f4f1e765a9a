"""Bitcoin's :class:`~etm_bridge.custody.spec.CustodySpec` (``ChainProfile.custody``).

UTXO model, 33-byte compressed keys sorted BIP67, the P2WSH m-of-n vault of
``scripts``. A revision's ``spend`` is :func:`build.encode_plan` of its :class:`SpendPlan`.
Light on purpose (the profile imports it): every callable imports python-bitcoinlib and
coincurve when called.

``SpendRequest.terms`` per kind (hex strings for bytes, ints for amounts and heights):

* ``counter_lock``: ``amount``, ``hashlock``, ``claim_key`` (the user's bound key),
  ``timelock``: outputs counter HTLC v2, marker v2, change to the vault;
* ``lp_withdraw``: ``amount`` (the asset out), ``claim_key`` (bound key), optional
  ``payout_fee`` (revision 0's fee, fixed across bumps): outputs P2WPKH ``amount - fee``,
  the ETMW tag, change to the vault;
* ``claim_swap_in``: ``outpoint`` (hex of txid_le || vout LE), ``amount``, ``hashlock``,
  ``refund_key``, ``timelock``: the user's lock (claim policy: the request's committee) to the
  vault;
* ``counter_refund``: ``outpoint``, ``amount``, ``hashlock``, ``claim_key``, ``timelock``: the
  counter lock to the vault, nLockTime = timelock;
* ``rotation_sweep`` / ``cancel``: every given vault output to the request's vault.

The inputs' policy is the request's committee's; change, claims, refunds and sweeps pay
``request.vault`` (the active vault). Outcome proofs (302) and inflow proofs (307) are the
second half of WP-B: :func:`outcome` reads a proven spend (302); inflow proofs (307) are not
implemented. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from etm_bridge.custody.records import Committee, CustodyUtxo, MandateKind, Reason
from etm_bridge.custody.spec import (
    CreatedOutput,
    CustodyGenesisPart,
    CustodyModel,
    CustodySpec,
    EncodedSpend,
    FraudClaim,
    FraudContext,
    ProvenOutcome,
    SpendRequest,
    VaultInfo,
    ascending_keys,
)
from etm_bridge.errors import ConfigError, CustodyError, ValidationError

TICKER = "btc"
HRP = {"mainnet": "bc", "testnet3": "tb", "testnet4": "tb", "testnet": "tb", "regtest": "bcrt"}


@dataclass(frozen=True)
class BtcCustodyConfig:
    """The genesis block ``plugins.custody.btc``."""

    network: str = "regtest"
    fee_rate_sat_vb: int = 2
    max_fee_rate_sat_vb: int = 500
    max_inputs: int = 50

    def __post_init__(self) -> None:
        if self.network not in HRP:
            raise ConfigError(f"plugins.custody.btc.network must be one of {sorted(HRP)}")
        for name in ("fee_rate_sat_vb", "max_fee_rate_sat_vb", "max_inputs"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"plugins.custody.btc.{name} must be an int >= 1, got {v!r}")
        if self.max_fee_rate_sat_vb < self.fee_rate_sat_vb or self.max_inputs > 250:
            raise ConfigError(
                "plugins.custody.btc: max_fee_rate_sat_vb >= fee_rate_sat_vb and max_inputs <= 250"
            )

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> BtcCustodyConfig:
        unknown = set(raw) - {"network", "fee_rate_sat_vb", "max_fee_rate_sat_vb", "max_inputs"}
        if unknown:
            raise ConfigError(f"plugins.custody.btc: unknown keys {sorted(unknown)}")
        return BtcCustodyConfig(**raw)

    def to_json(self) -> dict[str, Any]:
        return {
            "fee_rate_sat_vb": self.fee_rate_sat_vb,
            "max_fee_rate_sat_vb": self.max_fee_rate_sat_vb,
            "max_inputs": self.max_inputs,
            "network": self.network,
        }


def policy_of(committee: Committee) -> Any:
    from .scripts import KeyPolicy

    return KeyPolicy(committee.m, tuple(committee.keys[TICKER]))


def vault(committee: Committee, cfg: BtcCustodyConfig) -> VaultInfo:
    from bitcoin.segwit_addr import encode

    from .build import vault_script_pubkey

    policy = policy_of(committee)
    spk = vault_script_pubkey(policy)
    return VaultInfo(policy.encode(), spk, encode(HRP[cfg.network], 0, spk[2:]))


def build_spend(
    req: SpendRequest, utxos: Sequence[CustodyUtxo], cfg: BtcCustodyConfig
) -> EncodedSpend:
    from . import build

    try:
        plan = _plan(req, utxos, cfg)
    except (ValidationError, KeyError, ValueError, TypeError) as exc:
        raise CustodyError(Reason.BAD_PARAMETER, f"bitcoin {req.kind.name.lower()}: {exc}") from exc
    return EncodedSpend(build.encode_plan(plan), tuple(i.outpoint for i in plan.inputs), plan.fee)


def _plan(req: SpendRequest, utxos: Sequence[CustodyUtxo], cfg: BtcCustodyConfig) -> Any:
    from . import build, scripts

    policy, t, dest = policy_of(req.committee), req.terms, req.vault.destination
    rate = min(req.fee_rate, cfg.max_fee_rate_sat_vb)
    vins = [build.vault_input(u.outpoint, u.amount, policy) for u in utxos]
    if len(vins) > cfg.max_inputs:
        raise ValidationError(f"{len(vins)} inputs, at most {cfg.max_inputs}")
    kind = req.kind
    if kind is MandateKind.COUNTER_LOCK:
        htlc = scripts.CounterHtlc(
            _hex(t["hashlock"]), _hex(t["claim_key"]), policy, int(t["timelock"])
        )
        pays = [
            build.PlannedOutput(scripts.p2wsh(htlc.script), int(t["amount"])),
            build.PlannedOutput(scripts.MarkerV2.of(htlc).script_pubkey(), 0),
        ]
        return build.pay_with_change(_need(vins), pays, dest, rate)
    if kind is MandateKind.LP_WITHDRAW:
        return _withdraw(req, vins, rate)
    if kind in (MandateKind.CLAIM_SWAP_IN, MandateKind.COUNTER_REFUND):
        if kind is MandateKind.CLAIM_SWAP_IN:
            lock: Any = scripts.SwapInHtlc(
                _hex(t["hashlock"]), policy, _hex(t["refund_key"]), int(t["timelock"])
            )
            vin = build.PlannedInput(
                _hex(t["outpoint"]), int(t["amount"]), lock.script, "htlc_claim"
            )
            return build.sweep([vin], dest, rate)
        lock = scripts.CounterHtlc(
            _hex(t["hashlock"]), _hex(t["claim_key"]), policy, int(t["timelock"])
        )
        vin = build.PlannedInput(_hex(t["outpoint"]), int(t["amount"]), lock.script, "htlc_refund")
        return build.sweep([vin], dest, rate, lock.timelock)
    if kind in (MandateKind.ROTATION_SWEEP, MandateKind.CANCEL):
        return build.sweep(_need(vins), dest, rate)
    raise ValidationError("this kind has no Bitcoin spend")


def _withdraw(req: SpendRequest, vins: list, rate: int) -> Any:
    from . import build, scripts

    amount, payee = int(req.terms["amount"]), scripts.p2wpkh(_hex(req.terms["claim_key"]))
    tag = build.PlannedOutput(scripts.withdrawal_tag(req.mandate_id), 0)
    ins = _need(vins)
    probe = (build.PlannedOutput(payee, amount), tag, build.PlannedOutput(req.vault.destination, 0))
    fee = int(req.terms.get("payout_fee", build.fee_for(rate, build.sort_inputs(ins), probe)))
    if amount - fee < build.P2WPKH_DUST:
        raise ValidationError(f"a payout of {amount} sat less its {fee} sat fee is dust")
    change = sum(i.amount for i in ins) - amount
    if change < 0:
        raise ValidationError(f"inputs cannot pay {amount} sat")
    outs = [build.PlannedOutput(payee, amount - fee), tag]
    if change >= build.P2WSH_DUST:
        outs.append(build.PlannedOutput(req.vault.destination, change))
    ins_sorted = build.sort_inputs(ins)
    total_out = sum(o.amount for o in outs)
    return build.SpendPlan(ins_sorted, tuple(outs), 0, sum(i.amount for i in ins) - total_out, rate)


def _need(vins: list) -> list:
    if not vins:
        raise ValidationError("no vault outputs to spend")
    return vins


def _hex(value: Any) -> bytes:
    return value if isinstance(value, bytes) else bytes.fromhex(str(value))


def digests(spend: bytes) -> tuple[bytes, ...]:
    from . import build

    return build.digests(build.decode_plan(spend))


def txid(spend: bytes) -> bytes:
    from . import build

    return build.txid(build.decode_plan(spend))


def verify_share(digest: bytes, key: bytes, signature: bytes) -> bool:
    from . import ecdsa

    return ecdsa.verify_share(digest, key, signature)


def fraud(body: bytes, ctx: FraudContext) -> FraudClaim:
    from .fraud import parse_fraud

    return parse_fraud(body, ctx)


def outcome(view: Any, proof: bytes, ctx: Any) -> ProvenOutcome:
    """Tx 302's Bitcoin body: a ``BitcoinTxProof`` (raw tx, block, Merkle branch) of a
    transaction in the relay's best chain at the depth the relay policy asks for the value it
    moves (``InclusionProofError``, the relay's reason: e.g. ``insufficient-confirmations``).
    Returns its txid (internal order: the mandate's), the outpoints it spends and every output
    (``txid_le || vout u32 LE``, value, scriptPubKey); which of those are the committee's is the
    core's business (the mandate's inputs, the vaults' scripts). Reads outputs and prevouts
    only, which the txid commits to."""
    from etm_bridge.chains.bitcoin.etm.relay_types import btc_policy_of, btc_relay_of
    from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof, check_bitcoin_proof
    from etm_bridge.errors import InclusionProofError

    try:
        tx_proof = BitcoinTxProof.decode(proof)
    except (ValidationError, ValueError, IndexError) as exc:
        raise CustodyError(Reason.MALFORMED_FIELD, f"bitcoin outcome proof: {exc}") from exc
    relay = btc_relay_of(view)
    confirmed = check_bitcoin_proof(relay, tx_proof, 1)
    tx = confirmed.tx
    moved = sum(o.value_sat for o in tx.outputs)
    need = btc_policy_of(view).required_depth(moved, 1)
    if confirmed.confirmations < need:
        raise InclusionProofError(
            "insufficient-confirmations",
            f"{confirmed.confirmations} confirmations, {need} are required for a spend moving "
            f"{moved} sat (relay policy, value-scaled depth)",
        )
    spent = tuple(i.prev_txid_le + i.prev_index.to_bytes(4, "little") for i in tx.inputs)
    created = tuple(
        CreatedOutput(tx.txid_le + k.to_bytes(4, "little"), o.value_sat, o.script_pubkey)
        for k, o in enumerate(tx.outputs)
    )
    return ProvenOutcome(tx.txid_le, confirmed.height, tx.txid_le, spent, created)


def assemble(
    spend: bytes, signatures: Mapping[int, Sequence[bytes]], extras: Mapping[str, bytes]
) -> bytes:
    """``signatures[i]`` in key order (``build.select_shares`` picks them); ``extras``:
    ``preimage`` for a swap-in claim."""
    from . import build

    return build.assemble(build.decode_plan(spend), signatures, extras.get("preimage"))


def _relay_tip(view: Any) -> tuple[int, int]:
    from etm_bridge.chains.bitcoin.etm.relay_types import btc_relay_of

    tip = btc_relay_of(view).tip()
    return int(tip.height), int(tip.header.time)


SPEC = CustodySpec(
    model=CustodyModel.UTXO,
    kinds=frozenset(
        {
            MandateKind.COUNTER_LOCK,
            MandateKind.CLAIM_SWAP_IN,
            MandateKind.LP_WITHDRAW,
            MandateKind.COUNTER_REFUND,
            MandateKind.ROTATION_SWEEP,
            MandateKind.CANCEL,
            MandateKind.POOL_CREATE,
        }
    ),
    key_len=33,
    sort_keys=ascending_keys,
    genesis=CustodyGenesisPart(
        BtcCustodyConfig.from_json, BtcCustodyConfig.to_json, BtcCustodyConfig
    ),
    vault=vault,
    build=build_spend,
    digests=digests,
    txid=txid,
    verify_share=verify_share,
    fraud=fraud,
    outcome=outcome,
    assemble=assemble,
    extra={
        "ticker": TICKER,
        # settings the custody core reads from the genesis block (``vaults.ChainPart.setting``)
        "fee_rate": lambda cfg: cfg.fee_rate_sat_vb,
        "max_inputs": lambda cfg: cfg.max_inputs,
        "change_dust": lambda cfg: 330,  # P2WSH dust: change below it is not created
        "block_time_s": lambda cfg: 600,  # a counter lock's timelock T counts these
        "outbound_vbytes": lambda cfg: 250,  # a swap-out quote's fee estimate (x fee_rate)
        # (view) -> the relay's tip (height, header time in unix seconds): a counter lock's T
        "relay_tip": _relay_tip,
    },
)
