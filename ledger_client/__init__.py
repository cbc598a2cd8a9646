"""Chasqui ledger client: GS1 EPCIS event hashes, an RFC 9162 Merkle log served in the C2SP tlog-tiles
layout with signed checkpoints and witness cosignatures, and verdicts on stored events.

Modules: ``epcis`` (documents, contexts, event hashes), ``eventhash`` and ``gs1_canonical`` (the
reference pre-hash algorithm), ``gs1`` (identifiers), ``merkle`` (proofs), ``checkpoint`` (signed notes),
``cosignature`` and ``witness`` (witnesses), ``log`` (the on-disk log), ``tiles`` (tlog-tiles: serve,
export, read), ``client`` (transports, the verifying client) and ``verify`` (verified / tampered /
unverifiable).

Only the standard library, ``cryptography`` and ``httpx`` (lazily, for the HTTP transport) are used.
"""

from ledger_client import checkpoint, cosignature, epcis, gs1, merkle, tiles  # submodules as attributes
from ledger_client.errors import (
    CheckpointFormatError,
    ConsistencyError,
    EPCISError,
    LedgerError,
    LogError,
    NoCheckpointError,
    NoTrustedKeyError,
    SignatureError,
    SplitViewError,
    TransportError,
    UntrustedCheckpointError,
    VerificationError,
    WitnessQuorumError,
)

__all__ = [
    "checkpoint",
    "cosignature",
    "epcis",
    "gs1",
    "merkle",
    "tiles",
    "CheckpointFormatError",
    "ConsistencyError",
    "EPCISError",
    "LedgerError",
    "LogError",
    "NoCheckpointError",
    "NoTrustedKeyError",
    "SignatureError",
    "SplitViewError",
    "TransportError",
    "UntrustedCheckpointError",
    "VerificationError",
    "WitnessQuorumError",
]
