"""etm-bridge chain adapter for Handshake (HNS): HTLCs built and signed in Python, against hsd.

A plugin like any third party's: registered as ``handshake`` in the ``etm_bridge.adapters``
entry-point group by this distribution's ``pyproject.toml``; the core never imports it.
Modules: ``codec`` (transactions), ``sighash`` (signature hashing, our key), ``script`` (HTLC
template, witnesses, addresses, the lock marker), ``txbuild`` (lock/claim/refund), ``fees``,
``index`` / ``mempool`` / ``activity`` (chain scan), ``proofs`` (blocks, ``handshake-merkle``
inclusion proofs and their verifier), ``node`` (hsd RPC and the checked broadcast), ``adapter``.
"""

from .adapter import HandshakeAdapter

__all__ = ["HandshakeAdapter"]
