"""Who is asking, from inside a callback: the signed-in user of the current request and what they may do.

The access guard (``web.server.Gate``) puts the request's user in ``flask.g`` before Dash runs a callback. A
callback whose output depends on who asks (the Traceability lookup shows the recall only to the roles that may
see it) asks :func:`may`; the job limits (``web.jobs``) count jobs per :func:`requester`.
"""

from __future__ import annotations

from web.access import User, may_perform


def _request() -> tuple[bool, User | None, bool]:
    """(in a request, its user, whether sign-in is on)."""
    import flask

    if not flask.has_request_context():
        return False, None, False
    signin = bool(flask.current_app.config.get("CHASQUI_SIGN_IN", False))
    return True, getattr(flask.g, "chasqui_user", None), signin


def may(action: str) -> bool:
    """May the user of this request perform ``action`` (``web.access.ACTION_ROLES``)? With sign-in off,
    anyone may. Outside a request (a direct call, a job process) only when the app's settings have no sign-in."""
    in_request, user, signin = _request()
    if not in_request:
        from web.runtime import runtime

        settings = runtime().settings
        signin = bool(settings.auth_file or settings.oidc_issuer)
    return may_perform(user, action, signin)


def requester() -> str:
    """Who a job is counted against: the signed-in user's name, else the client address (``local`` outside a
    request)."""
    import flask

    in_request, user, _ = _request()
    if not in_request:
        return "local"
    if user is not None:
        return "user:" + user.name
    return "address:" + str(flask.request.remote_addr or "unknown")


__all__ = ["may", "requester"]
