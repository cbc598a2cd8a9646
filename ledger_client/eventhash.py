"""The CBV 2.0 event-hash pre-hash string, computed the way GS1's reference implementation computes it.

Authorities: GS1 CBV 2.0, section "EPCIS event hash ID", and the open-source reference implementation
RalphTro/epcis-event-hash-generator. Where the standard's prose and the reference differ, the reference
wins (hashes must match it). The steps, each named after the reference function it reproduces:

1. ``json_to_py._bare_string_pre_preocessing``: the document is JSON-LD expanded; every expanded
   value that is a CBV or GS1 web-vocabulary URI (``https://ref.gs1.org/cbv...``,
   ``https://gs1.org/voc...``) is collected, and any string anywhere in the document that is the
   unique ``-`` or ``/`` suffix of one of them is replaced by it (``"receiving"`` becomes
   ``https://ref.gs1.org/cbv/BizStep-receiving``). :func:`vocabulary` does the expansion offline.
2. ``json_to_py._collect_namespaces_from_jsonld_context``: prefixes declared in the document's own
   ``@context`` objects name extension keys ``{namespace}local`` and expand prefixed values.
3. ``json_to_py._json_to_py``: the event becomes a tree of (name, text, children); ``rdfs:comment``,
   ``comment`` (at any depth) and the document's ignore-list fields (event level) are left out.
4. ``json_xml_model_mismatch_correction.deep_structure_correction``: ``...List`` children are renamed
   to their element names; source, destination and business-transaction elements keep only their
   first two fields, in document order.
5. ``hash_generator.derive_prehashes_from_events``: ``eventType=`` + the fields in the canonical
   property order (``PROP_ORDER``) + everything else (user extensions, ``ilmd``, the three typed lists)
   as generic ``key=value`` strings, sorted; ``eventID``, ``recordTime``, ``type`` and
   ``errorDeclaration`` are not hashed. Values are trimmed and canonicalised (``_canonize_value``:
   CBV URNs to web URIs, numbers without trailing zeros, GS1 identifiers to constrained canonical
   Digital Links); fields whose name contains ``time`` (but not ``offset``) are UTC timestamps at
   millisecond precision, the microseconds rounded half-to-even.

Where the reference stops with an error, this module decides instead (documented at each place):
timestamps without an offset are read as UTC (the reference uses the machine's local zone), a
rounding that reaches the next second carries into it, a type-less source/destination/business
transaction is hashed with the field it has, and a ``@context`` given as one URL or one object is
read like a one-element list.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from ledger_client.errors import EPCISError
from ledger_client.gs1_canonical import constrained_digital_link

VOCABULARY_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")
TYPED_LISTS = ("sourceList", "destinationList", "bizTransactionList")
NOT_HASHED = ("recordTime", "eventID", "type", "errorDeclaration")
COMMENT_KEYS = ("#text", "rdfs:comment", "comment")

# ---------------------------------------------------------------- 1. JSON-LD expansion (offline)

_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")


@dataclass(frozen=True)
class _Term:
    iri: str | None
    type: str | None = None
    context: Any = None
    prefix: bool = False


class ActiveContext:
    """The subset of a JSON-LD 1.1 active context the event hash needs: terms, prefixes, ``@vocab``.

    Contexts are immutable once built; :meth:`extend` returns a new one and caches it (bounded) by
    what it was built from, so the scoped contexts of the standard vocabulary are built once.
    """

    _uids = itertools.count()

    def __init__(self, terms: dict[str, _Term] | None = None, vocab: str | None = None) -> None:
        self.terms: dict[str, _Term] = terms or {}
        self.vocab = vocab
        self.uid = next(ActiveContext._uids)

    def copy(self) -> ActiveContext:
        return ActiveContext(dict(self.terms), self.vocab)

    # JSON-LD "IRI expansion" (vocab-relative for keys, @type and @vocab-typed values)
    def expand_iri(self, value: str, *, vocab: bool) -> str | None:
        if value.startswith("@"):
            return value
        if vocab and value in self.terms:
            return self.terms[value].iri
        if ":" in value:
            prefix, suffix = value.split(":", 1)
            if prefix == "_" or suffix.startswith("//"):
                return value
            term = self.terms.get(prefix)
            if term is not None and term.prefix and term.iri is not None:
                return term.iri + suffix
            return value  # an absolute IRI
        if vocab:
            return self.vocab + value if self.vocab is not None else None
        return value  # document-relative IRI (no base): kept as written

    def extend(self, local: Any, load: Any) -> ActiveContext:
        """A new context with ``local`` (URL, object or list of them) processed on top of this one.

        ``load(url)`` returns the context value for a URL; it must return the same (cached) object
        every time: objects it returns are treated as immutable.
        """
        if local is None or (isinstance(local, list) and not local):
            return _ROOT if local is None else self
        key = (id(load), self.uid, _local_key(local))
        hit = _EXTENDED.get(key)
        if hit is not None:
            _EXTENDED.move_to_end(key)
            return hit
        ctx: ActiveContext = self
        for item in local if isinstance(local, list) else [local]:
            if item is None:
                ctx = _ROOT
            elif isinstance(item, str):
                loaded = load(item)
                _register_stable(loaded)
                ctx = ctx.extend(loaded, load)
            elif isinstance(item, Mapping):
                ctx = ctx.copy()
                ctx._define_all(item)
        _EXTENDED[key] = ctx
        if len(_EXTENDED) > _EXTENDED_MAX:
            _EXTENDED.popitem(last=False)
        return ctx

    def _define_all(self, local: Mapping[str, Any]) -> None:
        if "@vocab" in local:
            v = local["@vocab"]
            self.vocab = None if v is None else self.expand_iri(str(v), vocab=True) or str(v)
        pending = {k: v for k, v in local.items() if not k.startswith("@")}
        defining: set[str] = set()

        def define(name: str) -> None:
            if name not in pending or name in defining:
                return
            defining.add(name)
            raw = pending.pop(name)
            if isinstance(raw, Mapping):
                iri_raw = raw.get("@id", name)
                dependency = iri_raw.split(":", 1)[0] if isinstance(iri_raw, str) and ":" in iri_raw else None
                if dependency:
                    define(dependency)
                iri = None if iri_raw is None else self.expand_iri(str(iri_raw), vocab=True)
                if iri is None and isinstance(iri_raw, str):
                    iri = iri_raw
                t = raw.get("@type")
                t_exp = t if t in (None, "@id", "@vocab") else self.expand_iri(str(t), vocab=True)
                self.terms[name] = _Term(iri, t_exp, raw.get("@context"), bool(raw.get("@prefix")))
            elif raw is None:
                self.terms[name] = _Term(None)
            else:
                text = str(raw)
                if ":" in text:
                    define(text.split(":", 1)[0])
                iri = self.expand_iri(text, vocab=True) or text
                self.terms[name] = _Term(iri, prefix=iri.endswith(_GEN_DELIMS))
            defining.discard(name)

        for name in list(pending):
            define(name)


_EXTENDED: OrderedDict[tuple[int, int, Any], ActiveContext] = OrderedDict()
_EXTENDED_MAX = 512
_STABLE: set[int] = set()  # ids of context objects returned by a loader (cached, never mutated)
_STABLE_KEEP: list[Any] = []
_ROOT = ActiveContext()


def root_context() -> ActiveContext:
    """The empty active context (one shared instance, so that contexts built on it are cached)."""
    return _ROOT


def _register_stable(obj: Any) -> None:
    if id(obj) in _STABLE:
        return
    _STABLE_KEEP.append(obj)  # keeps the ids valid
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, (dict, list)):
            _STABLE.add(id(o))
            stack.extend(o.values() if isinstance(o, dict) else o)


def _local_key(local: Any) -> Any:
    if isinstance(local, str):
        return ("url", local)
    if id(local) in _STABLE:
        return ("stable", id(local))
    return ("json", json.dumps(local, sort_keys=True, default=str))


def vocabulary(document: Any, context: ActiveContext, load: Any) -> set[str]:
    """The CBV / GS1 web-vocabulary URIs that expanding ``document`` as JSON-LD yields (step 1)."""
    found: set[str] = set()

    def keep(value: Any) -> None:
        if isinstance(value, str) and value.startswith(VOCABULARY_PREFIXES):
            found.add(value)

    def value(item: Any, term: _Term | None, ctx: ActiveContext) -> None:
        if isinstance(item, list):
            for x in item:
                value(x, term, ctx)
        elif isinstance(item, Mapping):
            if "@value" in item:
                keep(item["@value"])
            elif "@list" in item or "@set" in item:
                value(item.get("@list", item.get("@set")), term, ctx)
            else:
                node(item, ctx)
        elif isinstance(item, str):
            if term is not None and term.type == "@vocab":
                keep(ctx.expand_iri(item, vocab=True))
            elif term is not None and term.type == "@id":
                keep(ctx.expand_iri(item, vocab=False))
            else:
                keep(item)

    def node(obj: Mapping[str, Any], ctx: ActiveContext) -> None:
        if "@context" in obj:
            ctx = ctx.extend(obj["@context"], load)
        for key, item in obj.items():
            if key == "@context":
                continue
            term = ctx.terms.get(key)
            iri = term.iri if term is not None else ctx.expand_iri(key, vocab=True)
            if iri is None:
                continue  # an undefined term: JSON-LD expansion drops it with everything below it
            if iri == "@type":
                for t in item if isinstance(item, list) else [item]:
                    if isinstance(t, str):
                        keep(ctx.expand_iri(t, vocab=True))
            elif iri == "@id":
                if isinstance(item, str):
                    keep(ctx.expand_iri(item, vocab=False))
            elif iri.startswith("@"):
                value(item, None, ctx)
            else:
                inner = ctx.extend(term.context, load) if term is not None and term.context is not None else ctx
                value(item, term, inner)

    if isinstance(document, Mapping):
        node(document, context)
    elif isinstance(document, list):
        for d in document:
            if isinstance(d, Mapping):
                node(d, context)
    return found


def unresolved_terms(events: Iterable[Any], context: ActiveContext, load: Any) -> list[str]:
    """Keys, types and vocabulary values of ``events`` that ``context`` does not define.

    Used when a document names a context that is not bundled: it is safe to hash such a document only
    if every term resolves without that context (comment fields, never hashed, are not checked).
    """
    missing: list[str] = []

    def note(what: str) -> None:
        if what not in missing:
            missing.append(what)

    def resolves(value: str, ctx: ActiveContext) -> bool:
        if value in ctx.terms:
            return ctx.terms[value].iri is not None
        if ":" in value:  # a compact IRI needs a known prefix; an absolute IRI resolves by itself
            prefix, suffix = value.split(":", 1)
            term = ctx.terms.get(prefix)
            return suffix.startswith("//") or prefix == "urn" or (term is not None and term.prefix)
        return ctx.vocab is not None

    def value(key: str, item: Any, term: _Term | None, ctx: ActiveContext) -> None:
        if isinstance(item, list):
            for x in item:
                value(key, x, term, ctx)
        elif isinstance(item, Mapping):
            if "@value" not in item:
                node(item, ctx)
        elif isinstance(item, str) and term is not None and term.type == "@vocab" and not resolves(item, ctx):
            note(f"{key}: {item}")

    def node(obj: Mapping[str, Any], ctx: ActiveContext) -> None:
        if "@context" in obj:
            ctx = ctx.extend(obj["@context"], load)
        for key, item in obj.items():
            if key == "@context" or key in COMMENT_KEYS:
                continue
            term = ctx.terms.get(key)
            iri = term.iri if term is not None else ctx.expand_iri(key, vocab=True)
            if iri is None or not (key.startswith("@") or resolves(key, ctx)):
                note(key)
            elif iri == "@type":
                for t in item if isinstance(item, list) else [item]:
                    if isinstance(t, str) and not resolves(t, ctx):
                        note(f"{key}: {t}")
            elif not iri.startswith("@"):
                inner = ctx.extend(term.context, load) if term is not None and term.context is not None else ctx
                value(key, item, term, inner)

    for ev in events:
        if isinstance(ev, Mapping):
            node(ev, context)
    return missing


class BareStrings:
    """Replaces bare strings by the vocabulary URI they are the unique ``-``/``/`` suffix of."""

    def __init__(self, vocab: Iterable[str]) -> None:
        self.vocab = frozenset(vocab)
        self._by_suffix: dict[str, set[str]] = {}
        for uri in self.vocab:
            for i, ch in enumerate(uri):
                if ch in "-/":
                    self._by_suffix.setdefault(uri[i + 1:], set()).add(uri)

    def replace(self, value: Any) -> Any:
        """A copy of ``value`` with every replaceable string replaced (dictionary keys untouched)."""
        if isinstance(value, str):
            hits = self._by_suffix.get(value)
            return next(iter(hits)) if hits is not None and len(hits) == 1 else value
        if isinstance(value, list):
            return [self.replace(v) for v in value]
        if isinstance(value, Mapping):
            return {k: self.replace(v) for k, v in value.items()}
        return value


# ---------------------------------------------------------------- 2. namespaces

def namespaces(context: Any) -> dict[str, str]:
    """Prefix -> ``{namespace}`` from the document's ``@context`` (the reference reads only its objects)."""
    out: dict[str, str] = {}
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, str):
            out[item] = "{" + item + "}"
        elif isinstance(item, Mapping):
            for k, v in item.items():
                if isinstance(v, str):
                    out[k] = "{" + v + "}"
                elif isinstance(v, Mapping) and isinstance(v.get("@id"), str):
                    # the reference stops on a term definition object; its @id is what it names
                    out[k] = "{" + v["@id"] + "}"
    return out


