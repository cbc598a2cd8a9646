"""GS1 CBV 2.0 EPCIS event hash (``ni:///sha-256;<hex>?ver=CBV2.0``) for EPCIS 2.0 JSON/JSON-LD documents.

    doc = hash_document(raw_bytes)          # validates, resolves contexts offline, hashes every event
    doc.hashes[i], doc.prehashes[i]         # the event hash and the exact string that was hashed
    doc.warnings                            # e.g. an unknown @context URL that was not needed
    doc.standalone(i)                       # a one-event document that hashes to doc.hashes[i]

The pre-hash string follows GS1's reference implementation exactly (see :mod:`ledger_client.eventhash`
for the algorithm and :mod:`ledger_client.gs1_canonical` for identifiers). Documents may be an
``EPCISDocument``, an ``EPCISQueryDocument`` or a single event object carrying its own ``@context``.

Contexts are never fetched: the contexts GS1 publishes for EPCIS 2.0 are bundled
(``ledger_client/contexts``). GS1's "simple" context is an abbreviated spelling of the same vocabulary,
so its terms are resolved through the full 2.0.0 definitions: an event hashes the same whichever of
GS1's contexts its document names. A document naming any *other* context URL is accepted when every
term its events use resolves through the standard EPCIS/CBV vocabulary (plus the document's own inline
context objects); the result then carries a warning naming that URL. With ``strict_context=True`` an
unknown context URL is refused.

GS1's early simple-context examples write ``isA`` for ``type``: it is read as ``type`` wherever an object
has no ``type``. A master-data-only document (``vocabularyList``, no events) is accepted with no events.

A document may list fields to leave out of the hash with a namespaced ``<prefix>:ignoreFields`` array
at document level (or at ``queryResults`` level in a query document); the reference honours the key in
the ``https://repository-x.example.com/`` namespace, this module honours it in any namespace.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ledger_client import eventhash
from ledger_client.errors import EPCISError

HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)

DEFAULT_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SIMPLE_CONTEXT = "https://gs1.github.io/EPCIS/epcis-context-simple.jsonld"
# Context URL -> bundled copy (the machines running Chasqui cannot fetch them).
CONTEXT_FILES = {
    DEFAULT_CONTEXT: "epcis-context-2.0.0.jsonld",
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld": "epcis-context-2.0.0.jsonld",
    "https://gs1.github.io/EPCIS/epcis-context.jsonld": "epcis-context-gs1-github.jsonld",
    SIMPLE_CONTEXT: "epcis-context-simple.jsonld",
    # where the simple context was first published; GS1's early examples still name it
    "https://vladimiralexiev.github.io/EPCIS/epcis-context-simple.jsonld": "epcis-context-simple.jsonld",
}
# The context whose term definitions the hash uses for each bundled URL (see module docstring).
_HASH_CONTEXT_FILES = {url: ("epcis-context-2.0.0.jsonld" if name == "epcis-context-simple.jsonld" else name)
                       for url, name in CONTEXT_FILES.items()}
IGNORE_FIELDS = "ignoreFields"
# Document-level key of a standalone event document: the vocabulary URIs of the document the event came
# from, so that the event's bare strings resolve exactly as they did there.
VOCABULARY_KEY = "https://chasqui.pe/ns/epcis#vocabulary"


# ---------------------------------------------------------------- contexts

def _context_url(url: str) -> str:
    u = url.strip()
    return "https://" + u[len("http://"):] if u.startswith("http://") else u


def is_known_context(url: str) -> bool:
    """True for the context URLs whose copies are bundled."""
    return _context_url(url) in CONTEXT_FILES


@lru_cache(maxsize=8)
def _context_file(name: str) -> Any:
    text = resources.files("ledger_client").joinpath("contexts", name).read_text(encoding="utf-8")
    return json.loads(text)["@context"]


def load_context(url: str) -> dict[str, Any]:
    """The ``@context`` object of a bundled EPCIS context URL."""
    name = CONTEXT_FILES.get(_context_url(url))
    if name is None:
        raise EPCISError(f"JSON-LD context {url!r} is not available offline "
                         f"(bundled: {', '.join(sorted(CONTEXT_FILES))})")
    ctx = _context_file(name)
    if not isinstance(ctx, dict):
        raise EPCISError(f"context {url} is not a JSON-LD context object")
    return ctx


def _hash_context(url: str) -> Any:
    """Term definitions used for hashing: the bundled copy, or the standard vocabulary for other URLs."""
    return _context_file(_HASH_CONTEXT_FILES.get(_context_url(url), CONTEXT_FILES[DEFAULT_CONTEXT]))


@lru_cache(maxsize=1)
def _standard() -> eventhash.ActiveContext:
    return eventhash.root_context().extend(DEFAULT_CONTEXT, _hash_context)


# ---------------------------------------------------------------- documents

def parse_document(document: Any) -> Any:
    """Accept a dict, JSON text or bytes; return the parsed JSON object."""
    if isinstance(document, (bytes, bytearray)):
        try:
            document = bytes(document).decode("utf-8")
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


TYPE_ALIAS = "isA"  # the spelling of "type" in GS1's early examples for the simple context
DOCUMENT_TYPES = ("EPCISDocument", "EPCISQueryDocument", "EPCISMasterDataDocument")


def _local_type(value: Any) -> str | None:
    if isinstance(value, str) and ":" in value:
        value = value.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return value if isinstance(value, str) else None


def event_type(ev: Mapping[str, Any]) -> str | None:
    """The event's type name (``ObjectEvent``...), whether written ``type``, ``@type`` or ``isA``."""
    return _local_type(ev.get("type") or ev.get("@type") or ev.get(TYPE_ALIAS))


