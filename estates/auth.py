"""Who may change what: roles, identities, the roles file and the permission check the store enforces.

Three roles, each including the one below: ``viewer`` (reads), ``editor`` (changes classifications, positions and
match decisions; re-runs the rules) and ``admin`` (also loads or deletes registers and edits the rules). A signed-in
person's role comes from a readable TOML file (:class:`RolesConfig`) that maps exact e-mail addresses, e-mail domains
and group claims from the identity provider to roles; people it does not name are viewers or refused, as configured.

The check is enforced where the write happens: a store opened with an :class:`Authoriser`
(``open_store(..., authoriser=...)``) refuses every write whose actor has no sufficient role
(:class:`PermissionDenied`), whatever the app shows. A store opened without one (the embedded default on one machine
and the CLI, where the person running the process is the operating-system user who owns the store file) lets every
named actor write, as before.

Examples
--------
>>> config = RolesConfig.from_toml('''
... unknown_users = "viewer"
... [emails]
... "lead@trafford.gov.uk" = "admin"
... [domains]
... "trafford.gov.uk" = "editor"
... ''')
>>> resolve_role({"email": "someone@trafford.gov.uk"}, config)
<Role.EDITOR: 2>
>>> resolve_role({"email": "visitor@example.org"}, config)
<Role.VIEWER: 1>
"""

from __future__ import annotations

import enum
import os
import threading
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "ACTION_ROLES",
    "ENV_ROLES_FILE",
    "Authoriser",
    "Identity",
    "PermissionDenied",
    "Role",
    "RolesConfig",
    "check_bind_safety",
    "identity_from_claims",
    "is_loopback",
    "required_role",
    "resolve_role",
]

#: Environment variable naming the roles file (default: ``data/<place>/roles.toml`` as the app decides).
ENV_ROLES_FILE = "ESTATES_ROLES_FILE"


class Role(enum.IntEnum):
    """A person's role; a higher role may do everything a lower one may."""

    VIEWER = 1
    EDITOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        """``"viewer"``, ``"editor"`` or ``"admin"`` (any case) as a :class:`Role`.

        Raises
        ------
        ValueError
            For any other text, naming the allowed values.
        """
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}: use viewer, editor or admin") from None

    @property
    def label(self) -> str:
        """Lower-case name, as written in the roles file."""
        return self.name.lower()


#: The least role each store action needs (the store's audit actions plus ``match_run``, ``delete`` and
#: ``rules_edit``). Actions not listed need ``admin``.
ACTION_ROLES: Mapping[str, Role] = {
    "override": Role.EDITOR,
    "clear_override": Role.EDITOR,
    "undo": Role.EDITOR,
    "reposition": Role.EDITOR,
    "match_decision": Role.EDITOR,
    "rename": Role.EDITOR,
    "rule_run": Role.EDITOR,
    "match_run": Role.EDITOR,
    "ingest": Role.ADMIN,
    "delete": Role.ADMIN,
    "rules_edit": Role.ADMIN,
}

_ACTION_WORDS: Mapping[str, str] = {
    "override": "change a classification",
    "clear_override": "clear a classification",
    "undo": "undo a change",
    "reposition": "move a building",
    "match_decision": "decide a site match",
    "rename": "rename a site",
    "rule_run": "re-run the rules",
    "match_run": "re-run site matching",
    "ingest": "load a register",
    "delete": "delete a register",
    "rules_edit": "edit the rules",
}


def required_role(action: str) -> Role:
    """The least role that may do ``action`` (``admin`` for actions this table does not know)."""
    return ACTION_ROLES.get(action, Role.ADMIN)


class PermissionDenied(PermissionError):
    """A write refused because the actor's role is too low (or the actor is not signed in); nothing was written.

    Parameters
    ----------
    actor
        Who tried.
    action
        What they tried (a key of :data:`ACTION_ROLES`).
    role
        Their role, ``None`` when they are not known (not signed in, or refused by the roles file).
    """

    def __init__(self, actor: str, action: str, role: Role | None) -> None:
        self.actor, self.action, self.role = actor, action, role
        needed = required_role(action)
        what = _ACTION_WORDS.get(action, action)
        who = f"{actor} ({role.label})" if role is not None else f"{actor} (not signed in)"
        super().__init__(f"{who} may not {what}: needs the {needed.label} role.")


