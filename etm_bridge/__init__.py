"""etm-bridge: trust-minimised cross-chain value exchange between other chains and the ETM chain.

The core library. Money- and consensus-critical rules (hashlocks, timelocks, HTLC rules, SPV,
pool accounting, the swap state machine, the ETM state transition) are pure functions and
frozen value objects; I/O lives at the edges (``store``, ``node``, adapters, the CLI).
"""

from .recursion import import_py_ecc_restoring_limit

__version__ = "0.1.0"

# py_ecc (under the web3 libraries) raises the recursion limit to 100,000 when first imported;
# import it here, once, and put the limit back (see etm_bridge/recursion.py).
import_py_ecc_restoring_limit()
