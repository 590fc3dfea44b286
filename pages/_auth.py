"""Who is using the app, and what they may do: sign-in (Streamlit's OpenID Connect), roles, the start-up guard.

Two modes, decided by ``.streamlit/secrets.toml``:

* **Sign-in configured** (an ``[auth]`` section): everyone signs in through the organisation's identity provider
  (``st.login``); their role comes from the roles file (``ESTATES_ROLES_FILE``, default ``data/<place>/roles.toml``,
  see ``estates/auth.py``). The shared store gets an :class:`estates.auth.Authoriser` so that every write is
  checked where it happens: a viewer's write is refused by the store even if a control slipped through.
* **Embedded default** (no ``[auth]``): the app must listen on this machine only; the operating-system user runs
  it, owns the store file and is recorded in the audit history. A banner says sign-in is not configured. Bound to
  any other address without sign-in, the app refuses to start (it shows why, and no data).

See ``docs/deployment.md``.
"""

from __future__ import annotations

import functools
from typing import Any

import streamlit as st

from estates.auth import Authoriser, Identity, Role, RolesConfig, check_bind_safety, identity_from_claims
from estates.identity import local_user
from estates.store import Store
from geo.place import load_place

__all__ = [
    "auth_configured",
    "current_actor",
    "current_identity",
    "gate",
    "may",
    "roles_config",
]

#: Machine actors the app itself writes as (first-start seeding and the rules it re-runs after a load).
_MACHINE_ACTORS: dict[str, Role] = {"ingest": Role.ADMIN, "rules": Role.EDITOR, "matching": Role.EDITOR}


def auth_configured() -> bool:
    """Whether sign-in is configured (an ``[auth]`` section in ``.streamlit/secrets.toml``)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all (StreamlitSecretNotFoundError) or an unreadable one
        return False


@functools.lru_cache(maxsize=1)
def _authoriser() -> Authoriser:
    guard = Authoriser()  # people never admitted (not signed in) are refused
    for actor, role in _MACHINE_ACTORS.items():
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
    refusal = check_bind_safety(st.get_option("server.address"), configured)
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
    st.sidebar.button("Sign out", key="auth_logout", on_click=st.logout)
    return person