_event_type = event_type


def _unalias(value: Any) -> Any:
    """``isA`` read as ``type`` wherever an object has no ``type`` (GS1's simple-context examples)."""
    if isinstance(value, list):
        return [_unalias(v) for v in value]
    if isinstance(value, Mapping):
        rename = TYPE_ALIAS in value and "type" not in value
        return {("type" if rename and k == TYPE_ALIAS else k): _unalias(v) for k, v in value.items()}
    return value


def _layout(doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any], str]:
    """(working document, its event list, where the ignore list may sit: "document" or "query")."""
    if _event_type(doc) in EVENT_TYPES and "epcisBody" not in doc:
        event = {k: v for k, v in doc.items() if k != "@context"}
        work: dict[str, Any] = {"epcisBody": {"eventList": [event]}}
        if "@context" in doc:
            work = {"@context": doc["@context"], **work}
        return work, [event], "document"
    body = doc.get("epcisBody")
    if not isinstance(body, Mapping):
        raise EPCISError("not an EPCIS document: no epcisBody and not a single event")
    dtype = _local_type(doc.get("type") or doc.get("@type") or doc.get(TYPE_ALIAS))
    if "queryResults" in body:
        qr = body.get("queryResults")
        rb = qr.get("resultsBody") if isinstance(qr, Mapping) else None
        events = rb.get("eventList") if isinstance(rb, Mapping) else None
        where = "query"
    else:
        if dtype not in (None, *DOCUMENT_TYPES):
            raise EPCISError(f"unsupported document type {dtype!r}")
        events = body.get("eventList")
        if events is None and isinstance(body.get("event"), Mapping):
            events = [body["event"]]
        if events is None and isinstance(body.get("vocabularyList"), list):
            events = []  # master data only
        where = "document"
    if events is None:
        raise EPCISError("document has no eventList")
    if not isinstance(events, list):
        raise EPCISError("eventList must be a list")
    return dict(doc), events, where


def extract_events(document: Any) -> tuple[list[Mapping[str, Any]], Any]:
    """Events of an EPCISDocument, EPCISQueryDocument or single event, with the document's ``@context``."""
    doc = parse_document(document)
    if _event_type(doc) in EVENT_TYPES and "epcisBody" not in doc:
        return [doc], doc.get("@context")
    _, events, _ = _layout(doc)
    for i, ev in enumerate(events):
        if not isinstance(ev, Mapping):
            raise EPCISError(f"event {i} is not an object")
    return events, doc.get("@context")


def event_context(context: Any, event: Mapping[str, Any]) -> Any:
    """The context in force for an event: the document's, extended by the event's own ``@context``."""
    if "@context" in event and context is not None and event["@context"] != context:
        return _as_list(context) + _as_list(event["@context"])
    return event.get("@context", context)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _validate_event(i: int, ev: Any) -> None:
    if not isinstance(ev, Mapping):
        raise EPCISError(f"event {i} is not an object")
    etype = _event_type(ev)
    if etype not in EVENT_TYPES:
        raise EPCISError(f"event {i}: unknown or missing event type {ev.get('type')!r}")
    if "eventTime" not in ev:
        raise EPCISError(f"event {i}: {etype} has no eventTime")


