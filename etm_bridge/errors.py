"""The one exception tree of etm-bridge.

Every error the library raises derives from :class:`EtmBridgeError`. Each class names *what*
was wrong; the message says which value and, where it helps, what to do. The CLI maps these
classes to exit codes and one-line messages (``etm_bridge_cli.errors``).
"""

from __future__ import annotations


class EtmBridgeError(Exception):
    """Base of every error raised by etm-bridge."""

    exit_code = 1


# --- configuration and environment -------------------------------------------------------------


class ConfigError(EtmBridgeError):
    """A configuration value is missing, malformed or inconsistent."""

    exit_code = 2


class StackError(EtmBridgeError):
    """The local stack of development nodes could not be started, reached or stopped."""

    exit_code = 3


class NodeUnavailableError(EtmBridgeError):
    """A chain node did not answer (down, wrong URL, wrong credentials). Safe to retry."""

    exit_code = 4


# --- input validation --------------------------------------------------------------------------


class ValidationError(EtmBridgeError, ValueError):
    """A value failed validation (wrong length, out of range, malformed encoding)."""

    exit_code = 2


class AmountError(ValidationError):
    """An amount string or integer is malformed, negative, too precise or out of range."""


class HashlockError(ValidationError):
    """A preimage or hashlock is malformed, or a preimage does not match its hashlock."""


class TimelockError(ValidationError):
    """A timelock is malformed, already expired, or leaves too little safety margin."""


# --- chains ------------------------------------------------------------------------------------


class ChainError(EtmBridgeError):
    """A chain (ETM or a foreign chain) rejected or could not process a request."""


class RPCError(ChainError):
    """A JSON-RPC call returned an error object. ``code`` is the node's error code.

    ``data`` is the error object's ``data`` member when the node sent one (contract chains put
    revert data there), else None.
    """

    data: object = None

    def __init__(self, message: str, code: int | None = None, method: str | None = None):
        self.code = code
        self.method = method
        where = f"{method}: " if method else ""
        suffix = f" (code {code})" if code is not None else ""
        super().__init__(f"{where}{message}{suffix}")


class InvalidTransactionError(ChainError):
    """A transaction was rejected as invalid (bad signature, bad script, wrong nonce, ...)."""


class InsufficientFundsError(ChainError):
    """Not enough spendable funds for the requested amount plus fees."""


class AddressError(ValidationError):
    """An ETM address is malformed: wrong prefix, bad character, bad checksum or wrong length."""


class TxRejectedError(InvalidTransactionError):
    """An ETM transaction was rejected. ``reason`` is a stable code, e.g. ``wrong_nonce``.

    Codes: bad_signature, wrong_nonce, insufficient_balance, unknown_type, malformed_field,
    fee_too_low, wrong_network, too_large, and type-specific codes named by each tx type.
    """

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"transaction rejected ({reason}): {detail}")


class BlockRejectedError(ChainError):
    """An ETM block was rejected. ``reason`` is a stable code, e.g. ``wrong_delegate``."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"block rejected ({reason}): {detail}")


class EvidenceRejectedError(ValidationError):
    """Two block headers are not double-forging evidence on this network (different generators
    or slots, the same block, a bad signature, another network). ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"evidence rejected ({reason}): {detail}")


class PeerProtocolError(ChainError):
    """A peer broke the peer protocol (``etm_bridge.node.p2p``). ``reason`` is a stable code:
    ``malformed``, ``unknown_type``, ``too_large``, ``wrong_network``, ``wrong_genesis``,
    ``wrong_protocol``, ``unexpected``, ``rate_limited``, ``banned``, ..."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"peer protocol error ({reason}): {detail}")


class SigningRefusedError(ChainError):
    """Slashing protection refused a block signature: the key already signed a block at this
    slot or a later one (after a restart, a reorg, or an imported record). Signing would make
    double-forging evidence against the delegate; the forger skips the slot."""


class NotFoundError(ChainError):
    """An ETM block, transaction or account asked for by id/height is not known."""


class StoreError(ChainError):
    """The ETM chain database cannot be used (not a database, corrupt). The message says
    which file and what to do."""


class ProofError(ChainError):
    """An SPV or inclusion proof is malformed or does not verify. The message names the rule."""


class SpvRejectedError(ProofError):
    """An SPV rule rejected a header or a proof. ``reason`` is the rule's short name."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        super().__init__(f"{reason}: {detail}")


class HeaderRejectedError(SpvRejectedError):
    """A relayed block header broke a consensus rule (``high-hash``, ``bad-diffbits``, ...)."""


class InclusionProofError(SpvRejectedError):
    """A Merkle or receipt inclusion proof is forged, malformed or not on the best chain."""


class CapabilityError(ChainError):
    """An adapter was asked for an optional capability it does not declare (``CAPABILITIES``)."""