def _ns_key(text: str, ns: Mapping[str, str]) -> str:
    prefix, sep, rest = text.partition(":")
    return ns[prefix] + rest if sep and prefix in ns else text


def _ns_value(text: str, ns: Mapping[str, str]) -> str:
    prefix, sep, rest = text.partition(":")
    return ns[prefix].replace("{", "").replace("}", "") + rest if sep and prefix in ns else text


# ---------------------------------------------------------------- 3./4. the event tree

Node = tuple  # (name, text, children): the reference's "simple python object" for one JSON member


class Group(tuple):
    """The first fields of one source, destination or business transaction (hashed in document order)."""

    __slots__ = ()


_UNSORTED_KEYS = ("bizTransaction", "source", "destination")


def to_tree(obj: Any, ns: dict[str, str], ignore: Sequence[str] = ()) -> Node:
    """JSON value -> tree, as ``json_to_py._json_to_py`` builds it (children sorted, with exceptions)."""
    if isinstance(obj, list):
        node = ("", "", [to_tree(c, ns) for c in obj])
        if not any(k in obj for k in _UNSORTED_KEYS):
            node[2].sort()
        return node
    if isinstance(obj, Mapping):
        name = obj["type"] if "type" in obj else ""
        text = obj["#text"] if "#text" in obj else ""
        children: list[Any] = []
        skip = set(COMMENT_KEYS) | set(ignore)
        for key, val in obj.items():
            if key in skip:
                continue
            if key.startswith("@xmlns"):
                ns[key[7:]] = "{" + str(val) + "}"
                name = _ns_key(name, ns) if isinstance(name, str) else name
                continue
            child = to_tree(val, ns)
            k = _ns_key(key, ns)
            if isinstance(val, list):
                children.extend((k, e[1], e[2]) for e in child[2])
            else:
                children.append((k, child[1], child[2]))
        node = (name, text, children)
        if not any(k in obj for k in _UNSORTED_KEYS):
            node[2].sort()
        return node
    text = _ns_value(obj, ns) if isinstance(obj, str) else _py_str(obj)
    return ("", text, [])


