"""Bitcoin custody (design-14 section 2): the pure parts of the committee's P2WSH vault.

* ``scripts``: key policies, the vault and v2 HTLC scripts, witnesses, marker v2, ETMW tag;
* ``ecdsa``: strict-DER secp256k1 signatures through libsecp256k1 (coincurve);
* ``build``: the one transaction a mandate allows, its BIP143 digests, assembly from shares;
* ``spec``: the :class:`~etm_bridge.custody.spec.CustodySpec` of ``ChainProfile.custody``.

Pure: no I/O, no clock.
"""
