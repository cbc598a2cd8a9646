"""GS1 identifiers: check digits, EPC URN -> GS1 Digital Link, canonical Digital Link URIs.

Facts from the GS1 Tag Data Standard (EPC URI schemes) and the GS1 Digital Link standard; used by
the EPCIS event hash (``ledger_client.epcis``) and by Chasqui's lot look-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

CANONICAL_HOST = "https://id.gs1.org"
_SAFE = "-._~!$'()*+,;=:@"


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit for a digit string (without its check digit)."""
    if not digits.isdigit():
        raise ValueError(f"not a digit string: {digits!r}")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def with_check_digit(digits: str) -> str:
    return digits + check_digit(digits)


def is_valid_check_digit(key: str) -> bool:
    return key.isdigit() and len(key) > 1 and check_digit(key[:-1]) == key[-1]


def _q(value: str) -> str:
    return quote(unquote(value), safe=_SAFE)


def _gtin(cp: str, item_ref: str) -> str:
    # Indicator digit / first digit of the item reference goes first (TDS 14.5).
    return with_check_digit(item_ref[:1] + cp + item_ref[1:])


def _split(body: str, n: int) -> list[str] | None:
    parts = body.split(".")
    return parts if len(parts) == n and all(parts) else None


def urn_to_digital_link(urn: str) -> str | None:
    """Canonical GS1 Digital Link URI of an EPC pure-identity / class / pattern URN, or None."""
    m = re.match(r"^urn:epc:(id|class|idpat):([a-z0-9]+):(.+)$", urn)
    if not m:
        return None
    kind, scheme, body = m.groups()
    try:
        return _URN_CONVERTERS[(kind, scheme)](body)
    except (KeyError, ValueError, TypeError):
        return None


def _digits(*parts: str) -> bool:
    return all(p.isdigit() for p in parts)


def _sgtin(body: str) -> str | None:
    p = _split(body, 3)
    if not p or not _digits(p[0], p[1]) or len(p[0]) + len(p[1]) != 13:
        return None
    return f"{CANONICAL_HOST}/01/{_gtin(p[0], p[1])}/21/{_q(p[2])}"


def _idpat_sgtin(body: str) -> str | None:
    p = _split(body, 3)
    if not p or p[2] != "*" or not _digits(p[0], p[1]) or len(p[0]) + len(p[1]) != 13:
        return None
    return f"{CANONICAL_HOST}/01/{_gtin(p[0], p[1])}"


def _lgtin(body: str) -> str | None:
    p = _split(body, 3)
    if not p or not _digits(p[0], p[1]) or len(p[0]) + len(p[1]) != 13:
        return None
    return f"{CANONICAL_HOST}/01/{_gtin(p[0], p[1])}/10/{_q(p[2])}"


def _sscc(body: str) -> str | None:
    p = _split(body, 2)
    if not p or not _digits(*p) or len(p[0]) + len(p[1]) != 17:
        return None
    return f"{CANONICAL_HOST}/00/{with_check_digit(p[1][:1] + p[0] + p[1][1:])}"


def _sgln(body: str) -> str | None:
    p = _split(body, 3)
    if not p or not _digits(p[0], p[1]) or len(p[0]) + len(p[1]) != 12:
        return None
    out = f"{CANONICAL_HOST}/414/{with_check_digit(p[0] + p[1])}"
    if p[2] != "0":
        out += f"/254/{_q(p[2])}"
    return out


def _pgln(body: str) -> str | None:
    p = _split(body, 2)
    if not p or not _digits(*p) or len(p[0]) + len(p[1]) != 12:
        return None
    return f"{CANONICAL_HOST}/417/{with_check_digit(p[0] + p[1])}"


def _grai(body: str, pattern: bool = False) -> str | None:
    p = _split(body, 3)
    if not p or not _digits(p[0], p[1]) or len(p[0]) + len(p[1]) != 12:
        return None
    base = f"{CANONICAL_HOST}/8003/{with_check_digit('0' + p[0] + p[1])}"
    if pattern:
        return base if p[2] == "*" else None
    return base + _q(p[2])


