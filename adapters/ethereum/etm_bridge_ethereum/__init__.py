"""etm-bridge chain adapter for Ethereum: a plugin like any third party's.

Registered in the ``etm_bridge.adapters`` entry-point group as ``ethereum``. It drives the
EtherSwapHTLC contract (``contracts/ethereum``) for ether and ERC-20 locks; see
:mod:`etm_bridge_ethereum.adapter` for the rules and :mod:`etm_bridge_ethereum.config` for the
configuration keys. :func:`deploy_contract` deploys the HTLC or the test token.
"""

from __future__ import annotations

from .adapter import EthereumAdapter
from .deploy import Deployment, deploy_contract

__all__ = ["Deployment", "EthereumAdapter", "deploy_contract"]