class LockNotFoundError(ChainError):
    """No HTLC lock with the given id (or hashlock) is known to the chain adapter."""


class DustError(ValidationError):
    """An output would be dust, or the fee would eat the whole output. Raise the amount."""


class AdapterLoadError(ConfigError):
    """A chain adapter plugin could not be loaded or is not a ChainAdapter subclass."""


class ScanRangeError(ConfigError):
    """An adapter cannot see a fact a swap recorded in a block still on the best chain: the
    block is below the heights it scans (e.g. an adapter's ``birth_height`` above the lock).
    Never a reorg; lower the adapter's scan start to the named height (or rescan)."""


class ContractRevertError(ChainError):
    """A contract call reverted. ``error_name`` is the Solidity custom error, when decoded."""

    def __init__(self, message: str, error_name: str | None = None):
        self.error_name = error_name
        super().__init__(message)


# --- node JSON-RPC error codes (the reference node's numbering; jsonrpc maps code -> class) -----


class RPCDeserializationError(RPCError, InvalidTransactionError):
    """Code -22: the node could not decode what we sent (malformed transaction or block hex)."""


class RPCMissingInputsError(RPCError, InvalidTransactionError):
    """Code -25 (RPC_VERIFY_ERROR, the reference node's default for a failed submission): mostly a
    transaction spending outputs the node does not know or that are already spent; also a fee
    above the node's ``maxfeerate``."""


class RPCVerifyRejectedError(RPCError, InvalidTransactionError):
    """Code -26: the node rejected a transaction (bad signature, failed script, policy)."""


class RPCAlreadyInChainError(RPCError):
    """Code -27: the transaction is already confirmed (newer nodes say its outputs are already
    in the UTXO set)."""


class RPCWarmupError(RPCError):
    """Code -28: the node is still starting up (loading blocks, verifying). Safe to retry."""


class RPCInvalidAddressOrKeyError(RPCError):
    """Code -5: unknown address, key, transaction or block id."""


class RPCInvalidParameterError(RPCError):
    """Code -8: a parameter is out of range or not allowed (e.g. a block height too high)."""


# --- swaps -------------------------------------------------------------------------------------


class SwapError(EtmBridgeError):
    """A swap cannot proceed as asked (unknown id, wrong state, terms violated)."""


class InvalidTransitionError(SwapError):
    """A (state, event) pair is not in the swap transition table."""


class LockMismatchError(SwapError):
    """A counterparty lock does not match our terms. ``reason`` is a typed reason code."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        super().__init__(f"{reason}: {detail}")


class SwapNotFoundError(SwapError):
    """No swap with that id in the swap database."""


class StaleSwapError(SwapError):
    """A save carried a swap record older than the stored one (reload before changing it)."""


class WatcherLockError(SwapError):
    """Another watcher holds this swap database (two watchers must never both act)."""

    exit_code = 5


# --- exchange (pools, native HTLC, address binding, swap rules) --------------------------------


class ExchangeError(EtmBridgeError):
    """An exchange rule rejected an operation. ``reason`` is a typed code (exchange.reasons)."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        super().__init__(f"{reason}: {detail}")


class SlippageError(ExchangeError):
    """The pool moved past the quote's minimum output (or a deposit's minimum shares)."""


class LiquidityError(ExchangeError):
    """The pool cannot pay: too little liquidity, or the funds are reserved by in-flight swaps."""


class HtlcError(ExchangeError):
    """A native ETM HTLC lock, claim or refund breaks the HTLC rules."""


class BindingError(ExchangeError):
    """An address-binding proof is forged, stale, replayed, or the binding state forbids it."""


class SwapRuleError(ExchangeError):
    """A swap through a pool breaks the contract's checks (amount, hash, keys, time, replay)."""


# --- custody (threshold custody of pool assets by the elected delegates) ------------------------


class CustodyError(EtmBridgeError):
    """A custody rule refused an operation. ``reason`` is a typed code (custody.records.Reason);
    the custody tx types turn it into a :class:`TxRejectedError` with the same code."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class PrivateFileError(EtmBridgeError):
    """A file that holds secrets cannot be written or read safely: a symlink or another user's
    file where it should be, or it already exists and must not be overwritten."""


# --- wallet keystore ---------------------------------------------------------------------------


class KeystoreError(EtmBridgeError):
    """The wallet keystore is missing, already exists, or cannot be read or written."""

    exit_code = 6


class WrongPassphraseError(KeystoreError):
    """The passphrase does not decrypt the keystore (or the ciphertext was altered to match)."""


class KeystoreCorruptError(KeystoreError):
    """The keystore file is damaged or edited; the message names the field that is wrong."""


class KeystorePermissionError(KeystoreError):
    """The keystore file is readable by group or others; ``chmod 600`` it (or rotate keys)."""