def _giai(body: str) -> str | None:
    p = _split(body, 2)
    if not p or not p[0].isdigit():
        return None
    return f"{CANONICAL_HOST}/8004/{p[0]}{_q(p[1])}"


def _gsrn(ai: str):
    def conv(body: str) -> str | None:
        p = _split(body, 2)
        if not p or not _digits(*p) or len(p[0]) + len(p[1]) != 17:
            return None
        return f"{CANONICAL_HOST}/{ai}/{with_check_digit(p[0] + p[1])}"
    return conv


def _doc_like(ai: str, pattern: bool = False):
    def conv(body: str) -> str | None:
        p = _split(body, 3)
        if not p or not _digits(p[0], p[1]) or len(p[0]) + len(p[1]) != 12:
            return None
        base = f"{CANONICAL_HOST}/{ai}/{with_check_digit(p[0] + p[1])}"
        if pattern:
            return base if p[2] == "*" else None
        return base + _q(p[2])
    return conv


def _cpi(body: str, pattern: bool = False) -> str | None:
    p = _split(body, 3)
    if not p or not p[0].isdigit():
        return None
    base = f"{CANONICAL_HOST}/8010/{p[0]}{_q(p[1])}"
    if pattern:
        return base if p[2] == "*" else None
    return f"{base}/8011/{_q(p[2])}"


def _ginc(body: str) -> str | None:
    p = _split(body, 2)
    if not p or not p[0].isdigit():
        return None
    return f"{CANONICAL_HOST}/401/{p[0]}{_q(p[1])}"


def _gsin(body: str) -> str | None:
    p = _split(body, 2)
    if not p or not _digits(*p) or len(p[0]) + len(p[1]) != 16:
        return None
    return f"{CANONICAL_HOST}/402/{with_check_digit(p[0] + p[1])}"


def _itip(body: str, pattern: bool = False) -> str | None:
    p = _split(body, 5)
    if not p or not _digits(*p[:4]) or len(p[0]) + len(p[1]) != 13:
        return None
    base = f"{CANONICAL_HOST}/8006/{_gtin(p[0], p[1])}{p[2]}{p[3]}"
    if pattern:
        return base if p[4] == "*" else None
    return f"{base}/21/{_q(p[4])}"


def _upui(body: str) -> str | None:
    p = _split(body, 3)
    if not p or not _digits(p[0], p[1]) or len(p[0]) + len(p[1]) != 13:
        return None
    return f"{CANONICAL_HOST}/01/{_gtin(p[0], p[1])}/235/{_q(p[2])}"


_URN_CONVERTERS = {
    ("id", "sgtin"): _sgtin,
    ("id", "sscc"): _sscc,
    ("id", "sgln"): _sgln,
    ("id", "pgln"): _pgln,
    ("id", "grai"): _grai,
    ("id", "giai"): _giai,
    ("id", "gsrn"): _gsrn("8018"),
    ("id", "gsrnp"): _gsrn("8017"),
    ("id", "gdti"): _doc_like("253"),
    ("id", "sgcn"): _doc_like("255"),
    ("id", "cpi"): _cpi,
    ("id", "ginc"): _ginc,
    ("id", "gsin"): _gsin,
    ("id", "itip"): _itip,
    ("id", "upui"): _upui,
    ("class", "lgtin"): _lgtin,
    ("idpat", "sgtin"): _idpat_sgtin,
    ("idpat", "grai"): lambda b: _grai(b, pattern=True),
    ("idpat", "gdti"): _doc_like("253", pattern=True),
    ("idpat", "sgcn"): _doc_like("255", pattern=True),
    ("idpat", "cpi"): lambda b: _cpi(b, pattern=True),
    ("idpat", "itip"): lambda b: _itip(b, pattern=True),
}

# ---------------------------------------------------------------- Digital Link URIs