@dataclass(frozen=True, slots=True)
class Identity:
    """A person acting in the app.

    Parameters
    ----------
    name
        Display name.
    email
        E-mail address (what the audit history records when there is one).
    role
        Their role.
    groups
        Group claims from the identity provider.
    """

    name: str
    email: str | None
    role: Role
    groups: tuple[str, ...] = ()

    @property
    def actor(self) -> str:
        """The name written into the audit history: the e-mail address, else the name."""
        return self.email or self.name

    def may(self, action: str) -> bool:
        """Whether this person's role allows ``action``."""
        return self.role >= required_role(action)


@dataclass(frozen=True, slots=True)
class RolesConfig:
    """Which signed-in people get which role.

    Parameters
    ----------
    emails
        Exact e-mail address (lower case) → role.
    domains
        E-mail domain (lower case, no ``@``) → role.
    groups
        Group claim value → role.
    unknown_users
        ``"viewer"`` (people matched by nothing may look) or ``"refuse"`` (they are turned away).
    groups_claim
        Name of the claim holding the groups (``groups`` for Entra ID).

    Notes
    -----
    When several entries match, the highest role wins. The file looks like::

        unknown_users = "viewer"      # or "refuse"
        groups_claim = "groups"

        [emails]
        "estates.lead@trafford.gov.uk" = "admin"

        [domains]
        "trafford.gov.uk" = "editor"

        [groups]
        "7f1c…-entra-group-object-id" = "editor"
    """

    emails: Mapping[str, Role] = field(default_factory=dict)
    domains: Mapping[str, Role] = field(default_factory=dict)
    groups: Mapping[str, Role] = field(default_factory=dict)
    unknown_users: Literal["viewer", "refuse"] = "viewer"
    groups_claim: str = "groups"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RolesConfig:
        """Build from parsed TOML (see the class notes); raises :class:`ValueError` on a bad entry."""
        unknown = str(data.get("unknown_users", "viewer")).strip().lower()
        if unknown not in ("viewer", "refuse"):
            raise ValueError(f"unknown_users must be 'viewer' or 'refuse', not {unknown!r}")

        def table(name: str) -> dict[str, Role]:
            raw = data.get(name, {}) or {}
            if not isinstance(raw, Mapping):
                raise ValueError(f"[{name}] must be a table of name = role")
            return {str(k).strip().lower().lstrip("@") if name != "groups" else str(k).strip(): Role.parse(v)
                    for k, v in raw.items()}

        return cls(emails=table("emails"), domains=table("domains"), groups=table("groups"),
                   unknown_users=unknown,  # type: ignore[arg-type]
                   groups_claim=str(data.get("groups_claim", "groups")))

    @classmethod
    def from_toml(cls, text: str) -> RolesConfig:
        """Parse a roles file's text."""
        return cls.from_mapping(tomllib.loads(text))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *, default: str | os.PathLike[str] | None = None
             ) -> RolesConfig:
        """Read the roles file: ``path``, else ``ESTATES_ROLES_FILE``, else ``default``.

        Returns
        -------
        RolesConfig
            What the file says; when no file is named or the named default does not exist, a config that makes
            everyone a viewer (sign-in works, nobody can change anything until a roles file names them).

        Raises
        ------
        FileNotFoundError
            When ``path`` or ``ESTATES_ROLES_FILE`` names a file that does not exist.
        """
        named = path if path is not None else os.environ.get(ENV_ROLES_FILE) or None
        if named is not None:
            return cls.from_toml(Path(named).read_text(encoding="utf-8"))
        if default is not None and Path(default).is_file():
            return cls.from_toml(Path(default).read_text(encoding="utf-8"))
        return cls()


def _claim_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        return tuple(str(v) for v in value)
    return (str(value),)