def _py_str(value: Any) -> str:
    """``str()`` of a JSON scalar as Python prints it (``True``, ``None``, ``26.0``), like the reference."""
    return str(value)


def correct_structure(node: Node) -> Node:
    """``deep_structure_correction``: JSON shapes renamed to the XML element structure."""
    kids: list[Any] = node[2]
    lists: dict[str, list[Node]] = {}
    for el in [e for e in kids if not isinstance(e, Group) and isinstance(e[0], str) and e[0].endswith("List")]:
        lists.setdefault(el[0], []).append((el[0][:-4], el[1], el[2]))
        kids.remove(el)
    for list_name, elements in lists.items():
        if list_name in TYPED_LISTS:
            groups: list[Any] = []
            for e in elements:
                if not e[2]:
                    raise EPCISError(f"{list_name} elements must be objects with the identifier field")
                # The reference keeps the element's first two fields (in document order) and raises on
                # an element with one field; a type-less element is hashed with the field it has.
                groups.append(Group(e[2][:2]))
            kids.append((list_name, "", groups))
        else:
            kids.append((list_name, "", list(elements)))
    child_epcs: list[Node] = []
    for el in [e for e in kids if not isinstance(e, Group) and e[0] == "childEPCs"]:
        child_epcs.append(("epc", el[1], []))
        kids.remove(el)
    if child_epcs:
        kids.append(("childEPCs", "", child_epcs))
    corrected = [el if (isinstance(el, Group) or el[0] in TYPED_LISTS) else correct_structure(el) for el in kids]
    name, text = node[0], node[1]
    if name in ("inputEPC", "outputEPC"):
        return ("epc", text, corrected)
    if name in ("inputQuantity", "outputQuantity", "childQuantity") or (name == "quantity" and corrected):
        return ("quantityElement", text, corrected)
    return (name, text, corrected)


