"""TEST ONLY: a tx plug-in that opens a Bitcoin custody mandate on a live ETM node.

The fraud test needs a mandate over a vault output it funds itself, without an exchange pool
and an LP deposit (only LP withdrawals create mandates on a live chain: docs/custody.md
section 2.10). To show a real node refusing a
member's share over a *mandated* spend (``signature_mandated``), this plug-in adds tx type
:data:`TYPE_ID` whose apply is the nearest real path: it records the named vault output as an
unspent output of the current epoch (no inflow proof exists either) and calls
:func:`etm_bridge.custody.mandate_store.open_mandate` (the function the mandate transactions
will call), which writes the mandate and its covered digests in a forged block.

Anyone may send it: it exists only in the throwaway chain whose genesis lists this module in
``tx_plugins`` (``test_btc_fraud_node.py``), and the node process finds it through
``PYTHONPATH``. Payload: canonical JSON ``{"source": hex, "outpoint": hex, "amount": int,
"terms": {...}}`` for an ``lp_withdraw`` mandate.
"""

from __future__ import annotations

import json
from typing import Any

from etm_bridge.chain.registry import Registry, TxContext, TxType
from etm_bridge.chain.state import State, StateView
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig
from etm_bridge.custody import mandate_store, plans, records
from etm_bridge.errors import CustodyError, TxRejectedError

TYPE_ID = 399
NAME = "test_btc_open_mandate"
CFG = BtcCustodyConfig("regtest")


def _decode(payload: bytes) -> dict[str, Any]:
    data = json.loads(payload)
    if not isinstance(data, dict):
        raise TxRejectedError("malformed_field", "the test mandate payload must be an object")
    return data


def _open(state: State, p: dict[str, Any], ctx: TxContext) -> None:
    epoch = plans.current_epoch(state)
    if epoch is None:
        raise TxRejectedError("custody_inactive", "no committee yet")
    committee = records.decode(
        records.Committee, state.get_json(records.EPOCHS, records.epoch_key(epoch))
    )
    utxo = records.CustodyUtxo(
        "btc", bytes.fromhex(p["outpoint"]), int(p["amount"]), epoch, records.UtxoStatus.UNSPENT
    )
    mandate_store.put_utxo(state, utxo)
    source = bytes.fromhex(p["source"])
    req = mandate_store.vault_request(
        records.MandateKind.LP_WITHDRAW, "btc", source, committee,
        SPEC.vault(committee, CFG), p["terms"], CFG.fee_rate_sat_vb,
    )  # fmt: skip
    try:
        mandate_store.open_mandate(state, SPEC, CFG, req, "btc", "btc", source, [utxo],
                                   ctx.height, None)  # fmt: skip
    except CustodyError as exc:
        raise TxRejectedError(exc.reason, exc.detail) from exc


def _check(view: StateView, tx: Tx, p: dict[str, Any], ctx: TxContext) -> None:
    if plans.current_epoch(view) is None:
        raise TxRejectedError("custody_inactive", "no committee yet")


def _apply(state: State, tx: Tx, p: dict[str, Any], ctx: TxContext) -> None:
    _open(state, p, ctx)


def register(registry: Registry) -> None:
    registry.add_type(TxType(TYPE_ID, NAME, _decode, _check, _apply))
