"""Typed reason codes carried by every :class:`~etm_bridge.errors.ExchangeError`.

The value is the stable string clients and tests match on; the CLI shows it first.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why an exchange operation was rejected."""

    # pool parameters and accounting
    BAD_PARAMETER = "bad_parameter"
    BAD_AMOUNT = "bad_amount"
    POOL_EXISTS = "pool_exists"
    UNKNOWN_POOL = "unknown_pool"
    POOL_HALTED = "pool_halted"
    POOL_EMPTY = "pool_empty"
    INSUFFICIENT_LIQUIDITY = "insufficient_liquidity"
    RESERVED_BY_INFLIGHT = "reserved_by_inflight_swaps"
    SLIPPAGE = "slippage"
    ZERO_OUTPUT = "zero_output"
    INITIAL_LIQUIDITY_TOO_SMALL = "initial_liquidity_too_small"
    DEPOSIT_ETM_SHORT = "deposit_etm_short"
    INSUFFICIENT_SHARES = "insufficient_shares"
    NOT_OPERATOR = "not_operator"
    # threshold custody (design-14 section 10.9; only on chains with a custody section)
    POOL_CREATE_BY_COMMITTEE = "pool_create_by_committee"
    CUSTODY_INACTIVE = "custody_inactive"
    CUSTODY_BOND_CAP = "custody_bond_cap"
    POOL_INSOLVENT = "pool_insolvent"
    STALE_VAULT = "stale_vault"
    LOCK_TOO_SMALL_FOR_CLAIM = "lock_too_small_for_claim"
    CUSTODY_POOL = "custody_pool"
    # SPV-credited deposits and external withdrawals (obligations)
    DEPOSIT_REPLAYED = "deposit_replayed"
    DEPOSIT_WRONG_ASSET = "deposit_wrong_asset"
    DEPOSIT_NOT_OWNER = "deposit_not_owner"
    UNKNOWN_OBLIGATION = "unknown_obligation"
    OBLIGATION_CLOSED = "obligation_closed"
    OBLIGATION_NOT_DUE = "obligation_not_due"
    PAYMENT_MISMATCH = "payment_mismatch"
    PAYMENT_REPLAYED = "payment_replayed"
    WITHDRAWAL_TOO_SMALL = "withdrawal_too_small"  # below the pool's minimum (issue 11, item 6)
    WRONG_DESTINATION = "wrong_destination"
    # native HTLC
    BAD_HASHLOCK = "bad_hashlock"
    BAD_PREIMAGE = "bad_preimage"
    WRONG_PREIMAGE = "wrong_preimage"
    EXPIRY_IN_PAST = "expiry_in_past"
    UNKNOWN_HTLC = "unknown_htlc"
    HTLC_EXISTS = "htlc_exists"
    ALREADY_CLAIMED = "already_claimed"
    ALREADY_REFUNDED = "already_refunded"
    HTLC_EXPIRED = "htlc_expired"
    EARLY_REFUND = "early_refund"
    # address binding
    UNSUPPORTED_CHAIN = "unsupported_chain"
    BAD_SIGNATURE = "bad_signature"
    WRONG_SIGNER = "wrong_signer"
    WRONG_ETM_ADDRESS = "wrong_etm_address"
    PROOF_EXPIRED = "proof_expired"
    PROOF_TOO_LONG_LIVED = "proof_too_long_lived"
    NONCE_REPLAYED = "nonce_replayed"
    ALREADY_BOUND = "already_bound"
    NOT_BOUND = "not_bound"
    KEY_BOUND_ELSEWHERE = "key_bound_elsewhere"
    # swaps through a pool
    WRONG_CHAIN = "wrong_chain"
    WRONG_AMOUNT = "wrong_amount"
    WRONG_HASHLOCK = "wrong_hashlock"
    WRONG_CLAIM_KEY = "wrong_claim_key"
    WRONG_REFUND_KEY = "wrong_refund_key"
    NOT_ENOUGH_CONFIRMATIONS = "not_enough_confirmations"
    LATE_PROOF = "late_proof"
    STALE_RELAY = "stale_relay"  # the relay tip lags ETM time: the foreign height is unknown
    PROOF_REORGED = "proof_reorged"  # the proven block left the relay's best chain (or depth)
    DEV_NETWORK_POOL = "dev_network_pool"  # a pool on a dev-network relay without the dev flag
    REPLAYED_PROOF = "replayed_proof"
    HASHLOCK_USED = "hashlock_used"  # a hashlock serves one HTLC ever (issue 11, item 1)
    HASHLOCK_RESERVED = "hashlock_reserved"  # another address's swap intent reserved it
    UNMARKED_LOCK = "unmarked_lock"  # a lock without its marker output: the operator can't see it
    LEG_TOO_SHORT = "leg_too_short"
    LEG_TOO_LONG = "leg_too_long"
    UNKNOWN_SWAP = "unknown_swap"
    NO_SWAP_INTENT = "no_swap_intent"
    # bonded intents (issue 15): an intent of this owner and hashlock is live for another pool
    INTENT_OTHER_ASSET = "intent_other_asset"
    SWAP_CLOSED = "swap_closed"