def _is_ignore_key(key: str, ns: Mapping[str, str]) -> bool:
    if not key.endswith(IGNORE_FIELDS) or key == IGNORE_FIELDS:
        return False
    head = key[: -len(IGNORE_FIELDS)]
    if head.endswith(":") and head[:-1] in ns:
        return True  # prefix:ignoreFields with a declared prefix
    return "://" in head and head.endswith(("/", "#"))  # a full IRI


def _ignore_list(doc: Mapping[str, Any], where: str, ns: Mapping[str, str]) -> tuple[str | None, list[str]]:
    holder: Any = doc
    if where == "query":
        holder = doc["epcisBody"]["queryResults"]
    key: str | None = None
    fields: list[str] = []
    for k, v in holder.items() if isinstance(holder, Mapping) else ():
        if isinstance(k, str) and _is_ignore_key(k, ns):
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise EPCISError(f"{k} must be a list of field names")
            key = key or k
            fields.extend(x for x in v if x not in fields)
    return key, fields


def _unknown_contexts(context: Any, events: Sequence[Any]) -> list[str]:
    urls: list[str] = []
    for item in _as_list(context) + [c for ev in events if isinstance(ev, Mapping)
                                     for c in _as_list(ev.get("@context"))]:
        if isinstance(item, str) and not is_known_context(item) and item not in urls:
            urls.append(item)
    return urls


@dataclass(frozen=True)
class HashedDocument:
    """A validated EPCIS document with the CBV 2.0 hash and pre-hash string of every event."""

    events: tuple[Mapping[str, Any], ...]
    context: Any
    prehashes: tuple[str, ...]
    hashes: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    ignored_fields: tuple[str, ...] = ()
    ignore_key: str | None = None
    vocabulary: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.events)

    def standalone(self, index: int) -> dict[str, Any]:
        """A one-event EPCISDocument that hashes to ``hashes[index]`` (for storing events one by one).

        It keeps the document's context and ignore list, and the vocabulary URIs the whole document
        resolved bare strings against (the reference resolves them document-wide). A copy: the caller may
        change it.
        """
        return copy.deepcopy(self._standalone(index))

    def standalone_json(self, index: int) -> str:
        """:meth:`standalone` as compact JSON (what the trace store keeps per event), built without copying."""
        return json.dumps(self._standalone(index), ensure_ascii=False, separators=(",", ":"))

    def _standalone(self, index: int) -> dict[str, Any]:
        """:meth:`standalone`'s document sharing this document's objects (read it, never change it)."""
        doc: dict[str, Any] = {}
        if self.context is not None:
            doc["@context"] = self.context
        doc["type"] = "EPCISDocument"
        doc["schemaVersion"] = "2.0"
        if self.ignored_fields:
            doc[self.ignore_key or f"https://chasqui.pe/ns/epcis#{IGNORE_FIELDS}"] = list(self.ignored_fields)
        if self.vocabulary:
            doc[VOCABULARY_KEY] = list(self.vocabulary)
        doc["epcisBody"] = {"eventList": [dict(self.events[index])]}
        return doc


