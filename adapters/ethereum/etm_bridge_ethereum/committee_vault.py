"""Deploy and drive a CommitteeVault: views, deposits, permissionless claim/refund, executes.

``contracts/ethereum/CommitteeVault.sol`` (design-14 §3) holds pool ether and ERC-20 for the ETM
vault committee: money leaves only through ``executeCounterLock`` / ``executePayout`` /
``executeRotate`` with signatures of ``threshold`` current members over EIP-712 typed data
(:mod:`.committee_vault_eip712` computes the digests and orders the signatures)::

    vault = deploy_committee_vault(rpc_url, key, data_dir, htlc_address, etm_domain, members)
    client = CommitteeVaultClient(rpc_url, executor_key, data_dir, vault.address)
    payout = Payout(mandate_id, client.view("epoch"), bytes(20), amount, to, deadline)
    sigs = [sign(k, client.domain, payout) for k in member_keys[:3]]
    paid = client.execute(payout, order_signatures(digest(client.domain, payout), sigs))

Transactions go through the adapter's :class:`~.sender.TxSender` (EIP-1559, persistent nonces);
a revert names the vault's custom error, or the HTLC's / token's when one bubbles up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import decode
from eth_account import Account
from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3 import Web3

from etm_bridge.chains.ethereum.spv.rlp import to_bytes, to_int
from etm_bridge.errors import ChainError, ValidationError

from . import artifacts
from .committee_vault_eip712 import (
    StructKind,
    VaultDomain,
    VaultStruct,
    abi_struct,
    sort_signers,
    threshold_for,
)
from .deploy import Deployment, deploy_contract
from .node import EthNode
from .nonces import NonceManager
from .revert import error_table
from .sender import TxSender
from .vault import vault_log_index

VAULT = "CommitteeVault"
_CALLS: dict[StructKind, tuple[str, str, str]] = {  # kind -> (hash view, execute, event)
    StructKind.COUNTER_LOCK: ("hashCounterLock", "executeCounterLock", "CounterLocked"),
    StructKind.PAYOUT: ("hashPayout", "executePayout", "Paid"),
    StructKind.ROTATE: ("hashRotate", "executeRotate", "Rotated"),
}


@dataclass(frozen=True)
class VaultCall:
    """A mined vault call: its event's position in the receipt, and the gas it used."""

    event: str
    tx_hash: str
    block_number: int
    log_index: int
    gas_used: int


def vault_abis() -> tuple[tuple[dict[str, Any], ...], ...]:
    """The vault's ABI and those whose errors can surface through it (HTLC, ERC-20)."""
    return tuple(artifacts.load(n).abi for n in (VAULT, artifacts.HTLC, artifacts.TEST_TOKEN))


def deploy_committee_vault(
    rpc_url: str,
    private_key: str,
    data_dir: Path | str,
    htlc_address: str,
    etm_domain: bytes,
    signers: Iterable[bytes],
) -> Deployment:
    """Deploy a vault for ``signers`` (any order; sorted here, m = 2n/3 + 1) at epoch 0."""
    ordered = sort_signers(signers)
    if not isinstance(etm_domain, bytes) or len(etm_domain) != 32 or not any(etm_domain):
        raise ValidationError("etm_domain must be 32 bytes, not all zero")
    members = [to_checksum_address(a) for a in ordered]
    args = (to_checksum_address(htlc_address), etm_domain, members, threshold_for(len(ordered)))
    return deploy_contract(rpc_url, private_key, data_dir, VAULT, args)


