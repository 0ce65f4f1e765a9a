"""Call a pool operator's PoolVault: provable ETH/ERC-20 deposits and obligation payments.

``contracts/ethereum/PoolVault.sol`` forwards the value in the same transaction (deposits to its
immutable operator, payments to ``to``) and emits ``Deposited`` / ``Paid``, so ETM can check them
with a receipt proof (:class:`etm_bridge.chains.ethereum.etm.verifier.EthVerifier`)::

    vault = deploy_contract(rpc_url, operator_key, data_dir, VAULT, (operator_address,))
    client = VaultClient(rpc_url, investor_key, data_dir, vault.address)
    sent = client.deposit(etm_owner20, 10**18)          # ether -> the operator
    proof = client.proof(sent)                          # EthLogProof bytes for xchg_lp_deposit
    paid = operator_client.pay(obligation_id, bound_address20, amount_wei)

:func:`vault_log_index` finds the vault's event among a receipt's logs (a token call logs the
token's ``Transfer`` first), which is what the proof names. Transactions go through the adapter's
:class:`~.sender.TxSender` (EIP-1559, persistent nonces, decoded custom errors on revert).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import event_abi_to_log_topic, keccak, to_checksum_address
from web3 import Web3

from etm_bridge.chains.ethereum.etm.verifier import EthLogProof, EthProof
from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.chains.ethereum.spv.rlp import to_bytes, to_int
from etm_bridge.errors import ChainError, ProofError, ValidationError

from . import artifacts
from .node import EthNode
from .nonces import NonceManager
from .proofs import build_inclusion_proof
from .revert import error_table
from .sender import TxSender

VAULT = "PoolVault"
TRANSACTIONS_ROOT_INDEX = 4  # transactionsRoot in a header's field list


def obligation_word(obligation_id: int) -> bytes:
    """The ``bytes32 obligationId`` of an ETM obligation id (uint256, big-endian)."""
    if type(obligation_id) is not int or not 0 <= obligation_id < 2**64:
        raise ValidationError(f"obligation id must be a u64, got {obligation_id!r}")
    return obligation_id.to_bytes(32, "big")


def _address(raw: bytes, what: str) -> str:
    if not isinstance(raw, bytes) or len(raw) != 20:
        raise ValidationError(f"{what} must be a 20-byte address")
    return to_checksum_address(raw)


@dataclass(frozen=True)
class VaultTx:
    """A mined vault call: where its event is (``log_index`` = position in the receipt)."""

    event: str  # "Deposited" or "Paid"
    tx_hash: str
    block_number: int
    log_index: int


class VaultCodec:
    """Calldata of the vault's functions and the topics of its events (committed ABI)."""

    def __init__(self) -> None:
        vault, token = artifacts.load(VAULT), artifacts.load(artifacts.TEST_TOKEN)
        self.abis = (vault.abi, token.abi)
        self._vault = Web3().eth.contract(abi=list(vault.abi))
        self._erc20 = Web3().eth.contract(abi=list(token.abi))
        self.topics = {
            e["name"]: event_abi_to_log_topic(e) for e in vault.abi if e.get("type") == "event"
        }

    def deposit(self, etm_owner: bytes) -> bytes:
        return self._encode(self._vault, "deposit", [_owner(etm_owner)])

    def deposit_token(self, token: bytes, amount: int, etm_owner: bytes) -> bytes:
        args = [_address(token, "token"), amount, _owner(etm_owner)]
        return self._encode(self._vault, "depositToken", args)

    def pay(self, obligation_id: int, to: bytes) -> bytes:
        args = [obligation_word(obligation_id), _address(to, "to")]
        return self._encode(self._vault, "pay", args)

    def pay_token(self, obligation_id: int, token: bytes, amount: int, to: bytes) -> bytes:
        args = [obligation_word(obligation_id), _address(token, "token"), amount]
        return self._encode(self._vault, "payToken", [*args, _address(to, "to")])

    def approve(self, spender: bytes, amount: int) -> bytes:
        return self._encode(self._erc20, "approve", [_address(spender, "spender"), amount])

    @staticmethod
    def _encode(contract: Any, fn: str, args: list[Any]) -> bytes:
        try:
            return to_bytes(contract.encode_abi(fn, args=args), f"{fn} calldata")
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"cannot encode {fn}({args!r}): {exc}") from exc


def _owner(etm_owner: bytes) -> bytes:
    if not isinstance(etm_owner, bytes) or len(etm_owner) != 20:
        raise ValidationError("etm_owner must be the 20-byte hash of an ETM address")
    return etm_owner