def hash_document(document: Any, *, strict_context: bool = False) -> HashedDocument:
    """Validate ``document`` and compute every event's CBV 2.0 hash; raises :class:`EPCISError`."""
    doc = parse_document(document)
    original = _layout(doc)[1]
    work, events, where = _layout(_unalias(doc))
    for i, ev in enumerate(events):
        _validate_event(i, ev)
    context = work.get("@context")
    warnings: list[str] = []
    if not events:
        warnings.append("the document holds no events (master data only)")
    unknown = _unknown_contexts(context, events)
    if unknown and strict_context:
        raise EPCISError(f"JSON-LD context {unknown[0]!r} is not available offline (strict context mode; "
                         f"bundled: {', '.join(sorted(CONTEXT_FILES))})")
    base = eventhash.root_context() if context is not None else _standard()
    if unknown or context is None:
        scope = base.extend(context, _hash_context) if context is not None else base
        missing = eventhash.unresolved_terms(events, scope, _hash_context)
        named = ", ".join(unknown) if unknown else "no @context"
        if missing:
            raise EPCISError(f"JSON-LD context {named} is not available offline and the document uses terms the "
                             f"standard EPCIS/CBV vocabulary does not define: {', '.join(missing[:10])}")
        for url in unknown:
            warnings.append(f"JSON-LD context {url} is not bundled and was not fetched; every term the "
                            "document uses resolved through the standard EPCIS 2.0 / CBV vocabulary")
        if context is None:
            warnings.append("the document names no @context; the standard EPCIS 2.0 context was assumed")
    try:
        vocab = eventhash.vocabulary(work, base, _hash_context)
        replaced = eventhash.BareStrings(vocab).replace(work)
        ns = eventhash.namespaces(replaced.get("@context"))
        ignore_key, ignored = _ignore_list(replaced, where, ns)
        _, replaced_events, _ = _layout(replaced)
    except RecursionError as exc:
        raise EPCISError("document is nested too deeply to hash") from exc
    prehash_list: list[str] = []
    for i, ev in enumerate(replaced_events):
        try:
            tree = eventhash.correct_structure(eventhash.to_tree(ev, ns, ignored))
            prehash_list.append(eventhash.prehash_tree(tree))
        except EPCISError as exc:
            raise EPCISError(f"event {i}: {exc}") from exc
        except (TypeError, AttributeError, IndexError, ValueError, RecursionError) as exc:
            raise EPCISError(f"event {i} cannot be hashed: {exc}") from exc
    return HashedDocument(
        events=tuple(original), context=context, prehashes=tuple(prehash_list),
        hashes=tuple(hash_prehash(p) for p in prehash_list), warnings=tuple(warnings),
        ignored_fields=tuple(ignored), ignore_key=ignore_key, vocabulary=tuple(sorted(vocab)))


def prehashes(document: Any, *, strict_context: bool = False) -> list[str]:
    """Pre-hash strings of every event in ``document``, in document order (the exact hashed text)."""
    return list(hash_document(document, strict_context=strict_context).prehashes)


def event_hashes(document: Any, *, strict_context: bool = False) -> list[str]:
    """CBV 2.0 event hash (``ni:///sha-256;<hex>?ver=CBV2.0``) of every event, in document order."""
    return list(hash_document(document, strict_context=strict_context).hashes)


def _single(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    ctx = event_context(context, event)
    doc = {k: v for k, v in event.items() if k != "@context"}
    return {"@context": ctx, **doc} if ctx is not None else doc


def prehash_event(event: Mapping[str, Any], context: Any = None) -> str:
    """Pre-hash string of one event under ``context`` (its document's ``@context``)."""
    return hash_document(_single(event, context)).prehashes[0]


def event_hash(event: Mapping[str, Any], context: Any = None) -> str:
    """CBV 2.0 event hash of one event under ``context``."""
    return hash_prehash(prehash_event(event, context))


def hash_prehash(prehash: str) -> str:
    return HASH_PREFIX + hashlib.sha256(prehash.encode("utf-8")).hexdigest() + HASH_SUFFIX


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


# ---------------------------------------------------------------- value helpers (used outside hashing)

def canonical_time(value: str) -> str:
    """UTC at millisecond precision with ``Z`` (as the event hash writes timestamps)."""
    return eventhash.utc_millis(value.strip())


def canonical_value(value: Any) -> str:
    """Canonical text of a scalar value as the event hash writes it (CBV URNs, numbers, identifiers)."""
    if isinstance(value, Mapping) and "@value" in value:
        value = value["@value"]
    text = value.strip() if isinstance(value, str) else str(value)
    return eventhash.canonical_value(text)


__all__ = [
    "CONTEXT_FILES",
    "DEFAULT_CONTEXT",
    "EVENT_TYPES",
    "EPCISError",
    "HashedDocument",
    "SIMPLE_CONTEXT",
    "canonical_time",
    "canonical_value",
    "event_context",
    "event_hash",
    "event_hashes",
    "event_type",
    "extract_events",
    "hash_digest",
    "hash_document",
    "hash_prehash",
    "is_known_context",
    "load_context",
    "parse_document",
    "prehash_event",
    "prehashes",
]
