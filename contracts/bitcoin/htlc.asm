OP_IF
    OP_SIZE 32 OP_EQUALVERIFY
    OP_SHA256 <hashlock> OP_EQUALVERIFY
    <claim_pubkey>
OP_ELSE
    <timelock_height> OP_CHECKLOCKTIMEVERIFY OP_DROP
    <refund_pubkey>
OP_ENDIF
OP_CHECKSIG
