"""etm-bridge: trust-minimised cross-chain value exchange between BTC/ETH and the ETM chain.

The core library. Money- and consensus-critical rules (hashlocks, timelocks, HTLC rules, SPV,
pool accounting, the swap state machine, the ETM state transition) are pure functions and
frozen value objects; I/O lives at the edges (``store``, ``node``, adapters, the CLI).
"""

__version__ = "0.1.0"
