"""Verdicts on stored events against the ledger: ``verified``, ``tampered`` or ``unverifiable``.

* ``verified``: every event's CBV 2.0 hash was recomputed from the stored document, matches the anchored
  hash, and is included (RFC 9162 proof) under a checkpoint signed by the trusted key, consistent with
  the last checkpoint seen and, when asked, cosigned by enough witnesses.
* ``tampered``: a hash or proof check failed. The events that failed are named; a log that rewrote
  its history, showed a split view, or carries a forged signature is tampered as a whole.
* ``unverifiable``: the check could not be made, and the reason says why: the ledger is unreachable,
  serves no checkpoint, no trusted key is configured, the checkpoint is not signed by that key, too few
  witnesses cosigned, an event has no ledger entry or is newer than the checkpoint. A network or disk
  error is never ``tampered``.

The one call the application needs::

    verdict = verify_events(events, ledger_dir=..., ledger_url=..., trust_key=..., trust_dir=...,
                            witness_keys=[...], min_witnesses=1)
    print(json.dumps({"lot": lot, **verdict.to_json()}));  sys.exit(verdict.exit_code)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ledger_client import epcis
from ledger_client.checkpoint import Checkpoint, Verifier
from ledger_client.client import FileTrustStore, HTTPTransport, LedgerClient, LocalTransport, Transport
from ledger_client.cosignature import WitnessVerifier
from ledger_client.errors import (
    CheckpointFormatError,
    ConsistencyError,
    EPCISError,
    LedgerError,
    NoCheckpointError,
    NoTrustedKeyError,
    SignatureError,
    SplitViewError,
    TransportError,
    UntrustedCheckpointError,
    VerificationError,
    WitnessQuorumError,
)

VerdictName = Literal["verified", "tampered", "unverifiable"]
VERIFIED: VerdictName = "verified"
TAMPERED: VerdictName = "tampered"
UNVERIFIABLE: VerdictName = "unverifiable"
EventStatus = Literal["verified", "tampered", "unanchored", "unchecked"]


@dataclass(frozen=True)
class StoredEvent:
    """An event as its owner keeps it: the stored document, the anchored hash and the leaf index."""

    key: str
    document: str | Mapping[str, Any]
    event_hash: str
    leaf_index: int | None


@dataclass(frozen=True)
class EventCheck:
    key: str
    status: EventStatus
    reason: str
    event_hash: str
    recomputed: str | None
    leaf_index: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"event_key": self.key, "status": self.status, "reason": self.reason, "event_hash": self.event_hash,
                "recomputed": self.recomputed, "leaf_index": self.leaf_index}


@dataclass(frozen=True)
class Verdict:
    """The outcome for a set of events (a lot)."""

    verdict: VerdictName
    reason: str
    events: tuple[EventCheck, ...] = ()
    checkpoint: Checkpoint | None = None
    witnesses: tuple[str, ...] = ()
    transport: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 verified, 1 tampered, 2 unverifiable."""
        return {VERIFIED: 0, TAMPERED: 1, UNVERIFIABLE: 2}[self.verdict]

    def keys(self, status: str) -> list[str]:
        return [e.key for e in self.events if e.status == status]

    @property
    def counts(self) -> dict[str, int]:
        c = {"verified": 0, "tampered": 0, "unanchored": 0, "unchecked": 0}
        for e in self.events:
            c[e.status] += 1
        return c

    def to_json(self) -> dict[str, Any]:
        """``{"verdict", "events", "verified", "tampered", "unanchored", "reason", "witnesses", ...}``:
        counts of events and verified ones, the keys of tampered and unanchored events."""
        return {"verdict": self.verdict, "events": len(self.events), "verified": self.counts["verified"],
                "tampered": self.keys("tampered"), "unanchored": self.keys("unanchored"), "reason": self.reason,
                "witnesses": list(self.witnesses),
                "checkpoint_size": self.checkpoint.size if self.checkpoint else None}


# ---------------------------------------------------------------- trusted keys

