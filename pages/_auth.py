"""Who is using the app, and what they may do: sign-in (Streamlit's OpenID Connect), roles, the start-up guard.

Two modes, decided by ``.streamlit/secrets.toml``:

* **Sign-in configured** (an ``[auth]`` section): everyone signs in through the organisation's identity provider
  (``st.login``); they are known by the provider's subject and, when the provider verified it, their e-mail
  address (never their display name); their role comes from the roles file (``ESTATES_ROLES_FILE``, default
  ``data/<place>/roles.toml``, see ``estates/auth.py``). The shared store gets an :class:`estates.auth.Authoriser`
  so that every write is checked where it happens: a viewer's write is refused by the store even if a control
  slipped through.
* **Embedded default** (no ``[auth]``): the app must listen on this machine only; the operating-system user runs
  it, owns the store file and is recorded in the audit history. A banner says sign-in is not configured. Bound to
  any other address without sign-in, the app refuses to start: ``app.py`` exits before serving anything
  (:func:`refuse_unsafe_start`), and every page view checks again (it shows why, and no data).

See ``docs/deployment.md``.
"""

from __future__ import annotations

import functools
from typing import Any

import streamlit as st

from estates.auth import (
    MACHINE_ACTORS,
    Authoriser,
    Identity,
    Role,
    RolesConfig,
    check_bind_safety,
    identity_from_claims,
)
from estates.identity import local_user
from estates.store import Store
from geo.place import load_place

__all__ = [
    "auth_configured",
    "current_actor",
    "current_identity",
    "gate",
    "may",
    "refuse_unsafe_start",
    "roles_config",
]


def auth_configured() -> bool:
    """Whether sign-in is configured (an ``[auth]`` section in ``.streamlit/secrets.toml``)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all (StreamlitSecretNotFoundError) or an unreadable one
        return False


@functools.lru_cache(maxsize=1)
def _authoriser() -> Authoriser:
    guard = Authoriser()  # people never admitted (not signed in) are refused
    for actor, role in MACHINE_ACTORS.items():  # first-start seeding and the rules re-run after a load
        guard.admit_actor(actor, role)
    return guard


def roles_config() -> RolesConfig:
    """The roles file (``ESTATES_ROLES_FILE``, else ``data/<place>/roles.toml``; none: everyone is a viewer)."""
    return RolesConfig.load(default=load_place().folder / "roles.toml")


def _claims() -> dict[str, Any]:
    try:
        return dict(st.user.to_dict())
    except Exception:  # outside a script run
        return {}


def current_identity() -> Identity | None:
    """The person using this session, or ``None`` when signed in but refused by the roles file / not signed in.

    Embedded default: the operating-system user with the admin role (they own the store file; the CLI lets them do
    the same). With sign-in: the signed-in person with their role from the roles file.
    """
    if not auth_configured():
        return Identity(name=local_user(), email=None, role=Role.ADMIN)
    claims = _claims()
    if not claims.get("is_logged_in"):
        return None
    person = identity_from_claims(claims, roles_config())
    if person is not None:
        _authoriser().admit(person)
    return person


def current_actor() -> str:
    """The name recorded in the audit history for this session's changes.

    Raises
    ------
    PermissionError
        With sign-in configured, when nobody (allowed) is signed in.
    """
    person = current_identity()
    if person is None:
        raise PermissionError("sign in first: changes need a signed-in person")
    return person.actor


def may(action: str) -> bool:
    """Whether this session's person may do ``action`` (see ``estates.auth.ACTION_ROLES``); for showing controls."""
    person = current_identity()
    return person is not None and person.may(action)


def gate(store: Store) -> Identity:
    """Top of every page view: refuse unsafe starts, sign people in, show who is acting; stop the run otherwise.

    Parameters
    ----------
    store
        The app's shared store; with sign-in configured it gets the role check (once per process).

    Returns
    -------
    Identity
        The person acting in this session (the run stops before returning when there is none).
    """
    configured = auth_configured()
    refusal = check_bind_safety(st.get_option("server.address"), configured)  # also refused at start-up (app.py)
    if refusal:
        st.error(f"**Not started.** {refusal}", icon=":material/block:")
        st.stop()
    if not configured:
        person = current_identity()
        assert person is not None
        st.sidebar.info(f"Sign-in is not configured: changes are recorded as **{person.actor}**.",
                        icon=":material/person:")
        return person
    if store.authoriser is None:
        store.authoriser = _authoriser()
    if not st.user.is_logged_in:
        st.title(f"{load_place().name} estates")
        st.markdown("Sign in with your organisation account to see the estate.")
        st.button("Sign in", key="auth_login", type="primary", on_click=st.login)
        st.stop()
    person = current_identity()
    if person is None:
        st.error("Your account is not allowed to use this app. Ask the estates lead to add you to the roles file.")
        st.button("Sign out", key="auth_logout_refused", on_click=st.logout)
        st.stop()
    st.sidebar.markdown(f"Signed in as **{person.actor}** ({person.role.label})")
    if person.email is None and _claims().get("email"):
        st.sidebar.caption("Your identity provider did not verify your e-mail address, so the roles file's e-mail "
                           "and domain entries do not apply to you.")
    st.sidebar.button("Sign out", key="auth_logout", on_click=st.logout)
    return person


def refuse_unsafe_start() -> None:
    """At server start (``app.py``): exit with one line on stderr when bound beyond loopback without sign-in.

    Runs when Streamlit's server imports ``app.py``, before the app is served: nothing listens for long, no page,
    static file or health check is answered. ``streamlit run`` parses its command line and config files first, so
    ``server.address`` and the secrets are the ones the server will use.

    Raises
    ------
    SystemExit
        Status 2, with the reason on stderr, when :func:`estates.auth.check_bind_safety` refuses.
    """
    import sys

    refusal = check_bind_safety(st.get_option("server.address"), auth_configured())
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        raise SystemExit(2)
