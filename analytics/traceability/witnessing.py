"""Witnessing another company's log (``python app.py witness``) and trusting witnesses of our own log
(``python app.py trust-witness``): multi-party trust without a blockchain.

A witness keeps its own Ed25519 key and, per log, the last checkpoint it cosigned (``DataDir.witness``).
Each run fetches the log's checkpoint over HTTP (C2SP tlog-tiles, as ``python app.py serve`` serves it under
``/ledger/``), checks the log's signature and that the new checkpoint extends the last one it saw (RFC 9162
consistency proof rebuilt from tiles), then adds a C2SP cosignature and sends it to the log, which serves it
with the checkpoint from then on. A checkpoint of the same size with another root (a split view), a smaller
one or an inconsistent one is refused, never cosigned, and reported with the checkpoint as evidence.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from analytics.datadir import DataDir
from ledger_client import (
    ConsistencyError,
    LedgerError,
    LogError,
    NoTrustedKeyError,
    SignatureError,
    SplitViewError,
    TransportError,
    UntrustedCheckpointError,
    VerificationError,
)
from ledger_client.client import HTTPTransport
from ledger_client.cosignature import WitnessVerifier
from ledger_client.log import MerkleLog
from ledger_client.verify import read_key_file
from ledger_client.witness import Witness

OK, REFUSED, CANNOT = 0, 1, 2  # exit codes: cosigned and accepted / refused / could not check or hand over


def witness_log(data_dir: Path, log_url: str, log_key: Path, *, name: str | None = None,
                timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """Check the log at ``log_url`` against the last checkpoint this data folder's witness saw, cosign it and
    send the cosignature to the log. Returns (exit code, report)."""
    state = DataDir(Path(data_dir)).witness
    report: dict[str, Any] = {"log_url": log_url}
    try:
        key = read_key_file(log_key)
    except NoTrustedKeyError as exc:
        return CANNOT, {**report, "status": "error", "reason": str(exc)}
    witness = Witness(state, name=name)
    report.update(witness=witness.signer.name, witness_key=witness.verifier_key,
                  witness_key_file=str(state / "witness.pub"))
    transport = HTTPTransport(log_url, timeout=timeout)
    note = ""
    try:
        note = transport.get_checkpoint()
        result = witness.observe(note, key, transport.get_consistency_proof)
    except SplitViewError as exc:
        return REFUSED, {**report, "status": "refused", "split_view": True, "reason": str(exc), "checkpoint": note}
    except ConsistencyError as exc:
        return REFUSED, {**report, "status": "refused", "split_view": False, "reason": str(exc),
                         "checkpoint": note}
    except UntrustedCheckpointError as exc:  # another key: a configuration problem, not misbehaviour
        return CANNOT, {**report, "status": "error", "reason": f"the checkpoint is not signed by the log key "
                        f"given (check --log-key): {exc}", "checkpoint": note}
    except SignatureError as exc:
        return REFUSED, {**report, "status": "refused", "split_view": False,
                         "reason": f"forged signature on the log's checkpoint: {exc}", "checkpoint": note}
    except TransportError as exc:
        return CANNOT, {**report, "status": "unreachable", "reason": str(exc)}
    except (VerificationError, LedgerError) as exc:
        return CANNOT, {**report, "status": "error", "reason": str(exc), "checkpoint": note}
    finally:
        transport.close()
    report.update(result.to_json())
    submit = HTTPTransport(log_url, timeout=timeout)
    try:
        report["submitted"] = submit.submit_cosignature(result.cosignature)
    except TransportError as exc:
        report.update(status="cosigned, not accepted",
                      reason=f"the log did not take the cosignature ({exc}); its operator trusts a witness with "
                             f"`python app.py trust-witness {state / 'witness.pub'} --data-dir DIR`")
        return CANNOT, report
    finally:
        submit.close()
    return OK, report


def trust_witness(data_dir: Path, key_file: Path, ledger_dir: Path | None = None) -> dict[str, Any]:
    """Trust the witness keys in ``key_file`` (one vkey a line, as in a witness's ``witness.pub``): the log
    then accepts their cosignatures and serves them with its checkpoint."""
    led = Path(ledger_dir) if ledger_dir else DataDir(Path(data_dir)).ledger
    try:
        lines = [x.strip() for x in Path(key_file).read_text(encoding="utf-8").splitlines() if x.strip()]
    except OSError as exc:
        raise ValueError(f"cannot read witness key {key_file}: {exc.strerror or exc}") from exc
    if not lines:
        raise ValueError(f"{key_file} holds no witness key")
    try:
        keys = [WitnessVerifier.from_string(x) for x in lines]
        with MerkleLog(led, create=False, writable=False) as log:
            for k in keys:
                log.add_witness(k)
            trusted = [w.name for w in log.trusted_witnesses()]
    except LogError as exc:
        raise ValueError(f"{led}: {exc}") from exc
    except LedgerError as exc:
        raise ValueError(f"{key_file} holds no witness key: {exc}") from exc
    return {"added": [k.name for k in keys], "trusted": trusted, "ledger": str(led)}


def cli_witness(args: argparse.Namespace) -> int:
    """``python app.py witness --data-dir DIR --log-url URL --log-key FILE``: prints one JSON line; exits 0
    cosigned (and accepted by the log), 1 refused (split view, rewritten history, wrong signature), 2 could
    not check (log unreachable, key unreadable) or the log did not accept the cosignature."""
    code, report = witness_log(Path(args.data_dir), args.log_url, Path(args.log_key),
                               name=getattr(args, "name", None))
    print(json.dumps(report, ensure_ascii=False))
    return code


def cli_trust_witness(args: argparse.Namespace) -> int:
    """``python app.py trust-witness FILE --data-dir DIR``: prints one JSON line."""
    print(json.dumps(trust_witness(Path(args.data_dir), Path(args.file), getattr(args, "ledger_dir", None)),
                     ensure_ascii=False))
    return 0
