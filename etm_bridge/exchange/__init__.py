"""Value exchange on ETM (whitepaper 6.2): pools, LP shares, native HTLC, binding, swap rules.

Pure rules only (no I/O): :mod:`.pool` (constant-product pricing, shares, reservations),
:mod:`.obligations` (SPV-credited deposits, external withdrawals the operator owes),
:mod:`.htlc` (native ETM HTLC), :mod:`.binding` (ETM <-> BTC/ETH key binding proofs),
:mod:`.swap_rules` (contract-side checks of both swap directions); :mod:`.txtypes` applies
them as ETM transaction types through the planners of :mod:`.plans` and :mod:`.swap_plans`;
:mod:`.views` reads them back; :mod:`.btc_proofs` verifies Bitcoin SPV proofs for them.
Every rejection raises a subclass of :class:`~etm_bridge.errors.ExchangeError` whose
``reason`` is a :class:`~etm_bridge.exchange.reasons.Reason`.
"""
