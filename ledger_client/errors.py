"""Typed exceptions of the ledger client: failures are raised, never returned as None/False."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every ledger_client error."""


class VerificationError(LedgerError):
    """A proof, checkpoint, signature or event hash did not verify."""


class ConsistencyError(VerificationError):
    """The log is not an append-only extension of a checkpoint seen before (truncated or rewritten)."""


class SignatureError(VerificationError):
    """A signed note carries no valid signature from the pinned key."""


class CheckpointFormatError(VerificationError):
    """A checkpoint or signed note is malformed."""


class EPCISError(LedgerError, ValueError):
    """An EPCIS document or event is invalid (cannot be hashed or imported)."""


class TransportError(LedgerError):
    """The transport (local directory, HTTP, memory) could not serve a request."""


class LogError(LedgerError):
    """The local Merkle log is damaged or was used incorrectly."""


class SplitViewError(ConsistencyError):
    """Two different checkpoints of the same log with the same size: the log showed a split view."""


class UntrustedCheckpointError(SignatureError):
    """A checkpoint carries no signature from the trusted key (nothing was forged; it cannot be checked)."""


class WitnessQuorumError(LedgerError):
    """Fewer valid witness cosignatures than required (the checkpoint cannot be trusted yet)."""


class NoCheckpointError(TransportError):
    """The log serves no checkpoint."""


class NoTrustedKeyError(LedgerError):
    """No trusted log key is configured or found."""