def vault_log_index(receipt: Mapping[str, Any], vault: str, topic0: bytes) -> int:
    """Position in ``receipt["logs"]`` of the one log of ``vault`` with ``topic0``."""
    found = [
        i
        for i, log in enumerate(receipt["logs"])
        if str(log["address"]).lower() == vault.lower()
        and log["topics"]
        and to_bytes(log["topics"][0], "log topic") == topic0
    ]
    if len(found) != 1:
        raise ChainError(f"receipt {receipt['transactionHash']} has {len(found)} vault events")
    return found[0]


def transaction_proof(
    node: EthNode, header_rlp: bytes, tx_hash: str, index: int
) -> tuple[bytes, ...]:
    """Transactions-trie nodes proving that transaction ``index`` of the block is ``tx_hash``.

    Fetches every raw transaction of the block (``eth_getRawTransactionByBlockHashAndIndex``)
    and checks that their trie has the header's transactionsRoot, so a node cannot hand us a
    proof the verifier would refuse.
    """
    block_hash = "0x" + keccak(header_rlp).hex()
    block = node.rpc.call("eth_getBlockByHash", block_hash, False)
    if block is None:
        raise ChainError(f"block {block_hash} left the chain while building a proof; retry")
    raws = [
        to_bytes(
            node.rpc.call("eth_getRawTransactionByBlockHashAndIndex", block_hash, hex(i)), "raw tx"
        )
        for i in range(len(block["transactions"]))
    ]
    root, nodes = eth_rlp.build_receipt_proof(raws, index)  # same trie layout as receipts
    if root != eth_rlp.decode_header(header_rlp)[TRANSACTIONS_ROOT_INDEX]:
        raise ProofError(f"transactions of block {block_hash} do not give its transactionsRoot")
    if "0x" + keccak(raws[index]).hex() != tx_hash.lower():
        raise ProofError(f"transaction {index} of block {block_hash} is not {tx_hash}")
    return nodes


class VaultClient:
    """Deposits into and payments through one PoolVault, from one local key."""

    def __init__(
        self,
        rpc_url: str,
        private_key: str,
        data_dir: Path | str,
        vault_address: str,
        receipt_timeout_s: float = 60.0,
    ) -> None:
        self.codec = VaultCodec()
        self.vault_address = to_checksum_address(vault_address)
        self.node = EthNode(rpc_url, error_table(self.codec.abis))
        deployed = to_bytes(artifacts.load(VAULT).deployed_bytecode, "deployedBytecode")
        if self.node.code(self.vault_address) != deployed:
            self.node.close()
            raise ChainError(f"the code at {self.vault_address} is not the PoolVault artifact's")
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

    def close(self) -> None:
        self.node.close()

    def deposit(self, etm_owner: bytes, amount_wei: int) -> VaultTx:
        """Deposit ``amount_wei`` ether for the ETM owner ``etm_owner`` (20-byte hash)."""
        data = self.codec.deposit(etm_owner)
        return self._send(self.vault_address, data, amount_wei, "Deposited", "vault deposit")

    def deposit_token(self, token: bytes, amount: int, etm_owner: bytes) -> VaultTx:
        """Approve the vault for ``amount`` of ``token``, then deposit it."""
        self._approve(token, amount)
        data = self.codec.deposit_token(token, amount, etm_owner)
        return self._send(self.vault_address, data, 0, "Deposited", "vault token deposit")

    def pay(self, obligation_id: int, to: bytes, amount_wei: int) -> VaultTx:
        """Pay ``amount_wei`` ether to ``to`` against ETM obligation ``obligation_id``."""
        data = self.codec.pay(obligation_id, to)
        return self._send(self.vault_address, data, amount_wei, "Paid", "vault payment")

    def pay_token(self, obligation_id: int, token: bytes, amount: int, to: bytes) -> VaultTx:
        self._approve(token, amount)
        data = self.codec.pay_token(obligation_id, token, amount, to)
        return self._send(self.vault_address, data, 0, "Paid", "vault token payment")

    def proof(self, sent: VaultTx) -> bytes:
        """The exchange proof (:class:`EthLogProof` bytes) of a mined vault call's event."""
        inclusion = build_inclusion_proof(self.node, sent.tx_hash)
        receipt_proof = EthProof.from_adapter_proof(inclusion, sent.log_index)
        tx_nodes = transaction_proof(self.node, inclusion.header, sent.tx_hash, inclusion.index)
        return EthLogProof(receipt_proof, tx_nodes).encode()

    def _approve(self, token: bytes, amount: int) -> None:
        spender = to_bytes(self.vault_address, "vault address")
        data = self.codec.approve(spender, amount)
        self.sender.transact(_address(token, "token"), data, 0, "approve the vault")

    def _send(self, to: str, data: bytes, value: int, event: str, action: str) -> VaultTx:
        receipt = self.sender.transact(to, data, value, action)
        index = vault_log_index(receipt, self.vault_address, self.codec.topics[event])
        block = to_int(receipt["blockNumber"], "receipt blockNumber")
        return VaultTx(event, receipt["transactionHash"], block, index)
