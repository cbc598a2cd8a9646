"""Uploaded files: validate a ``dcc.Upload`` value as CSV text, then import it (no Dash, no Flask)."""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------- uploads

UPLOAD_EXTENSIONS = (".csv", ".txt")
UPLOAD_MIME_TYPES = ("text/csv", "text/plain", "application/vnd.ms-excel", "application/csv",
                     "text/comma-separated-values", "application/octet-stream", "")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)?;base64,")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class UploadError(ValueError):
    """An upload Chasqui refuses; the message says why and is shown to the user."""


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    encoding: str


def decode_upload(contents: Any, filename: Any, max_bytes: int) -> Upload:
    """Validate a ``dcc.Upload`` value (a base64 data URL) as a CSV text file of at most ``max_bytes``.

    Checks, in order: types, file name and extension, data-URL form and declared type, size (before
    decoding), strict base64, text encoding (UTF-8 with or without BOM, else Latin-1) and no binary
    control bytes (a renamed spreadsheet, zip or executable is refused).
    """
    if not isinstance(contents, str) or not isinstance(filename, str):
        raise UploadError("no file received")
    name = os.path.basename(filename.replace("\\", "/")).strip()
    if not name or len(name) > 255 or any(ch in name for ch in "\0\r\n"):
        raise UploadError("invalid file name")
    if not name.lower().endswith(UPLOAD_EXTENSIONS):
        raise UploadError(f"only CSV files are accepted ({', '.join(UPLOAD_EXTENSIONS)}), not {name!r}")
    m = _DATA_URL.match(contents[:300])
    if m is None:
        raise UploadError("upload is not a base64 data URL")
    mime = (m.group("mime") or "").lower()
    if mime not in UPLOAD_MIME_TYPES:
        raise UploadError(f"file type {mime!r} is not CSV text")
    payload = contents[m.end():]
    approx = len(payload) * 3 // 4
    if approx > max_bytes + 3:
        raise UploadError(f"file too large: {approx / 1e6:.1f} MB (limit {max_bytes / 1e6:.1f} MB)")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError("upload is not valid base64") from None
    if len(data) > max_bytes:
        raise UploadError(f"file too large: {len(data) / 1e6:.1f} MB (limit {max_bytes / 1e6:.1f} MB)")
    if not data.strip():
        raise UploadError("file is empty")
    if _CONTROL.search(data):
        raise UploadError("file contains binary data (not a CSV text file)")
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        body.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "latin-1"  # every byte decodes; control bytes were refused above
    return Upload(name, data, encoding)


def import_dataco_upload(contents: Any, filename: Any, data_dir: Path | str, max_bytes: int) -> dict[str, Any]:
    """Validate an uploaded DataCo CSV, then import it with ``analytics.dataco.import_dataco``.

    Returns the import's JSON (``rows_in == imported + quarantined``); raises UploadError for a
    refused file. The upload is written to a private temporary file next to the data and removed.
    """
    import tempfile

    from analytics.dataco import import_dataco

    upload = decode_upload(contents, filename, max_bytes)
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".csv", dir=data_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.data)
        result = import_dataco(tmp, data_dir).as_json()
    finally:
        Path(tmp).unlink(missing_ok=True)
    result["file"] = upload.filename
    qfile = result.get("quarantine_file")
    if qfile:  # where inside the data folder: the server's own paths are not shown to the visitor
        q = Path(qfile).resolve()
        result["quarantine_file"] = q.relative_to(data_dir).as_posix() if q.is_relative_to(data_dir) else q.name
    return result