class CommitteeVaultClient:
    """Reads and calls one CommitteeVault from one local key (any key may execute)."""

    def __init__(
        self,
        rpc_url: str,
        private_key: str,
        data_dir: Path | str,
        vault_address: str,
        receipt_timeout_s: float = 60.0,
    ) -> None:
        self.vault_address = to_checksum_address(vault_address)
        abi = artifacts.load(VAULT).abi
        self._abi = {e["name"]: e for e in abi if e.get("type") == "function"}
        self._vault = Web3().eth.contract(abi=list(abi))
        self._erc20 = Web3().eth.contract(abi=list(artifacts.load(artifacts.TEST_TOKEN).abi))
        self.topics = {e["name"]: event_abi_to_log_topic(e) for e in abi if e["type"] == "event"}
        self.node = EthNode(rpc_url, error_table(vault_abis()))
        deployed = to_bytes(artifacts.load(VAULT).deployed_bytecode, "deployedBytecode")
        if self.node.code(self.vault_address) != deployed:
            self.node.close()
            raise ChainError(
                f"the code at {self.vault_address} is not the CommitteeVault artifact's"
            )
        account = Account.from_key(private_key)
        chain_id = self.node.chain_id()
        nonces = NonceManager(
            Path(data_dir),
            chain_id,
            account.address,
            pending_count=lambda: self.node.nonce(account.address, "pending"),
            tx_known=lambda tx_hash: self.node.transaction(tx_hash) is not None,
        )
        self.sender = TxSender(self.node, account, nonces, chain_id, receipt_timeout_s)
        vault20 = bytes.fromhex(self.vault_address[2:])
        self.domain = VaultDomain(chain_id, vault20, self.view("etmDomain"))

    def close(self) -> None:
        self.node.close()

    # -- views --
    def view(self, fn: str, *args: Any) -> Any:
        """Call view ``fn``; one return value comes back alone, several as a tuple."""
        data = self.calldata(fn, *args)
        raw = self.node.call({"to": self.vault_address, "data": "0x" + data.hex()}, fn)
        outputs = [o["type"] for o in self._abi[fn]["outputs"]]
        result = decode(outputs, raw)
        return result[0] if len(result) == 1 else result

    def signers(self) -> tuple[bytes, ...]:
        return tuple(bytes.fromhex(a[2:]) for a in self.view("signers"))

    def contract_digest(self, s: VaultStruct) -> bytes:
        """The contract's own hashCounterLock / hashPayout / hashRotate of ``s``."""
        return bytes(self.view(_CALLS[s.KIND][0], abi_struct(s)))

    # -- calls --
    def calldata(self, fn: str, *args: Any) -> bytes:
        try:
            return to_bytes(self._vault.encode_abi(fn, args=list(args)), f"{fn} calldata")
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"cannot encode {fn}({args!r}): {exc}") from exc

    def execute(
        self, s: VaultStruct, signatures: Sequence[bytes], gas: int | None = None
    ) -> VaultCall:
        """Execute ``s`` with ``signatures`` as given (see :func:`order_signatures`)."""
        _, fn, event = _CALLS[s.KIND]
        data = self.calldata(fn, abi_struct(s), list(signatures))
        return self._send(data, 0, event, fn, gas)

    def deposit(self, etm_owner: bytes, amount_wei: int) -> VaultCall:
        return self._send(self.calldata("deposit", etm_owner), amount_wei, "Deposited", "deposit")

    def deposit_token(self, token: bytes, amount: int, etm_owner: bytes) -> VaultCall:
        """Approve the vault for ``amount`` of ``token``, then deposit it."""
        approve = self._erc20.encode_abi("approve", args=[self.vault_address, amount])
        self.sender.transact(to_checksum_address(token), to_bytes(approve, "approve"), 0, "approve")
        data = self.calldata("depositToken", to_checksum_address(token), amount, etm_owner)
        return self._send(data, 0, "Deposited", "depositToken")

    def claim_swap_in(
        self, preimage: bytes, amount: int, token: bytes, refund_address: bytes, timelock: int
    ) -> VaultCall:
        args = (preimage, amount, to_checksum_address(token), to_checksum_address(refund_address))
        data = self.calldata("claimSwapIn", *args, timelock)
        return self._send(data, 0, "SwapInClaimed", "claimSwapIn")

    def refund_counter_lock(
        self, preimage_hash: bytes, amount: int, token: bytes, claim_address: bytes, timelock: int
    ) -> VaultCall:
        args = (
            preimage_hash,
            amount,
            to_checksum_address(token),
            to_checksum_address(claim_address),
        )
        data = self.calldata("refundCounterLock", *args, timelock)
        return self._send(data, 0, "CounterRefunded", "refundCounterLock")

    def _send(
        self, data: bytes, value: int, event: str, action: str, gas: int | None = None
    ) -> VaultCall:
        receipt = self.sender.transact(self.vault_address, data, value, action, gas)
        index = vault_log_index(receipt, self.vault_address, self.topics[event])
        block = to_int(receipt["blockNumber"], "receipt blockNumber")
        gas_used = to_int(receipt["gasUsed"], "receipt gasUsed")
        return VaultCall(event, receipt["transactionHash"], block, index, gas_used)
