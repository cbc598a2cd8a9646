"""Who may see what: roles → pages, and the access decision for a page or a Dash callback (no Dash, no Flask).

Callback access is decided from the *owners* map that ``app.py`` hands over: output id → ``OutputOwner``,
returned by each callbacks module's ``register`` (``callbacks.register_all``). No decision depends on how an
id is spelled; an output that no page owns is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OutputOwner:
    page: str | None          # route path that owns the output ("/logistics"); None = the shell (any visitor)
    action: str | None = None  # an action needing more than seeing the page ("data-import", "trace-export")


# --------------------------------------------------------------------------- roles and pages

ROLES = ("logistics", "marketing", "executive", "traceability-admin")
PAGES = ("/", "/logistics", "/segments", "/scenarios", "/sourcing", "/traceability", "/demand", "/data")
ROLE_PAGES: dict[str, frozenset[str]] = {
    "executive": frozenset(PAGES),
    "logistics": frozenset({"/", "/logistics", "/scenarios", "/sourcing", "/traceability", "/demand", "/data"}),
    "marketing": frozenset({"/", "/segments", "/sourcing"}),
    "traceability-admin": frozenset({"/", "/traceability", "/data"}),
}
# Actions inside a page that need more than seeing the page: which roles may perform them.
ACTION_ROLES: dict[str, frozenset[str]] = {
    "data-import": frozenset({"executive", "logistics"}),  # replaces the orders table
    "trace-export": frozenset({"executive", "traceability-admin"}),  # mock-recall exports
    # the recall view of a lot (customers, quantities, pallets, shipment documents) on the public lookup
    "trace-recall": frozenset({"executive", "traceability-admin"}),
}


@dataclass(frozen=True)
class User:
    name: str
    roles: frozenset[str]
    password_hash: str

    def pages(self) -> frozenset[str]:
        out: set[str] = set()
        for role in self.roles:
            out |= ROLE_PAGES[role]
        return frozenset(out)



# --------------------------------------------------------------------------- access decisions


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int = 200  # 401 sign in, 403 forbidden, 400 malformed
    reason: str = ""


ALLOW = Decision(True)
SIGN_IN = Decision(False, 401, "sign-in required")


def normalize_page(path: str, prefix: str = "/") -> str:
    """A request path (under the app's URL prefix) → the page path it shows (``/logistics/`` → ``/logistics``)."""
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix):]
    path = "/" + path.strip("/")
    return path


def page_access(user: User | None, page: str, public_pages: Iterable[str], auth_enabled: bool) -> Decision:
    """May ``user`` (None = anonymous) see ``page``?"""
    if not auth_enabled or page in set(public_pages):
        return ALLOW
    if user is None:
        return SIGN_IN
    if page in PAGES and page not in user.pages():
        return Decision(False, 403, f"user {user.name!r} (roles: {', '.join(sorted(user.roles))}) "
                                    f"may not open {page}")
    return ALLOW


def shell_access(user: User | None, public_pages: Iterable[str], auth_enabled: bool) -> Decision:
    """The shell (navbar, language, theme): any visitor allowed to see some page."""
    if not auth_enabled or user is not None and user.pages() or user is None and any(True for _ in public_pages):
        return ALLOW
    return SIGN_IN if user is None else Decision(False, 403, f"user {user.name!r} may not open any page")


def action_access(user: User | None, action: str) -> Decision:
    """May ``user`` perform ``action`` (see ACTION_ROLES)? An action nobody declared is refused."""
    allowed = ACTION_ROLES.get(action)
    if allowed is None:
        return Decision(False, 403, f"unknown action {action!r}")
    if user is None:
        return SIGN_IN
    if not (user.roles & allowed):
        return Decision(False, 403, f"user {user.name!r} may not perform {action}")
    return ALLOW


def may_perform(user: User | None, action: str, auth_enabled: bool) -> bool:
    """Does ``user`` (None = anonymous) hold a role for ``action``? With sign-in off, every visitor does
    (there is no one to tell apart); an action nobody declared is refused."""
    if action not in ACTION_ROLES:
        return False
    return not auth_enabled or action_access(user, action).allowed


def public_path(path: str, prefix: str, exact: Iterable[str], folders: Iterable[str]) -> bool:
    """Is ``path`` one of the paths open without sign-in? ``exact`` names (``healthz``) match only themselves;
    ``folders`` (``assets/``) match what is inside them, and only a plain path: no empty, ``.`` or ``..``
    segment, so ``/healthzX`` and ``/assets/../logistics`` are not public."""
    if not path.startswith(prefix):
        return False
    rest = path[len(prefix):]
    if rest in set(exact):
        return True
    for folder in folders:
        if rest.startswith(folder) and len(rest) > len(folder):
            segments = rest.split("/")
            return all(s not in ("", ".", "..") for s in segments)
    return False


def callback_output_ids(callback_id: str) -> list[str]:
    """The output component ids of a registered callback, from its id (the ``output`` of a request body).

    Dash spells a callback ``id.prop`` (one output) or ``..id1.prop1...id2.prop2..`` (several); a dict id is
    its JSON (keys sorted, wildcards as ``["ALL"]``/``["MATCH"]``), exactly the keys of an owners map.
    """
    parts = callback_id[2:-2].split("...") if callback_id.startswith("..") else [callback_id]
    return [part.rsplit(".", 1)[0] for part in parts]


def callback_outputs(body: Mapping[str, Any]) -> list[str]:
    """The output component ids named by a ``/_dash-update-component`` request body (``[]`` when it has none)."""
    output = body.get("output")
    return callback_output_ids(output) if isinstance(output, str) else []