# primary key AI -> (value pattern, qualifier AIs in canonical order, mutually exclusive granularity)
_PRIMARY: dict[str, tuple[str, tuple[str, ...]]] = {
    "00": (r"\d{18}", ()),
    "01": (r"\d{8}|\d{12,14}", ("22", "10", "21", "235")),
    "253": (r"\d{13}[\x21-\x7e]{0,17}", ()),
    "255": (r"\d{13}\d{0,12}", ()),
    "401": (r"\d{6,12}[\x21-\x7e]{0,24}", ()),
    "402": (r"\d{17}", ()),
    "414": (r"\d{13}", ("254", "7040")),
    "417": (r"\d{13}", ("7040",)),
    "8003": (r"\d{14}[\x21-\x7e]{0,16}", ()),
    "8004": (r"\d{6,12}[\x21-\x7e]{0,24}", ()),
    "8006": (r"\d{18}", ("22", "10", "21")),
    "8010": (r"[\x23\x2d-\x39\x41-\x5a]{1,30}", ("8011",)),
    "8017": (r"\d{18}", ("8019",)),
    "8018": (r"\d{18}", ("8019",)),
}


@dataclass(frozen=True)
class DigitalLink:
    """A parsed GS1 Digital Link: primary key AI and value plus key qualifiers (decoded)."""

    ai: str
    value: str
    qualifiers: tuple[tuple[str, str], ...] = ()

    def get(self, ai: str) -> str | None:
        if ai == self.ai:
            return self.value
        return dict(self.qualifiers).get(ai)

    def uri(self) -> str:
        out = f"{CANONICAL_HOST}/{self.ai}/{_q(self.value)}"
        for q, v in self.qualifiers:
            out += f"/{q}/{_q(v)}"
        return out


@lru_cache(maxsize=65536)
def parse_digital_link(uri: str) -> DigitalLink | None:
    """Parse an http(s) GS1 Digital Link URI (any host, optional path prefix), or None."""
    try:
        parts = urlsplit(uri.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    segs = [unquote(s) for s in parts.path.split("/") if s]
    for i in range(len(segs) - 1):
        ai = segs[i]
        spec = _PRIMARY.get(ai)
        if spec is None:
            continue
        value = segs[i + 1]
        if not re.fullmatch(spec[0], value):
            continue
        rest = segs[i + 2:]
        if len(rest) % 2:
            continue
        quals = dict(zip(rest[0::2], rest[1::2], strict=True))
        if any(q not in spec[1] for q in quals):
            continue
        if ai == "01":
            value = value.zfill(14)
        return DigitalLink(ai, value, tuple((q, quals[q]) for q in spec[1] if q in quals))
    return None


def canonical_digital_link(uri: str) -> str | None:
    """Canonical form (id.gs1.org host, no query, constrained granularity) of a Digital Link URI."""
    dl = parse_digital_link(uri)
    if dl is None:
        return None
    quals = dict(dl.qualifiers)
    if dl.ai in ("01", "8006"):
        if "21" in quals:
            keep = {"21": quals["21"]}
        elif "235" in quals:
            keep = {"235": quals["235"]}
        elif "10" in quals:
            keep = {"10": quals["10"]}
        else:
            keep = {}
        quals = keep
    return DigitalLink(dl.ai, dl.value, tuple(quals.items())).uri()


@lru_cache(maxsize=65536)
def normalise_identifier(value: str) -> str | None:
    """GS1 Digital Link form of an EPC URN or Digital Link URI, or None if it is neither."""
    if value.startswith("urn:epc:"):
        return urn_to_digital_link(value)
    if value.startswith(("http://", "https://")):
        return canonical_digital_link(value)
    return None


# ---------------------------------------------------------------- builders for Chasqui's own data

def gtin14(company_prefix: str, item_ref: str, indicator: str = "0") -> str:
    return with_check_digit(indicator + company_prefix + item_ref)


def gln(company_prefix: str, location_ref: str) -> str:
    return with_check_digit(company_prefix + location_ref)


def sscc(company_prefix: str, serial_ref: str, extension: str = "0") -> str:
    return with_check_digit(extension + company_prefix + serial_ref)


__all__ = [
    "CANONICAL_HOST",
    "DigitalLink",
    "canonical_digital_link",
    "check_digit",
    "gln",
    "gtin14",
    "is_valid_check_digit",
    "normalise_identifier",
    "parse_digital_link",
    "sscc",
    "urn_to_digital_link",
    "with_check_digit",
]
