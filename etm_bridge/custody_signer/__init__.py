"""The custody signer: a process beside each delegate's node that signs only what final ETM
state mandates, never twice, and shares its signatures (design-14 section 5).

* :mod:`.record`: the signing record on disk (SQLite, fsync'd before a signature leaves);
* :mod:`.keys`: ``custody_keys.json`` (created by ``etm-bridge node custody init``);
* :mod:`.checks`: when a revision is signable (design-14 section 4.4), pure;
* :mod:`.prover`: the "headers" and "prove" duties (relay what ETM lacks, tx 302), decided by
  :func:`etm_bridge.custody.duties.decide`;
* :mod:`.service`: the loop (``etm-bridge node signer --data-dir D``).
"""
