"""Constrained canonical GS1 Digital Link URIs, exactly as the CBV 2.0 event hash uses them.

The CBV 2.0 "EPCIS event hash ID" turns every EPC URI, EPC class URI, EPC pattern URI and GS1 Digital
Link URI into one constrained canonical Digital Link before hashing: host ``https://id.gs1.org``, no
query string, only the finest level of identification. The open-source reference implementation
(RalphTro/epcis-event-hash-generator, ``epcis_event_hash_generator/dl_normaliser.py``, function
``normaliser``) is the authority on the details; this module reproduces its results, including what it
accepts and refuses:

* EPC URIs are matched against the Tag Data Standard grammar (GS1 company prefix of 6 to 12 digits;
  serials of the allowed URN characters, percent-escapes included). Percent-escapes of the URN are
  kept as written; ``! ( ) * + , :`` are percent-encoded, nothing else is touched.
* ``urn:epc:id:sgln:...`` with extension ``0`` drops the ``/254/`` qualifier; a GDTI with an empty
  serial keeps the bare ``/253/<GDTI>``; a PGLN with an empty party reference is accepted.
* Digital Link URIs (any host, ``http`` or ``https``, short names such as ``/gtin/``) lose their
  query string, take the canonical host, have GTINs padded to 14 digits, drop the CPV (``/22/``) and,
  for ``/01/`` and ``/8006/``, drop the lot when a serial is present. The result must then fit the
  reference's final syntax check (for example, no ``%`` escapes in Digital Link values), otherwise the
  value is not an identifier and is hashed as written.

:func:`constrained_digital_link` returns the canonical URI or ``None`` (not a GS1 identifier).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ledger_client.gs1 import check_digit

HOST = "https://id.gs1.org"

# One character of an EPC URI component (TDS "GS3A3" characters, or their %-escapes), as the reference
# writes it. CPI components allow fewer characters.
_C = r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]|[!')(*+,.0-9:;=A-Za-z_-])"
_CPI = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"


# The reference's pattern for a 12-digit company prefix in GRAI/GDTI (and their patterns) wants two dots.
_TWELVE_DOTS = r"\d{12}\.\."


def _split_digits(total: int, twelve: str | None = None) -> str:
    """Company prefix (6..12 digits) '.' reference of ``total - len(prefix)`` digits."""
    alts = [rf"\d{{{k}}}\.\d{{{total - k}}}" for k in range(6, 12)]
    alts.append(twelve if twelve is not None else rf"\d{{12}}\.\d{{{total - 12}}}")
    return "(?:" + "|".join(alts) + ")"


def _split_chars(total: int, char: str) -> str:
    """Company prefix (6..12 digits) '.' 1..(total - len(prefix)) characters."""
    return "(?:" + "|".join(rf"\d{{{k}}}\.{char}{{1,{total - k}}}" for k in range(6, 13)) + ")"


def _percent_encode(value: str) -> str:
    """The few characters the reference percent-encodes in Digital Link path values."""
    for ch, esc in (("!", "%21"), ("(", "%28"), (")", "%29"), ("*", "%2A"), ("+", "%2B"), (",", "%2C"),
                    (":", "%3A")):
        value = value.replace(ch, esc)
    return value


def _cd(digits: str) -> str:
    return digits + check_digit(digits)


def _gtin(uri: str, start: int, p: int) -> str:
    """GTIN-14 (with check digit) from an SGTIN-like URI whose company prefix starts at ``start``."""
    cp = uri[start:p]
    item = uri[p + 1:p + 1 + (13 - len(cp))]
    return _cd(item[:1] + cp + item[1:])


_Rule = tuple[re.Pattern[str], Callable[[str, int], str]]


def _rule(pattern: str, build: Callable[[str, int], str]) -> _Rule:
    return re.compile(pattern), build


# Each rule: the reference's acceptance pattern and how it slices the URI (``p`` = index of the first
# '.'). The slicing positions are those of the reference, quirks included (see module docstring).
_EPC_RULES: tuple[_Rule, ...] = (
    _rule(rf"^urn:epc:id:sgtin:{_split_digits(13)}\.{_C}{{1,20}}$",
          lambda u, p: f"{HOST}/01/{_gtin(u, 17, p)}/21/{_percent_encode(u[32:])}"),
    _rule(rf"^urn:epc:id:sscc:{_split_digits(17)}$",
          lambda u, p: f"{HOST}/00/{_cd(u[p + 1:p + 2] + u[16:p] + u[p + 2:])}"),
    _rule(rf"^urn:epc:id:sgln:{_split_digits(12)}\.{_C}{{1,20}}$",
          lambda u, p: f"{HOST}/414/{_cd(u[16:p] + u[p + 1:p + 1 + 12 - (p - 16)])}"
                       + ("" if u[30:] == "0" else f"/254/{_percent_encode(u[30:])}")),
    _rule(rf"^urn:epc:id:grai:{_split_digits(12, twelve=_TWELVE_DOTS)}\.{_C}{{1,16}}$",
          lambda u, p: f"{HOST}/8003/{_cd('0' + u[16:p] + u[p + 1:p + 1 + 12 - (p - 16)])}"
                       f"{_percent_encode(u[30:])}"),
    _rule(rf"^urn:epc:id:giai:{_split_chars(30, _C)}$",
          lambda u, p: f"{HOST}/8004/{u[16:p]}{_percent_encode(u[p + 1:])}"),
    _rule(rf"^urn:epc:id:gsrn:{_split_digits(17)}$",
          lambda u, p: f"{HOST}/8018/{_cd(u[16:p] + u[p + 1:])}"),
    _rule(rf"^urn:epc:id:gsrnp:{_split_digits(17)}$",
          lambda u, p: f"{HOST}/8017/{_cd(u[17:p] + u[p + 1:])}"),
    # The reference's GDTI pattern has no '.' between document type and serial: the serial (which may
    # be empty) is whatever follows position 30.
    _rule(rf"^urn:epc:id:gdti:{_split_digits(12, twelve=_TWELVE_DOTS)}{_C}{{1,20}}$",
          lambda u, p: f"{HOST}/253/{_cd(u[16:p] + u[p + 1:p + 1 + 12 - (p - 16)])}{_percent_encode(u[30:])}"),
    _rule(rf"^urn:epc:id:cpi:{_split_chars(30, _CPI)}\.\d{{1,12}}$",
          lambda u, p: f"{HOST}/8010/{_percent_encode(u[15:p] + u[p + 1:u.rfind('.')])}/8011/{u[u.rfind('.') + 1:]}"),
    _rule(rf"^urn:epc:id:sgcn:{_split_digits(12)}\.\d{{1,12}}$",
          lambda u, p: f"{HOST}/255/{_cd(u[16:p] + u[p + 1:p + 1 + 12 - (p - 16)])}{u[30:]}"),
    _rule(rf"^urn:epc:id:ginc:{_split_chars(30, _C)}$",
          lambda u, p: f"{HOST}/401/{u[16:p]}{_percent_encode(u[p + 1:])}"),
    _rule(rf"^urn:epc:id:gsin:{_split_digits(16)}$",
          lambda u, p: f"{HOST}/402/{_cd(u[16:p] + u[p + 1:])}"),
    _rule(rf"^urn:epc:id:itip:{_split_digits(13)}\.\d{{2}}\.\d{{2}}\.{_C}{{1,20}}$",
          lambda u, p: f"{HOST}/8006/{_gtin(u, 16, p)}{u[31:33]}{u[34:36]}/21/{_percent_encode(u[37:])}"),
    _rule(rf"^urn:epc:id:upui:{_split_digits(13)}\.{_C}{{1,28}}$",
          lambda u, p: f"{HOST}/01/{_gtin(u, 16, p)}/235/{_percent_encode(u[31:])}"),
    _rule(rf"^urn:epc:id:pgln:{_split_digits(12)}$",
          lambda u, p: f"{HOST}/417/{_cd(u[16:p] + u[p + 1:p + 1 + 12 - (p - 16)])}"),
    _rule(rf"^urn:epc:class:lgtin:{_split_digits(13)}\.{_C}{{1,20}}$",
          lambda u, p: f"{HOST}/01/{_gtin(u, 20, p)}/10/{_percent_encode(u[35:])}"),
    _rule(rf"^urn:epc:idpat:sgtin:{_split_digits(13)}\.\*$",
          lambda u, p: f"{HOST}/01/{_gtin(u, 20, p)}"),
    _rule(rf"^urn:epc:idpat:grai:{_split_digits(12, twelve=_TWELVE_DOTS)}\.\*$",
          lambda u, p: f"{HOST}/8003/{_cd('0' + u[19:p] + u[p + 1:p + 1 + 12 - (p - 19)])}"),
    _rule(rf"^urn:epc:idpat:gdti:{_split_digits(12, twelve=_TWELVE_DOTS)}\.\*$",
          lambda u, p: f"{HOST}/253/{_cd(u[19:p] + u[p + 1:p + 1 + 12 - (p - 19)])}"),
    _rule(rf"^urn:epc:idpat:sgcn:{_split_digits(12, twelve=_TWELVE_DOTS)}\.\*$",
          lambda u, p: f"{HOST}/255/{_cd(u[19:p] + u[p + 1:p + 1 + 12 - (p - 19)])}"),
    _rule(rf"^urn:epc:idpat:cpi:{_split_chars(30, _CPI)}\.\*$",
          lambda u, p: f"{HOST}/8010/{_percent_encode(u[18:p] + u[p + 1:u.rfind('.')])}"),
    _rule(rf"^urn:epc:idpat:itip:{_split_digits(13)}\.\d{{2}}\.\d{{2}}\.\*$",
          lambda u, p: f"{HOST}/8006/{_gtin(u, 19, p)}{u[34:36]}{u[37:39]}"),
    _rule(rf"^urn:epc:idpat:upui:{_split_digits(13)}\.\*$",
          lambda u, p: f"{HOST}/01/{_gtin(u, 19, p)}"),
)

# ---------------------------------------------------------------- Digital Link URIs

_KEYS = "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|" \
        "gsin|8003|grai|8004|giai"
_DL_SHAPE = re.compile(
    r"^https?:(//((([^/?#]*)@)?([^/?#:]*)(:([^/?#]*))?))?"
    rf"((([^?#]*)(/({_KEYS})/)(\d{{4}}[^/]+)(/[^/]+/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)|(/[A-Za-z_-]{{10}}$))")
_SHORT_NAMES = (("/gtin/", "/01/"), ("/itip/", "/8006/"), ("/cpid/", "/8010/"), ("/gln/", "/414/"),
                ("/party/", "/417/"), ("/gsrnp/", "/8017/"), ("/gsrn/", "/8018/"), ("/gcn/", "/255/"),
                ("/sscc/", "/00/"), ("/gdti/", "/253/"), ("/ginc/", "/401/"), ("/gsin/", "/402/"),
                ("/grai/", "/8003/"), ("/giai/", "/8004/"), ("/cpv/", "/22/"), ("/lot/", "/10/"), ("/ser/", "/21/"))
_CANONICAL_SHAPE = re.compile(
    r"^https://id.gs1.org/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/(\d{4}[^/]+)"
    r"(/[^/]+/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?|(/[A-Za-z_-]{10}$)")
# Order in which the primary key is looked for when the host must be replaced (the first key *in this
# order* that occurs anywhere in the URI wins, as in the reference).
_HOST_KEYS = ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010", "8017", "8018")
_V = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"  # characters allowed in values
_V_SLASH = r"[\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_CPV_ONLY = (re.compile(rf"https://id.gs1.org/8006/\d{{18}}/22/({_V}{{0,20}})$"),
             re.compile(rf"https://id.gs1.org/01/\d{{14}}/22/({_V}{{0,20}})$"))
_CPV_MORE = (re.compile(rf"https://id.gs1.org/8006/\d{{18}}/22/({_V_SLASH}{{0,20}})$"),
             re.compile(rf"https://id.gs1.org/01/\d{{14}}/22/({_V_SLASH}{{0,20}})$"))
_LOT_AND_SERIAL = (re.compile(rf"https://id.gs1.org/8006/\d{{18}}/10/({_V}{{0,20}})/21/({_V}{{0,20}})$"),
                   re.compile(rf"https://id.gs1.org/01/(\d{{14}})/10/({_V}{{0,20}})/21/({_V}{{0,20}})$"))
_VALID = tuple(re.compile(p) for p in (
    r"https://id.gs1.org/00/(\d{18})$",
    rf"https://id.gs1.org/01/(\d{{14}})/21/({_V}{{0,20}})$",
    rf"https://id.gs1.org/01/(\d{{14}})/10/({_V}{{0,20}})$",
    r"https://id.gs1.org/01/(\d{14})$",
    rf"https://id.gs1.org/01/(\d{{14}})/235/({_V}{{0,28}})$",
    rf"https://id.gs1.org/253/(\d{{13}})({_V}{{0,17}})$",
    r"https://id.gs1.org/255/(\d{13})(\d{0,12})$",
    rf"https://id.gs1.org/401/({_V}{{0,30}})$",
    r"https://id.gs1.org/402/(\d{17})$",
    r"https://id.gs1.org/414/(\d{13})$",
    rf"https://id.gs1.org/414/(\d{{13}})/254/({_V}{{0,20}})$",
    r"https://id.gs1.org/417/(\d{13})$",
    rf"https://id.gs1.org/8003/(\d{{14}})({_V}{{0,16}})$",
    rf"https://id.gs1.org/8004/({_V}{{0,30}})$",
    rf"https://id.gs1.org/8006/(\d{{18}})/21/({_V}{{0,20}})$",
    rf"https://id.gs1.org/8006/(\d{{18}})/10/({_V}{{0,20}})$",
    r"https://id.gs1.org/8006/(\d{18})$",
    r"https://id.gs1.org/8010/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})/8011/(\d{0,12})$",
    r"https://id.gs1.org/8010/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})$",
    r"https://id.gs1.org/8017/(\d{18})$",
    r"https://id.gs1.org/8018/(\d{18})$",
))


def _digital_link(uri: str) -> str | None:
    if _DL_SHAPE.match(uri) is None:
        return None
    if "?" in uri:
        uri = uri[:uri.index("?")]
    for short, ai in _SHORT_NAMES:
        uri = uri.replace(short, ai)
    if _CANONICAL_SHAPE.match(uri) is None:
        for key in _HOST_KEYS:
            at = uri.find(f"/{key}/")
            if at != -1:
                uri = HOST + uri[at:]
                break
    if re.match(r"^https://id.gs1.org/01/\d{14}", uri) is None:  # GTIN-8/12/13 -> GTIN-14
        if re.match(r"^https://id.gs1.org/01/\d{13}", uri):
            uri = uri.replace("/01/", "/01/0")
        elif re.match(r"^https://id.gs1.org/01/\d{12}", uri):
            uri = uri.replace("/01/", "/01/00")
        elif re.match(r"^https://id.gs1.org/01/\d{8}", uri):
            uri = uri.replace("/01/", "/01/000000")
    rest = uri[uri.find("/22/") + 4:]  # the CPV and what follows it
    if any(p.match(uri) for p in _CPV_ONLY):
        uri = uri[:uri.find("/22/")] + rest[rest.find("/"):-1]
    if any(p.match(uri) for p in _CPV_MORE):
        uri = uri[:uri.find("/22/")] + rest[rest.find("/"):]
    if any(p.match(uri) for p in _LOT_AND_SERIAL):  # a serial makes the lot redundant
        after_lot = uri[uri.find("/10/") + 4:]
        uri = uri[:uri.find("/10/")] + after_lot[after_lot.find("/"):]
    return uri if any(p.match(uri) for p in _VALID) else None


_BY_SCHEME = {":".join(rule[0].pattern[1:].split(":", 4)[:4]) + ":": rule for rule in _EPC_RULES}


def constrained_digital_link(value: str) -> str | None:
    """Constrained canonical GS1 Digital Link of an EPC URI or Digital Link URI, or ``None``.

    ``None`` means the value is not a GS1 identifier the event hash converts (it is hashed as written).
    """
    if not isinstance(value, str) or "." not in value:
        return None
    if value.startswith("urn:epc:"):
        parts = value.split(":", 4)
        rule = _BY_SCHEME.get(":".join(parts[:4]) + ":") if len(parts) == 5 else None
        if rule is not None and rule[0].match(value):
            return rule[1](value, value.index("."))
        return None
    if not value.startswith("http"):
        return None
    return _digital_link(value)


__all__ = ["HOST", "constrained_digital_link"]