def _input_value(body: Mapping[str, Any], component_id: str, prop: str) -> tuple[bool, Any]:
    for item in body.get("inputs") or []:
        if isinstance(item, dict) and item.get("id") == component_id and item.get("property") == prop:
            return True, item.get("value")
    return False, None


@dataclass(frozen=True)
class CallbackRules:
    """What the web layer knows about the registered callbacks, to decide who may run them.

    ``owners``: output id → OutputOwner, from ``callbacks.register_all`` (the pages' declarations).
    ``framework``: ids of the callbacks Dash registered itself (its page router, background-job cancels);
    they run for any visitor allowed to see some page (like the shell) unless an output of theirs is owned.
    ``routers``: framework callback id → the component whose ``pathname`` input picks the page it renders
    (Dash's page router): that page's own rule applies.
    """

    owners: Mapping[str, OutputOwner]
    framework: frozenset[str] = frozenset()
    routers: Mapping[str, str] = field(default_factory=dict)

    def unowned(self, callback_ids: Iterable[str]) -> list[str]:
        """Outputs of (non-framework) callbacks that no page owns: a registration bug, refused at run time."""
        return sorted({o for cb in callback_ids if cb not in self.framework
                       for o in callback_output_ids(cb) if o not in self.owners})


MAX_JSON_DEPTH = 128  # Dash's own bodies (component trees in State included) stay far below this


class _NotJSON(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _NotJSON(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotJSON(f"{text[:20]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > 20:  # past 64 bits: no control, id or count of this app is that large
        raise _NotJSON(f"{text[:20]}… is out of range")
    return int(text)


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (0 for a scalar), counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in children)
    return deepest


def parse_json_body(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> tuple[Any, Decision]:
    """A request body as JSON, or why it is refused (400): not JSON; ``NaN``/``Infinity``, a number past the
    float range (``1e400``) or an integer of more than 20 digits (none is JSON a browser sends for this app,
    and each made a callback raise OverflowError); or nested more than ``max_depth`` levels (Python's parser
    and Dash recurse: a body nested 1,000 deep would raise RecursionError instead of an answer)."""
    import json

    try:
        body = json.loads(raw, parse_constant=_no_constants, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:
        return None, Decision(False, 400, f"JSON nested too deeply (more than {max_depth} levels)")
    except _NotJSON as exc:
        return None, Decision(False, 400, f"not valid JSON: {exc}")
    except (ValueError, UnicodeDecodeError):
        return None, Decision(False, 400, "callback request body must be a JSON object")
    if json_depth(body) > max_depth:
        return None, Decision(False, 400, f"JSON nested too deeply (more than {max_depth} levels)")
    return body, ALLOW


def validate_callback_body(body: Any, known_outputs: Iterable[str], prefix: str = "/",
                           routers: Mapping[str, str] | None = None) -> Decision:
    """Shape checks before Dash sees a callback request: unknown callbacks and malformed bodies get 400."""
    if not isinstance(body, dict):
        return Decision(False, 400, "callback request body must be a JSON object")
    output = body.get("output")
    if not isinstance(output, str) or output not in set(known_outputs):
        return Decision(False, 400, "unknown callback output")
    for key in ("inputs", "state"):
        items = body.get(key, [])
        if not isinstance(items, list):
            return Decision(False, 400, f"{key!r} must be a list")
        for item in items:
            entries = item if isinstance(item, list) else [item]
            if not all(isinstance(e, dict) and "id" in e and isinstance(e.get("property"), str) for e in entries):
                return Decision(False, 400, f"malformed {key!r} entry")
    if not isinstance(body.get("outputs"), (dict, list)):
        return Decision(False, 400, "'outputs' must be an object or a list")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return Decision(False, 400, "'changedPropIds' must be a list of strings")
    location = (routers or {}).get(output)
    if location is not None:
        _, pathname = _input_value(body, location, "pathname")
        if not isinstance(pathname, str) or len(pathname) > 2048 or not pathname.startswith(prefix):
            return Decision(False, 400, f"page router: pathname must be a path under {prefix}")
        _, search = _input_value(body, location, "search")
        if search is not None and not isinstance(search, str):
            return Decision(False, 400, "page router: search must be a string")
    return ALLOW


def callback_access(user: User | None, body: Mapping[str, Any], rules: CallbackRules, public_pages: Iterable[str],
                    auth_enabled: bool, prefix: str = "/") -> Decision:
    """May ``user`` run this callback? Every output's owner (page, and action) must allow it.

    An output no page owns is refused (403), signed in or not, with sign-in on or off.
    """
    public = tuple(public_pages)
    output = body.get("output")
    if not isinstance(output, str):
        return Decision(False, 400, "unknown callback output")
    location = rules.routers.get(output)
    if location is not None:  # the router renders the layout of the requested pathname
        _, pathname = _input_value(body, location, "pathname")
        return page_access(user, normalize_page(pathname if isinstance(pathname, str) else "/", prefix), public,
                           auth_enabled)
    for out in callback_output_ids(output):
        owner = rules.owners.get(out)
        if owner is None:
            if output not in rules.framework:
                return Decision(False, 403, f"unknown output {out!r}: no page owns it")
            owner = OutputOwner(None)
        d = (shell_access(user, public, auth_enabled) if owner.page is None
             else page_access(user, owner.page, public, auth_enabled))
        if d.allowed and owner.action is not None and auth_enabled:
            d = action_access(user, owner.action)
        if not d.allowed:
            return d
    return ALLOW