def read_key_file(path: Path | str) -> Verifier:
    """A log verifier key (``<name>+<hex id>+<base64>``) from a file; :class:`NoTrustedKeyError` if unusable."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise NoTrustedKeyError(f"cannot read trusted key {p}: {exc.strerror or exc}") from exc
    try:
        return Verifier.from_string(text.splitlines()[0] if text else "")
    except (CheckpointFormatError, IndexError) as exc:
        raise NoTrustedKeyError(f"{p} holds no log verifier key: {exc}") from exc


def read_witness_keys(paths: Iterable[Path | str]) -> list[WitnessVerifier]:
    """Witness keys (cosignature/v1 vkeys), one or more a file."""
    out: list[WitnessVerifier] = []
    for path in paths:
        p = Path(path)
        try:
            lines = [x for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
        except OSError as exc:
            raise NoTrustedKeyError(f"cannot read witness key {p}: {exc.strerror or exc}") from exc
        try:
            out.extend(WitnessVerifier.from_string(x) for x in lines)
        except CheckpointFormatError as exc:
            raise NoTrustedKeyError(f"{p} holds no witness key: {exc}") from exc
        if not lines:
            raise NoTrustedKeyError(f"{p} holds no witness key")
    return out


def trusted_key(*, trust_key: Path | str | None = None, ledger_dir: Path | str | None = None,
                pin_file: Path | str | None = None) -> Verifier:
    """The log key to trust: ``trust_key`` if given; else the key pinned earlier in ``pin_file``; else
    ``ledger_dir/verifier.pub`` (then pinned into ``pin_file``, trust on first use)."""
    if trust_key is not None:
        return read_key_file(trust_key)
    if pin_file is not None and Path(pin_file).exists():
        return read_key_file(pin_file)
    if ledger_dir is not None and (Path(ledger_dir) / "verifier.pub").exists():
        v = read_key_file(Path(ledger_dir) / "verifier.pub")
        if pin_file is not None:
            Path(pin_file).parent.mkdir(parents=True, exist_ok=True)
            Path(pin_file).write_text(v.to_string() + "\n")
        return v
    where = f" and {Path(ledger_dir) / 'verifier.pub'} does not exist" if ledger_dir is not None else ""
    raise NoTrustedKeyError(f"no trusted log key: pass the log's verifier key file{where}")


# ---------------------------------------------------------------- the check

def _recompute(document: str | Mapping[str, Any]) -> str:
    doc = json.loads(document) if isinstance(document, str) else document
    hashes = epcis.event_hashes(doc)
    if len(hashes) != 1:
        raise EPCISError(f"stored document holds {len(hashes)} events, not one")
    return hashes[0]


def _unverifiable(reason: str, events: Sequence[StoredEvent], **kw: Any) -> Verdict:
    checks = tuple(EventCheck(e.key, "unchecked", reason, e.event_hash, None, e.leaf_index) for e in events)
    return Verdict(UNVERIFIABLE, reason, checks, **kw)


def _tampered_log(reason: str, events: Sequence[StoredEvent], **kw: Any) -> Verdict:
    checks = tuple(EventCheck(e.key, "unchecked", reason, e.event_hash, None, e.leaf_index) for e in events)
    return Verdict(TAMPERED, reason, checks, **kw)


def check_events(events: Sequence[StoredEvent], client: LedgerClient, *, transport_name: str = "") -> Verdict:
    """Verify stored events through a ready :class:`LedgerClient` and classify the outcome."""
    events = list(events)
    kw: dict[str, Any] = {"transport": transport_name}
    try:
        cp = client.refresh()
    except NoCheckpointError as exc:
        return _unverifiable(f"no checkpoint: {exc}", events, **kw)
    except TransportError as exc:
        return _unverifiable(f"ledger unreachable: {exc}", events, **kw)
    except OSError as exc:
        return _unverifiable(f"ledger unreachable: {exc.strerror or exc}", events, **kw)
    except UntrustedCheckpointError as exc:
        return _unverifiable(f"the log's checkpoint is not signed by the trusted key ({exc}); check the key "
                             "given to trust this log", events, **kw)
    except WitnessQuorumError as exc:
        return _unverifiable(f"not enough witnesses: {exc}", events, **kw)
    except SplitViewError as exc:
        return _tampered_log(f"the log showed a split view: {exc}", events, **kw)
    except ConsistencyError as exc:
        return _tampered_log(f"the log rewrote its history: {exc}", events, **kw)
    except SignatureError as exc:
        return _tampered_log(f"forged signature on the log's checkpoint: {exc}", events, **kw)
    except VerificationError as exc:  # a malformed checkpoint from the log
        return _tampered_log(f"the log's checkpoint does not verify: {exc}", events, **kw)
    except LedgerError as exc:  # e.g. a corrupt local trust store
        return _unverifiable(f"cannot check: {exc}", events, **kw)
    kw.update(checkpoint=cp, witnesses=tuple(c.witness for c in client.cosigners))
    if not events:
        return Verdict(UNVERIFIABLE, "no events to verify", (), **kw)
    checks: list[EventCheck] = []
    for ev in events:
        try:
            recomputed: str | None = _recompute(ev.document)
        except (EPCISError, ValueError, TypeError) as exc:
            checks.append(EventCheck(ev.key, "tampered", f"stored event no longer hashes: {exc}", ev.event_hash,
                                     None, ev.leaf_index))
            continue
        if recomputed != ev.event_hash:
            checks.append(EventCheck(ev.key, "tampered", "stored event no longer matches its anchored hash",
                                     ev.event_hash, recomputed, ev.leaf_index))
            continue
        if ev.leaf_index is None:
            checks.append(EventCheck(ev.key, "unanchored", "no ledger entry", ev.event_hash, recomputed, None))
            continue
        if not 0 <= int(ev.leaf_index) < cp.size:
            checks.append(EventCheck(ev.key, "unchecked", f"anchored at leaf {ev.leaf_index} but the log's "
                                     f"checkpoint covers {cp.size} entries", ev.event_hash, recomputed, ev.leaf_index))
            continue
        try:
            client.verify_inclusion(ev.event_hash, int(ev.leaf_index), cp)
        except (TransportError, OSError) as exc:
            return _unverifiable(f"ledger unreachable while proving inclusion: {exc}", events, **kw)
        except (VerificationError, EPCISError) as exc:
            checks.append(EventCheck(ev.key, "tampered", f"inclusion proof failed: {exc}", ev.event_hash,
                                     recomputed, ev.leaf_index))
            continue
        checks.append(EventCheck(ev.key, "verified", "", ev.event_hash, recomputed, ev.leaf_index))
    statuses = [c.status for c in checks]
    if "tampered" in statuses:
        bad = [c.key for c in checks if c.status == "tampered"]
        return Verdict(TAMPERED, f"{len(bad)} of {len(checks)} events failed a hash or proof check: "
                       + ", ".join(bad), tuple(checks), **kw)
    if "unanchored" in statuses or "unchecked" in statuses:
        n = sum(s in ("unanchored", "unchecked") for s in statuses)
        first = next(c for c in checks if c.status in ("unanchored", "unchecked"))
        return Verdict(UNVERIFIABLE, f"{n} of {len(checks)} events cannot be checked yet ({first.key}: "
                       f"{first.reason})", tuple(checks), **kw)
    return Verdict(VERIFIED, f"{len(checks)} events included under checkpoint {cp.size}", tuple(checks), **kw)


def verify_events(events: Sequence[StoredEvent], *, ledger_dir: Path | str | None = None,
                  ledger_url: str | None = None, trust_key: Path | str | None = None,
                  trust_dir: Path | str | None = None, witness_keys: Iterable[Path | str] = (),
                  witnesses: Sequence[WitnessVerifier] = (), min_witnesses: int = 0,
                  http_client: Any = None, timeout: float = 10.0) -> Verdict:
    """Verify stored events against a local log (``ledger_dir``) or a remote one (``ledger_url``).

    The trusted key is ``trust_key`` if given, else the key pinned in ``trust_dir/pinned.pub``, else
    ``ledger_dir/verifier.pub`` (with ``ledger_url`` too: a partner keeps the log's key there). The last
    checkpoint seen is remembered in ``trust_dir`` (per trusted key) to detect rewrites and split views.
    """
    events = list(events)
    tdir = Path(trust_dir) if trust_dir is not None else None
    name = f"http {ledger_url}" if ledger_url else f"local {ledger_dir}"
    try:
        key = trusted_key(trust_key=trust_key, ledger_dir=ledger_dir,
                          pin_file=(tdir / "pinned.pub") if tdir is not None and trust_key is None else None)
        pinned_witnesses = [*witnesses, *read_witness_keys(witness_keys)]
    except NoTrustedKeyError as exc:
        return _unverifiable(str(exc), events, transport=name)
    except OSError as exc:
        return _unverifiable(f"cannot read keys: {exc.strerror or exc}", events, transport=name)
    if min_witnesses > len({w.name for w in pinned_witnesses}):
        return _unverifiable(f"{min_witnesses} witness cosignatures required but only "
                             f"{len(pinned_witnesses)} witness keys given", events, transport=name)
    transport: Transport
    try:
        if ledger_url:
            transport = HTTPTransport(ledger_url, client=http_client, timeout=timeout)
        elif ledger_dir is not None:
            transport = LocalTransport(ledger_dir)
        else:
            return _unverifiable("no ledger configured (neither a local log nor a ledger URL)", events,
                                 transport=name)
    except TransportError as exc:
        return _unverifiable(f"ledger unreachable: {exc}", events, transport=name)
    trust = FileTrustStore.for_key(tdir, key) if tdir is not None else None
    with LedgerClient(transport, key, trust=trust, witnesses=pinned_witnesses,
                      min_witnesses=min_witnesses) as client:
        return check_events(events, client, transport_name=name)


__all__ = [
    "EventCheck",
    "StoredEvent",
    "TAMPERED",
    "UNVERIFIABLE",
    "VERIFIED",
    "Verdict",
    "check_events",
    "read_key_file",
    "read_witness_keys",
    "trusted_key",
    "verify_events",
]