# ---------------------------------------------------------------- 5. the pre-hash string

_QUANTITY = (("epcClass", None), ("quantity", None), ("uom", None))
_OPAQUE = (("\x00", None),)  # the reference's order for the typed lists matches none of their children
Order = Sequence[tuple[str, Any]]
PROP_ORDER: Order = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", (("epc", None),)),
    ("inputEPCList", (("epc", None),)),
    ("childEPCs", (("epc", None),)),
    ("quantityList", (("quantityElement", _QUANTITY),)),
    ("childQuantityList", (("quantityElement", _QUANTITY),)),
    ("inputQuantityList", (("quantityElement", _QUANTITY),)),
    ("outputEPCList", (("epc", None),)),
    ("outputQuantityList", (("quantityElement", _QUANTITY),)),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)),
    ("bizLocation", (("id", None),)),
    ("bizTransactionList", _OPAQUE),
    ("sourceList", _OPAQUE),
    ("destinationList", _OPAQUE),
    ("sensorElementList", (("sensorElement", (
        ("sensorMetadata", (("time", None), ("startTime", None), ("endTime", None), ("deviceID", None),
                            ("deviceMetadata", None), ("rawData", None), ("dataProcessingMethod", None),
                            ("bizRules", None))),
        ("sensorReport", (("type", None), ("exception", None), ("deviceID", None), ("deviceMetadata", None),
                          ("rawData", None), ("dataProcessingMethod", None), ("time", None),
                          ("microorganism", None), ("chemicalSubstance", None), ("value", None),
                          ("component", None), ("stringValue", None), ("booleanValue", None),
                          ("hexBinaryValue", None), ("uriValue", None), ("minValue", None), ("maxValue", None),
                          ("meanValue", None), ("sDev", None), ("percRank", None), ("percValue", None),
                          ("uom", None), ("coordinateReferenceSystem", None))),
    )),)),
)


