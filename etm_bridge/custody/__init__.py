"""Threshold custody of pool assets by the elected delegates (issue 14; design-14).

Pure consensus rules; the chain-specific parts sit behind ``ChainProfile.custody``
(:class:`.spec.CustodySpec`), so nothing here names a chain. The room:

| module | owns |
|---|---|
| `records.py` | reserved type ids and message code, tables, reasons, frozen records, JSON codec |
| `spec.py` | `CustodySpec` (the per-chain seam) and its value types |
| `params.py` | `CustodyParams`: the genesis section `plugins.custody` |
| `committee.py` | committee selection, threshold, epochs, vault statuses, the coalition bond |
| `registration.py` | custody key registration (tx 300) with proofs of possession |
| `bonds.py` | custody bonds (tx 301): add, withdraw, when a bond is locked |
| `mandates.py` | mandate ids, signing windows, the mandate state machine (transition table) |
| `mandate_store.py` | mandates in state: creation with the covered-digest registry, proof |
| `breaker.py` | the bond requirement and the inflow circuit breaker |
| `fraud.py` | fraud proofs (tx 304): payload, the verdict, the slash split |
| `utxo.py` | vault output statuses and deterministic coin selection (UTXO chains) |
| `accounting.py` | the custody books of a pool asset (fees, owed, in_htlc, receivable) |
| `solvency.py` | per pool solvency, the halt while insolvent |
| `slashing.py` | tx 304 on chain: judge against state, slash bond and deposit |
| `port.py` | `ChainCustody`: the exchange's custody port on a custody chain |
| `genesis.py` | genesis custody members (checked like tx 300) and epoch 0 |
| `hooks.py` | the round hook: first committee, epochs |
| `plans.py` | state reads and planners of the custody tx types (the exchange's TxPlan pattern) |
| `txtypes.py` | the plug-in: tables, genesis section, types 300, 301, 304, hook, port |

The exchange reaches custody only through ``etm_bridge.exchange.custody_port``.
docs/custody.md describes the rules; design-14 lists what is still to come.
"""