def resolve_role(claims: Mapping[str, Any], config: RolesConfig) -> Role | None:
    """The role of a signed-in person from their identity-provider claims.

    Parameters
    ----------
    claims
        The ID token's claims (``st.user``): ``email`` (or ``preferred_username``/``upn``), and the groups claim.
    config
        The roles file.

    Returns
    -------
    Role or None
        The highest role any entry gives; when none matches, ``viewer`` or ``None`` (refused) as configured.
    """
    email = _email(claims)
    found: list[Role] = []
    if email:
        if email in config.emails:
            found.append(config.emails[email])
        domain = email.rpartition("@")[2]
        if domain in config.domains:
            found.append(config.domains[domain])
    found.extend(config.groups[g] for g in _claim_list(claims.get(config.groups_claim)) if g in config.groups)
    if found:
        return max(found)
    return Role.VIEWER if config.unknown_users == "viewer" else None


def _email(claims: Mapping[str, Any]) -> str | None:
    for key in ("email", "preferred_username", "upn"):
        value = claims.get(key)
        if isinstance(value, str) and "@" in value:
            return value.strip().lower()
    return None


def identity_from_claims(claims: Mapping[str, Any], config: RolesConfig) -> Identity | None:
    """The :class:`Identity` of a signed-in person, or ``None`` when the roles file refuses them."""
    role = resolve_role(claims, config)
    if role is None:
        return None
    email = _email(claims)
    name = str(claims.get("name") or email or claims.get("sub") or "unknown")
    return Identity(name=name, email=email, role=role, groups=_claim_list(claims.get(config.groups_claim)))


class Authoriser:
    """The permission check a store enforces on every write (``open_store(..., authoriser=...)``).

    The app admits each signed-in person (:meth:`admit`) as they arrive; a write by an actor it has not admitted,
    or whose role is too low for the action, raises :class:`PermissionDenied` before anything is written.

    Parameters
    ----------
    default_role
        Role of actors never admitted (``None``: they are refused). Machine actors can be given roles with
        :meth:`admit_actor`.
    """

    def __init__(self, *, default_role: Role | None = None) -> None:
        self._roles: dict[str, Role] = {}
        self._default = default_role
        self._lock = threading.Lock()

    def admit(self, identity: Identity) -> None:
        """Record a signed-in person's role under their audit name (their latest sign-in wins)."""
        self.admit_actor(identity.actor, identity.role)

    def admit_actor(self, actor: str, role: Role) -> None:
        """Give an actor name a role (e.g. the app's own ``rules`` runs)."""
        with self._lock:
            self._roles[actor] = role

    def role_of(self, actor: str) -> Role | None:
        """The actor's role (``default_role`` when never admitted)."""
        with self._lock:
            return self._roles.get(actor, self._default)

    def check(self, actor: str, action: str, building_ids: Sequence[str] = ()) -> None:
        """Raise :class:`PermissionDenied` unless ``actor`` may do ``action`` (``building_ids`` unused for now)."""
        role = self.role_of(actor)
        if role is None or role < required_role(action):
            raise PermissionDenied(actor, action, role)

    __call__ = check


def is_loopback(address: str | None) -> bool:
    """Whether a server bind address only accepts connections from this machine."""
    import ipaddress

    text = (address or "").strip().strip("[]")
    if not text:
        return False  # Streamlit's default (no address) listens on every interface
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def check_bind_safety(address: str | None, auth_configured: bool) -> str | None:
    """Refuse to serve other machines without sign-in.

    Parameters
    ----------
    address
        Streamlit's ``server.address`` (``None``/empty means every interface).
    auth_configured
        Whether sign-in (``[auth]`` in ``.streamlit/secrets.toml``) is configured.

    Returns
    -------
    str or None
        ``None`` when it is safe to start; otherwise the message to show instead of the app.
    """
    if auth_configured or is_loopback(address):
        return None
    shown = address or "every network interface"
    return (f"This app is listening on {shown} but sign-in is not configured, so anyone who can reach it could "
            "change the estate. It will not start like this. Either listen on this machine only "
            "(server.address = \"127.0.0.1\" in .streamlit/config.toml) or configure sign-in ([auth] in "
            ".streamlit/secrets.toml, see docs/deployment.md).")
