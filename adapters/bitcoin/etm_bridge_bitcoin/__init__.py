"""etm-bridge chain adapter for Bitcoin: P2WSH HTLCs built and signed with python-bitcoinlib.

A plugin like any third party's: registered as ``bitcoin`` in the ``etm_bridge.adapters``
entry-point group by this distribution's ``pyproject.toml``; the core never imports it.
Modules: ``script`` (template, witnesses, marker), ``txbuild`` (fees, signing), ``index``
(chain scan of our coins and locks), ``adapter`` (the :class:`BitcoinAdapter`).
"""

from .adapter import BitcoinAdapter

__all__ = ["BitcoinAdapter"]
