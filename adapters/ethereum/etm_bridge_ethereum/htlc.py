"""The EtherSwapHTLC contract's calls and events, encoded and decoded (pure, no node).

One swap is identified by the keccak256 hash of its packed values, exactly as the contract's
``hashValues`` computes it::

    keccak256(preimageHash ‖ amount(uint256) ‖ token(20) ‖ claimAddress(20) ‖
              refundAddress(20) ‖ timelock(uint256))

with ``token`` the zero address for ether. That hash is the lock id (lowercase hex, no 0x).
Calls are encoded with web3's contract codec against the committed ABI, so a wrong argument
type fails here rather than on chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from eth_utils import event_abi_to_log_topic, keccak, to_checksum_address
from web3 import Web3

from etm_bridge.adapter import HtlcTerms
from etm_bridge.chains.ethereum.spv.rlp import to_bytes, to_int
from etm_bridge.errors import ValidationError

from . import artifacts

ZERO_ADDRESS = bytes(20)


def _address(raw: bytes) -> str:
    if len(raw) != 20:
        raise ValidationError(f"an Ethereum address is 20 bytes, got {len(raw)}")
    return to_checksum_address(raw)


def token_of(terms: HtlcTerms) -> bytes:
    """The token address of a lock's terms (the zero address for ether)."""
    return ZERO_ADDRESS if terms.asset_id is None else terms.asset_id


def swap_hash(terms: HtlcTerms) -> bytes:
    """The contract's key for a swap: keccak256 of its packed values."""
    for name, key in (("claim_key", terms.claim_key), ("refund_key", terms.refund_key)):
        if len(key) != 20:
            raise ValidationError(f"{name} must be a 20-byte Ethereum address, got {len(key)}")
    token = token_of(terms)
    if len(token) != 20:
        raise ValidationError(f"asset_id must be a 20-byte token address, got {len(token)}")
    packed = b"".join(
        (
            terms.hashlock,
            terms.amount.to_bytes(32, "big"),
            token,
            terms.claim_key,
            terms.refund_key,
            terms.timelock_height.to_bytes(32, "big"),
        )
    )
    return keccak(packed)


@dataclass(frozen=True)
class LockedEvent:
    """A decoded ``Locked`` log: the swap's terms and where the lock was mined."""

    swap_hash: bytes
    terms: HtlcTerms
    tx_hash: str
    block_number: int
    log_index: int


@dataclass(frozen=True)
class SpentEvent:
    """A decoded ``Claimed`` (preimage set) or ``Refunded`` log."""

    swap_hash: bytes
    preimage: bytes | None
    tx_hash: str
    block_number: int


class HtlcCodec:
    """Encodes calls to, and decodes events of, the EtherSwapHTLC and ERC-20 contracts."""

    def __init__(self) -> None:
        htlc = artifacts.load(artifacts.HTLC)
        token = artifacts.load(artifacts.TEST_TOKEN)
        self.abis = (htlc.abi, token.abi)
        self._htlc = Web3().eth.contract(abi=list(htlc.abi))
        self._erc20 = Web3().eth.contract(abi=list(token.abi))
        events: dict[str, Any] = {e["name"]: e for e in htlc.abi if e.get("type") == "event"}
        self.locked_topic = "0x" + event_abi_to_log_topic(events["Locked"]).hex()
        self.claimed_topic = "0x" + event_abi_to_log_topic(events["Claimed"]).hex()
        self.refunded_topic = "0x" + event_abi_to_log_topic(events["Refunded"]).hex()

    # --- calls ---------------------------------------------------------------------------------

    def lock(self, terms: HtlcTerms) -> tuple[bytes, int]:
        """(calldata, wei value) of the lock: ``lock`` for ether, ``lockToken`` for a token."""
        claim = _address(terms.claim_key)
        if terms.asset_id is None:
            args = [terms.hashlock, claim, terms.timelock_height]
            return self._encode(self._htlc, "lock", args), terms.amount
        token = _address(terms.asset_id)
        args = [terms.hashlock, token, terms.amount, claim, terms.timelock_height]
        return self._encode(self._htlc, "lockToken", args), 0

    def claim(self, preimage: bytes, terms: HtlcTerms) -> bytes:
        args = [preimage, terms.amount, _address(token_of(terms))]
        args += [_address(terms.refund_key), terms.timelock_height]
        return self._encode(self._htlc, "claim", args)

    def refund(self, terms: HtlcTerms) -> bytes:
        args = [terms.hashlock, terms.amount, _address(token_of(terms))]
        args += [_address(terms.claim_key), terms.timelock_height]
        return self._encode(self._htlc, "refund", args)

    def hash_values(self, terms: HtlcTerms) -> bytes:
        args = [terms.hashlock, terms.amount, _address(token_of(terms))]
        args += [_address(terms.claim_key), _address(terms.refund_key), terms.timelock_height]
        return self._encode(self._htlc, "hashValues", args)

    def swaps(self, swap_hash_: bytes) -> bytes:
        return self._encode(self._htlc, "swaps", [swap_hash_])

    def approve(self, spender: bytes, amount: int) -> bytes:
        return self._encode(self._erc20, "approve", [_address(spender), amount])

    def transfer(self, to: bytes, amount: int) -> bytes:
        return self._encode(self._erc20, "transfer", [_address(to), amount])

    def allowance(self, owner: bytes, spender: bytes) -> bytes:
        return self._encode(self._erc20, "allowance", [_address(owner), _address(spender)])

    def balance_of(self, owner: bytes) -> bytes:
        return self._encode(self._erc20, "balanceOf", [_address(owner)])

    @staticmethod
    def _encode(contract: Any, fn: str, args: list[Any]) -> bytes:
        try:
            return to_bytes(contract.encode_abi(fn, args=args), f"{fn} calldata")
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"cannot encode {fn}({args!r}): {exc}") from exc

    # --- events --------------------------------------------------------------------------------

    def decode_locked(self, log: Mapping[str, Any]) -> LockedEvent:
        topics = [to_bytes(t, "log topic") for t in log["topics"]]
        if len(topics) != 4 or "0x" + topics[0].hex() != self.locked_topic:
            raise ValidationError("log is not a Locked event")
        amount, token, refund, timelock = decode(
            ["uint256", "address", "address", "uint256"], to_bytes(log["data"], "log data")
        )
        terms = HtlcTerms(
            amount=amount,
            hashlock=topics[1],
            claim_key=topics[3][12:],
            refund_key=to_bytes(refund, "refund address"),
            timelock_height=timelock,
            asset_id=None if int(token, 16) == 0 else to_bytes(token, "token address"),
        )
        return LockedEvent(
            swap_hash=topics[2],
            terms=terms,
            tx_hash=str(log["transactionHash"]),
            block_number=to_int(log["blockNumber"], "log blockNumber"),
            log_index=to_int(log["logIndex"], "log logIndex"),
        )

    def decode_spent(self, log: Mapping[str, Any]) -> SpentEvent:
        topics = [to_bytes(t, "log topic") for t in log["topics"]]
        kind = "0x" + topics[0].hex() if topics else ""
        if kind not in (self.claimed_topic, self.refunded_topic) or len(topics) != 3:
            raise ValidationError("log is not a Claimed or Refunded event")
        preimage = None
        if kind == self.claimed_topic:
            (preimage,) = decode(["bytes32"], to_bytes(log["data"], "log data"))
        return SpentEvent(
            swap_hash=topics[2],
            preimage=preimage,
            tx_hash=str(log["transactionHash"]),
            block_number=to_int(log["blockNumber"], "log blockNumber"),
        )
