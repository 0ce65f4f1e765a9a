"""etm_bridge_regtest: start, inspect and stop the local stack of real nodes.

Bitcoin regtest (Bitcoin Core ``bitcoind`` when found, else bcoin through ``bcoin_launcher.js``),
anvil, and the ETM node. The same functions back ``etm-bridge stack`` and the pytest fixtures.
"""