_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
                 r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$")


@lru_cache(maxsize=65536)
def utc_millis(text: str) -> str:
    """``_fix_time_stamp_format``: UTC, millisecond precision, ``Z``.

    The fraction is read to microseconds (digits past the sixth are dropped) and rounded to
    milliseconds half-to-even, as ``round(microsecond, -3)`` does. Text that is not an ISO 8601
    timestamp is returned unchanged.
    """
    m = _TS.match(text)
    if not m:
        return text
    y, mo, d, h, mi, s, frac, tz = m.groups()
    if tz is None or tz in ("Z", "z"):
        offset = timedelta(0)  # no offset: read as UTC (the reference would use the local zone)
    else:
        digits = tz[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
        offset = timedelta(minutes=minutes) * (1 if tz[0] == "+" else -1)
    try:
        dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                      int((frac or "").ljust(6, "0")[:6]), tzinfo=timezone(offset)).astimezone(UTC)
    except (ValueError, OverflowError):
        return text
    q, r = divmod(dt.microsecond, 1000)
    if r > 500 or (r == 500 and q % 2 == 1):
        q += 1
    dt = dt.replace(microsecond=0) + timedelta(milliseconds=q)  # 1000 ms carries into the next second
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_CBV_URNS = (("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
             ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
             ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
             ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
             ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"))


def canonical_number(text: str) -> str:
    """``_try_format_numeric``: a number without trailing zeros or '+'; anything else unchanged."""
    try:
        number = float(text)
        if math.isnan(number) or math.isinf(number):
            return text
        return str(int(number)) if int(number) == number else str(number)
    except ValueError:
        return text


@lru_cache(maxsize=65536)
def canonical_value(text: str) -> str:
    """``_canonize_value``: CBV URNs to web URIs, numbers, GS1 identifiers to constrained Digital Links."""
    for urn, web in _CBV_URNS:
        text = text.replace(urn, web)
    text = canonical_number(text)
    return constrained_digital_link(text) or text


def _is_node(x: Any) -> bool:
    return not isinstance(x, Group)


def _user_extensions(children: list[Any]) -> list[Node]:
    """``_gather_user_extensions``: namespaced extensions of a structure (not of the event itself)."""
    if len(children) <= 1:
        return []
    for c in children:
        if _is_node(c) and isinstance(c[0], str) and ("eventTime" in c[0] or "action" in c[0]):
            return []
    found = [c for c in children if _is_node(c) and isinstance(c[0], str) and "{" in c[0] and "/}" in c[0]]
    for c in found:
        children.remove(c)
    return found


def _child(child: Node, order: Order | None) -> str:
    """``_child_to_pre_hash_string``."""
    grand = _ordered(child[2], order) if order else ""
    text = ""
    if child[1]:
        text = child[1].strip()
        name = child[0].lower()
        text = utc_millis(text) if "time" in name and "offset" not in name else canonical_value(text)
        if text:
            text = "=" + text
    return child[0] + text + grand if (text or grand) else ""


def _ordered(children: list[Any], order: Order) -> str:
    """``_recurse_through_children_in_order``: consumes what it hashes from ``children``."""
    pre = ""
    extensions = _user_extensions(children)
    by_name: dict[Any, list[Node]] = {}
    for c in children:
        if not isinstance(c, Group):
            by_name.setdefault(c[0], []).append(c)
    for name, sub in order:
        values = []
        for child in by_name.get(name, ()):
            s = _child(child, sub)
            if s:
                values.append(s)
            if not child[2]:
                children.remove(child)
        values.sort()
        if "".join(values):
            pre = "".join([pre, *values]) if pre else "".join(values)
    if extensions:
        pre += _generic(extensions)
    return pre


def _generic(children: Sequence[Any]) -> str:
    """``_generic_child_list_to_prehash_string``: ``key=value`` strings, sorted unless typed-list fields."""
    values = []
    for child in children:
        if isinstance(child, Group):
            values.append(_generic(list(child)))
            continue
        text = child[1].strip()
        if text:
            text = "=" + canonical_value(text)
        values.append(child[0] + text + _generic(child[2]))
    if len(children) > 1 and not any(_is_node(c) and c[0] in _UNSORTED_KEYS for c in children):
        values.sort()
    return "".join(values)


def prehash_tree(event: Node) -> str:
    """``eventType=...`` followed by the ordered fields and then everything else."""
    children = event[2]
    ordered = _ordered(children, PROP_ORDER)
    rest = [c for c in children if not (_is_node(c) and c[0] in NOT_HASHED)]
    return f"eventType={event[0]}" + ordered + (_generic(rest) if rest else "")


def iter_strings(value: Any) -> Iterator[str]:
    """Every string value (not key) in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from iter_strings(v)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from iter_strings(v)


__all__ = [
    "ActiveContext",
    "BareStrings",
    "NOT_HASHED",
    "PROP_ORDER",
    "canonical_number",
    "canonical_value",
    "correct_structure",
    "namespaces",
    "prehash_tree",
    "root_context",
    "to_tree",
    "unresolved_terms",
    "utc_millis",
    "vocabulary",
]
