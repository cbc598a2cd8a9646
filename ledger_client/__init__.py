"""Chasqui ledger client: RFC 9162 Merkle proofs, C2SP signed-note checkpoints, GS1 EPCIS event hashes.

Only the standard library, ``cryptography`` and ``httpx`` (lazily, for the HTTP transport) are used.
"""

from ledger_client import checkpoint, epcis, gs1, merkle  # noqa: E402  (submodules as attributes)
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
    "epcis",
    "gs1",
    "merkle",
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
