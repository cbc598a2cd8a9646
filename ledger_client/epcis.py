"""GS1 CBV 2.0 EPCIS event hash (``ni:///sha-256;<hex>?ver=CBV2.0``) for EPCIS 2.0 JSON/JSON-LD.

The pre-hash string of an event is ``eventType=<type>`` followed by the event's properties in the
canonical order below, each rendered as ``name=value`` (or ``name`` + rendered children), with

* timestamps in UTC at millisecond precision (``...SS.mmmZ``; the 3rd decimal rounded up when the
  4th is 5-9),
* numbers without trailing zeros, strings trimmed,
* EPC URNs and Digital Link URIs in canonical GS1 Digital Link form (``https://id.gs1.org/...``),
* CBV short names (bizStep, disposition, business transaction / source / destination types,
  sensor types...) expanded to their web vocabulary URIs using the EPCIS JSON-LD context,
* the elements of every list sorted by their rendered strings (case-sensitive code-point order),
* user extensions (and ilmd contents) as ``{namespace}localName=value``, sorted, after the
  standard fields; ``eventID`` and ``recordTime`` are not part of the hash.

JSON-LD terms are expanded offline from the context copies shipped in ``ledger_client/contexts``.
The ordering of ``destinationList`` before ``sourceList`` follows the reference examples
(the reference implementation's output), which are the acceptance test of this module.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Any

from ledger_client.errors import EPCISError
from ledger_client.gs1 import normalise_identifier

HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)

# Context URL -> local copy (the machines running Chasqui cannot fetch them).
CONTEXT_FILES = {
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld": "epcis-context-2.0.0.jsonld",
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld": "epcis-context-2.0.0.jsonld",
    "https://gs1.github.io/EPCIS/epcis-context.jsonld": "epcis-context-gs1-github.jsonld",
}
DEFAULT_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

_IGNORED = {"type", "@type", "eventID", "recordTime", "@context", "@id", "id"}
RDFS_COMMENT = "{http://www.w3.org/2000/01/rdf-schema#}comment"  # comments never take part in the hash


# ---------------------------------------------------------------- contexts

@lru_cache(maxsize=8)
def load_context(url: str) -> dict[str, Any]:
    """The ``@context`` object of a known EPCIS context URL, read from the packaged copy."""
    name = CONTEXT_FILES.get(url.rstrip()) or CONTEXT_FILES.get(url.replace("http://", "https://", 1))
    if name is None:
        raise EPCISError(f"JSON-LD context {url!r} is not available offline "
                         f"(known: {', '.join(sorted(CONTEXT_FILES))})")
    text = resources.files("ledger_client").joinpath("contexts", name).read_text(encoding="utf-8")
    ctx = json.loads(text)["@context"]
    if not isinstance(ctx, dict):
        raise EPCISError(f"context {url} is not a JSON-LD context object")
    return ctx


def _curie(value: str, prefixes: Mapping[str, str]) -> str:
    if ":" in value:
        pre, _, local = value.partition(":")
        if pre in prefixes and not local.startswith("//"):
            return prefixes[pre] + local
    return value


@lru_cache(maxsize=8)
def _vocabularies(url: str) -> dict[str, dict[str, str]]:
    """Scoped vocabularies of the standard context: property path -> {short name: full URI}."""
    ctx = load_context(url)
    prefixes = {k: v for k, v in ctx.items() if isinstance(v, str) and v.endswith(("/", ":", "#"))}
    out: dict[str, dict[str, str]] = {}

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, list):
            for o in obj:
                walk(o, path)
            return
        if not isinstance(obj, dict):
            return
        terms = {k: _curie(v, prefixes) for k, v in obj.items()
                 if isinstance(v, str) and not k.startswith("@") and v.startswith(("cbv:", "gs1:"))}
        if terms:
            out.setdefault(path, {}).update(terms)
        for k, v in obj.items():
            if isinstance(v, dict):
                if "@context" in v:
                    walk(v["@context"], f"{path}/{k}" if path else k)

    for key, val in ctx.items():
        if isinstance(val, dict) and "@context" in val:
            walk(val["@context"], key)
    return out


class _Expander:
    """Prefixes and vocabularies in force for one document."""

    def __init__(self, context: Any) -> None:
        self.prefixes: dict[str, str] = {}
        self.base_url = DEFAULT_CONTEXT
        self._add(context)
        if not self.prefixes:
            self._add(DEFAULT_CONTEXT)
        self.vocab = _vocabularies(self.base_url)

    def _add(self, context: Any) -> None:
        if context is None:
            return
        if isinstance(context, str):
            ctx = load_context(context)
            self.base_url = context if context in CONTEXT_FILES else self.base_url
            self._add_obj(ctx)
        elif isinstance(context, list):
            for c in context:
                self._add(c)
        elif isinstance(context, dict):
            self._add_obj(context)
        else:
            raise EPCISError("@context must be a URL, an object or a list of them")

    def _add_obj(self, ctx: Mapping[str, Any]) -> None:
        for k, v in ctx.items():
            if k.startswith("@"):
                continue
            if isinstance(v, str) and (v.endswith(("/", "#", ":")) or v.startswith(("http", "urn:"))):
                self.prefixes[k] = v
            elif isinstance(v, dict) and isinstance(v.get("@id"), str) and v.get("@prefix"):
                self.prefixes[k] = v["@id"]

    def key(self, name: str) -> str:
        """Expanded name of an extension property: ``{namespace}local``."""
        if ":" in name:
            pre, _, local = name.partition(":")
            if pre in self.prefixes and not local.startswith("//"):
                return "{" + self.prefixes[pre] + "}" + local
            m = re.match(r"^(.*[/#:])([^/#:]+)$", name)
            if m and "://" in name or name.startswith("urn:"):
                if m:
                    return "{" + m.group(1) + "}" + m.group(2)
        return name

    def term(self, path: str, value: str, urn_prefix: str | None = None) -> str:
        """Expand a vocabulary value (bizStep, disposition, types...)."""
        vocab = self.vocab.get(path, {})
        if value in vocab:
            return vocab[value]
        if urn_prefix and value.startswith(urn_prefix):
            return _WEB_VOC[urn_prefix] + value[len(urn_prefix):]
        return _curie(value, self.prefixes)


_WEB_VOC = {
    "urn:epcglobal:cbv:bizstep:": "https://ref.gs1.org/cbv/BizStep-",
    "urn:epcglobal:cbv:disp:": "https://ref.gs1.org/cbv/Disp-",
    "urn:epcglobal:cbv:btt:": "https://ref.gs1.org/cbv/BTT-",
    "urn:epcglobal:cbv:sdt:": "https://ref.gs1.org/cbv/SDT-",
    "urn:epcglobal:cbv:er:": "https://ref.gs1.org/cbv/ER-",
}


# ---------------------------------------------------------------- value canonicalisation

_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$"
)


def canonical_time(value: str) -> str:
    """UTC, millisecond precision, 'Z'; the 3rd decimal is rounded up when the 4th is 5-9."""
    m = _TS_RE.match(value.strip())
    if not m:
        return value.strip()
    y, mo, d, h, mi, s, frac, tz = m.groups()
    frac = (frac or "")
    ms = int((frac + "000")[:3])
    if len(frac) > 3 and frac[3] in "56789":
        ms += 1
    if tz in ("Z", "z"):
        offset = timedelta(0)
    else:
        sign = 1 if tz[0] == "+" else -1
        offset = sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone(offset))
    except ValueError:
        return value.strip()
    dt = (dt + timedelta(milliseconds=ms)).astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def canonical_number(value: int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise EPCISError("NaN and infinite numbers are not valid EPCIS values")
        if value == int(value) and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    return str(value)


_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def canonical_value(value: Any) -> str:
    """Canonical text of a scalar value (numbers, identifiers, CBV URNs, plain strings)."""
    if isinstance(value, Mapping) and "@value" in value:
        value = value["@value"]
    if isinstance(value, (bool, int, float)):
        return canonical_number(value)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EPCISError(f"unexpected value {value!r}")
    text = value.strip()
    for urn, web in _WEB_VOC.items():
        if text.startswith(urn):
            return web + text[len(urn):]
    if _NUM_RE.match(text):
        return canonical_number(float(text)) if not text.lstrip("+-").isdigit() else str(int(text))
    dl = normalise_identifier(text)
    return dl if dl is not None else text


# ---------------------------------------------------------------- pre-hash construction

def _scalar(name: str, value: Any, *, time: bool = False) -> str:
    if isinstance(value, Mapping) and "@value" in value:
        value = value["@value"]
    text = canonical_time(value) if time and isinstance(value, str) else canonical_value(value)
    return f"{name}={text}" if text != "" else ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


class _Builder:
    def __init__(self, exp: _Expander) -> None:
        self.exp = exp

    # generic (extensions, ilmd) -----------------------------------------
    def generic(self, name: str, value: Any) -> list[str]:
        key = self.exp.key(name)
        if key == RDFS_COMMENT:
            return []
        if isinstance(value, list):
            out: list[str] = []
            for v in value:
                out.extend(self.generic(name, v))
            return out
        if isinstance(value, Mapping) and "@value" not in value:
            children = self.generic_children(value)
            return [key + children]
        text = canonical_value(value)
        return [f"{key}={text}" if text != "" else key]

    def generic_children(self, obj: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
        skip = set(skip)
        parts: list[str] = []
        for k, v in obj.items():
            if k in skip or k.startswith("@"):
                continue
            parts.extend(self.generic(k, v))
        return "".join(sorted(parts))

    # standard structures -----------------------------------------------
    def id_list(self, name: str, values: Any) -> str:
        items = sorted(s for s in (_scalar("epc", v) for v in _as_list(values)) if s)
        return name + "".join(items) if items else ""

    def quantity_list(self, name: str, values: Any) -> str:
        items = []
        for q in _as_list(values):
            if not isinstance(q, Mapping):
                raise EPCISError(f"{name} elements must be objects")
            s = "".join(x for x in (
                _scalar("epcClass", q.get("epcClass")) if "epcClass" in q else "",
                _scalar("quantity", q.get("quantity")) if "quantity" in q else "",
                _scalar("uom", q.get("uom")) if "uom" in q else "",
            ) if x)
            s += self.generic_children(q, skip=("epcClass", "quantity", "uom"))
            if s:
                items.append("quantityElement" + s)
        return name + "".join(sorted(items)) if items else ""

    def typed_list(self, name: str, values: Any, value_key: str, path: str, urn: str) -> str:
        items = []
        for el in _as_list(values):
            if not isinstance(el, Mapping):
                raise EPCISError(f"{name} elements must be objects")
            s = ""
            if el.get("type") is not None:
                s += "type=" + self.exp.term(path, str(el["type"]).strip(), urn)
            if value_key in el:
                s += _scalar(value_key, el[value_key])
            s += self.generic_children(el, skip=("type", value_key))
            if s:
                items.append(s)
        return name + "".join(sorted(items)) if items else ""

    def vocab(self, name: str, value: Any, path: str, urn: str) -> str:
        if value is None or value == "":
            return ""
        if not isinstance(value, str):
            raise EPCISError(f"{name} must be a string")
        return f"{name}={self.exp.term(path, value.strip(), urn)}"

    def location(self, name: str, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            value = {"id": value}
        if not isinstance(value, Mapping):
            raise EPCISError(f"{name} must be an object with an id")
        s = _scalar("id", value.get("id")) if value.get("id") is not None else ""
        s += self.generic_children(value, skip=("id",))
        return name + s if s else ""

    def persistent(self, value: Any) -> str:
        if not isinstance(value, Mapping):
            return ""
        s = ""
        for part in ("set", "unset"):
            items = sorted(f"{part}={self.exp.term('persistentDisposition', str(v).strip(), 'urn:epcglobal:cbv:disp:')}"
                           for v in _as_list(value.get(part)))
            s += "".join(items)
        s += self.generic_children(value, skip=("set", "unset"))
        return "persistentDisposition" + s if s else ""

    def sensor_elements(self, values: Any) -> str:
        elements = []
        for el in _as_list(values):
            if not isinstance(el, Mapping):
                raise EPCISError("sensorElementList elements must be objects")
            s = ""
            md = el.get("sensorMetadata")
            if isinstance(md, Mapping):
                m = ""
                for f in _SENSOR_METADATA:
                    if f in md:
                        m += _scalar(f, md[f], time=f in _TIME_FIELDS)
                m += self.generic_children(md, skip=_SENSOR_METADATA)
                if m:
                    s += "sensorMetadata" + m
            reports = []
            for rep in _as_list(el.get("sensorReport")):
                if not isinstance(rep, Mapping):
                    raise EPCISError("sensorReport elements must be objects")
                r = ""
                for f in _SENSOR_REPORT:
                    if f not in rep or rep[f] is None:
                        continue
                    if f == "type":
                        r += "type=" + self.exp.term("sensorElementList/sensorReport/type",
                                                     str(rep[f]).strip())
                    elif f in ("exception", "component"):
                        r += f"{f}=" + self.exp.term(f"sensorElementList/sensorReport/{f}",
                                                     str(rep[f]).strip())
                    else:
                        r += _scalar(f, rep[f], time=f in _TIME_FIELDS)
                r += self.generic_children(rep, skip=_SENSOR_REPORT)
                if r:
                    reports.append("sensorReport" + r)
            s += "".join(sorted(reports))
            s += self.generic_children(el, skip=("sensorMetadata", "sensorReport"))
            if s:
                elements.append("sensorElement" + s)
        return "sensorElementList" + "".join(sorted(elements)) if elements else ""

    def error_declaration(self, value: Any) -> str:
        if not isinstance(value, Mapping):
            return ""
        s = _scalar("declarationTime", value["declarationTime"], time=True) if "declarationTime" in value else ""
        if value.get("reason"):
            s += "reason=" + self.exp.term("errorDeclaration/reason", str(value["reason"]).strip(),
                                           "urn:epcglobal:cbv:er:")
        ids = sorted(_scalar("correctiveEventID", v) for v in _as_list(value.get("correctiveEventIDs")))
        if ids:
            s += "correctiveEventIDs" + "".join(ids)
        s += self.generic_children(value, skip=("declarationTime", "reason", "correctiveEventIDs"))
        return "errorDeclaration" + s if s else ""

    # the event ------------------------------------------------------------
    def event(self, ev: Mapping[str, Any]) -> str:
        etype = ev.get("type") or ev.get("@type")
        if isinstance(etype, str) and ":" in etype:
            etype = etype.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        if etype not in EVENT_TYPES:
            raise EPCISError(f"unknown or missing event type {etype!r}")
        if "eventTime" not in ev:
            raise EPCISError(f"{etype} has no eventTime")
        out = [f"eventType={etype}"]
        handled = set(_IGNORED)
        for name, kind in _ORDER:
            handled.add(name)
            if name not in ev:
                continue
            v = ev[name]
            if kind == "time":
                out.append(_scalar(name, v, time=True))
            elif kind == "scalar":
                out.append(_scalar(name, v))
            elif kind == "scalars":
                out.append("".join(sorted(_scalar(name, x) for x in _as_list(v))))
            elif kind == "ids":
                out.append(self.id_list(name, v))
            elif kind == "quantities":
                out.append(self.quantity_list(name, v))
            elif kind == "bizStep":
                out.append(self.vocab(name, v, "bizStep", "urn:epcglobal:cbv:bizstep:"))
            elif kind == "disposition":
                out.append(self.vocab(name, v, "disposition", "urn:epcglobal:cbv:disp:"))
            elif kind == "persistent":
                out.append(self.persistent(v))
            elif kind == "location":
                out.append(self.location(name, v))
            elif kind == "bizTransactions":
                out.append(self.typed_list(name, v, "bizTransaction", "bizTransactionList/type",
                                           "urn:epcglobal:cbv:btt:"))
            elif kind == "sources":
                out.append(self.typed_list(name, v, "source", "sourceList/type", "urn:epcglobal:cbv:sdt:"))
            elif kind == "destinations":
                out.append(self.typed_list(name, v, "destination", "destinationList/type",
                                           "urn:epcglobal:cbv:sdt:"))
            elif kind == "sensors":
                out.append(self.sensor_elements(v))
            elif kind == "error":
                out.append(self.error_declaration(v))
            elif kind == "ilmd":
                if isinstance(v, Mapping):
                    children = self.generic_children(v)
                    out.append("ilmd" + children if children else "")
        extensions: list[str] = []
        for k, v in ev.items():
            if k in handled or k.startswith("@"):
                continue
            extensions.extend(self.generic(k, v))
        out.extend(sorted(extensions))
        return "".join(out)


_TIME_FIELDS = frozenset({"time", "startTime", "endTime", "eventTime", "declarationTime"})
_SENSOR_METADATA = ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData",
                    "dataProcessingMethod", "bizRules")
_SENSOR_REPORT = ("type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
                  "time", "microorganism", "chemicalSubstance", "value", "component", "stringValue",
                  "booleanValue", "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue",
                  "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem")
_ORDER: tuple[tuple[str, str], ...] = (
    ("eventTime", "time"),
    ("eventTimeZoneOffset", "scalar"),
    ("certificationInfo", "scalars"),
    ("errorDeclaration", "error"),
    ("epcList", "ids"),
    ("parentID", "scalar"),
    ("inputEPCList", "ids"),
    ("childEPCs", "ids"),
    ("quantityList", "quantities"),
    ("childQuantityList", "quantities"),
    ("inputQuantityList", "quantities"),
    ("outputEPCList", "ids"),
    ("outputQuantityList", "quantities"),
    ("action", "scalar"),
    ("transformationID", "scalar"),
    ("bizStep", "bizStep"),
    ("disposition", "disposition"),
    ("persistentDisposition", "persistent"),
    ("readPoint", "location"),
    ("bizLocation", "location"),
    ("bizTransactionList", "bizTransactions"),
    ("destinationList", "destinations"),
    ("sourceList", "sources"),
    ("sensorElementList", "sensors"),
    ("ilmd", "ilmd"),
)


# ---------------------------------------------------------------- documents

def parse_document(document: Any) -> Any:
    """Accept a dict, JSON text or bytes; return the parsed JSON value."""
    if isinstance(document, (bytes, bytearray)):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EPCISError(f"document is not UTF-8: {exc}") from exc
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise EPCISError(f"document is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(document, Mapping):
        raise EPCISError("an EPCIS document must be a JSON object")
    return document


def extract_events(document: Any) -> tuple[list[Mapping[str, Any]], Any]:
    """Events of an EPCISDocument, EPCISQueryDocument or single event, with the context in force."""
    doc = parse_document(document)
    context = doc.get("@context")
    dtype = doc.get("type") or doc.get("@type")
    if dtype in EVENT_TYPES:
        return [doc], context
    body = doc.get("epcisBody")
    if not isinstance(body, Mapping):
        raise EPCISError("not an EPCIS document: no epcisBody and not a single event")
    if dtype == "EPCISQueryDocument" or "queryResults" in body:
        qr = body.get("queryResults")
        rb = qr.get("resultsBody") if isinstance(qr, Mapping) else None
        events = rb.get("eventList") if isinstance(rb, Mapping) else None
    else:
        if dtype not in (None, "EPCISDocument"):
            raise EPCISError(f"unsupported document type {dtype!r}")
        events = body.get("eventList")
    if events is None:
        raise EPCISError("document has no eventList")
    if not isinstance(events, list):
        raise EPCISError("eventList must be a list")
    for i, ev in enumerate(events):
        if not isinstance(ev, Mapping):
            raise EPCISError(f"event {i} is not an object")
    return events, context


def event_context(context: Any, event: Mapping[str, Any]) -> Any:
    """The context in force for an event: the document's, extended by the event's own ``@context``."""
    if "@context" in event and context is not None and event["@context"] != context:
        return _as_list(context) + _as_list(event["@context"])
    return event.get("@context", context)


def prehash_event(event: Mapping[str, Any], context: Any = None) -> str:
    """Canonical pre-hash string of one event under ``context`` (the document's ``@context``)."""
    return _Builder(_Expander(event_context(context, event))).event(event)


def hash_prehash(prehash: str) -> str:
    return HASH_PREFIX + hashlib.sha256(prehash.encode("utf-8")).hexdigest() + HASH_SUFFIX


def event_hash(event: Mapping[str, Any], context: Any = None) -> str:
    """CBV 2.0 event hash of one event."""
    return hash_prehash(prehash_event(event, context))


def prehashes(document: Any) -> list[str]:
    """Pre-hash strings of every event in ``document``, in document order."""
    events, context = extract_events(document)
    out = []
    cache: dict[str, _Expander] = {}
    for i, ev in enumerate(events):
        ctx = event_context(context, ev)
        key = json.dumps(ctx, sort_keys=True, default=str)
        exp = cache.get(key)
        if exp is None:
            exp = cache[key] = _Expander(ctx)
        try:
            out.append(_Builder(exp).event(ev))
        except EPCISError as exc:
            raise EPCISError(f"event {i}: {exc}") from exc
    return out


def event_hashes(document: Any) -> list[str]:
    """CBV 2.0 event hash (``ni:///sha-256;<hex>?ver=CBV2.0``) of every event, in document order."""
    return [hash_prehash(p) for p in prehashes(document)]


def hash_digest(event_hash_id: str) -> bytes:
    """The 32 raw bytes of an ``ni:///sha-256;...`` event hash (the Merkle leaf data)."""
    if not isinstance(event_hash_id, str) or not event_hash_id.startswith(HASH_PREFIX):
        raise EPCISError(f"not a CBV 2.0 sha-256 event hash: {event_hash_id!r}")
    hexpart = event_hash_id[len(HASH_PREFIX):].split("?", 1)[0]
    try:
        raw = bytes.fromhex(hexpart)
    except ValueError as exc:
        raise EPCISError(f"bad hex in event hash: {exc}") from exc
    if len(raw) != 32:
        raise EPCISError("event hash digest must be 32 bytes")
    return raw


__all__ = [
    "CONTEXT_FILES",
    "EVENT_TYPES",
    "canonical_time",
    "canonical_value",
    "event_context",
    "event_hash",
    "event_hashes",
    "extract_events",
    "hash_digest",
    "hash_prehash",
    "load_context",
    "parse_document",
    "prehash_event",
    "prehashes",
]
