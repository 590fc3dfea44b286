"""Who may change what: roles, identities, the roles file and the permission check the store enforces.

Three roles, each including the one below: ``viewer`` (reads), ``editor`` (changes classifications, positions and
match decisions; re-runs the rules) and ``admin`` (also loads or deletes registers and edits the rules). A signed-in
person's role comes from a readable TOML file (:class:`RolesConfig`) that maps exact e-mail addresses, e-mail domains
and group claims from the identity provider to roles; people it does not name are viewers or refused, as configured.

Only verified identity counts. A person is the provider's subject (``iss`` + ``sub`` of the signed ID token); an
e-mail address is used — for ``[emails]``/``[domains]`` roles and as the audit name — only when the provider says it
is verified (``email_verified: true``, or Entra ID's ``xms_edov: true``). The display name (``name``) and
``preferred_username``/``upn`` are shown, never trusted. The names the app's own programs write under
(:data:`MACHINE_ACTORS`: ``ingest``, ``rules``, ``matching``) can never be a person's audit name.

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
>>> resolve_role({"email": "someone@trafford.gov.uk", "email_verified": True}, config)
<Role.EDITOR: 2>
>>> resolve_role({"email": "someone@trafford.gov.uk", "email_verified": False}, config)
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
    "MACHINE_ACTORS",
    "Authoriser",
    "Identity",
    "PermissionDenied",
    "Role",
    "RolesConfig",
    "check_bind_safety",
    "identity_from_claims",
    "is_loopback",
    "is_machine_actor",
    "required_role",
    "resolve_role",
    "verified_email",
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
    "facts": Role.EDITOR,
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
    "facts": "record facts a partner returned",
    "rule_run": "re-run the rules",
    "match_run": "re-run site matching",
    "ingest": "load a register",
    "delete": "delete a register",
    "rules_edit": "edit the rules",
}


#: The app's own programs and the least role each needs (``estates.service``'s ``INGEST_ACTOR``, ``RULES_ACTOR`` and
#: ``MATCH_ACTOR``). These names are reserved: no person is ever recorded or admitted under one of them.
MACHINE_ACTORS: Mapping[str, Role] = {"ingest": Role.ADMIN, "rules": Role.EDITOR, "matching": Role.EDITOR}


def is_machine_actor(name: str) -> bool:
    """Whether ``name`` is (in any case or spacing) one of the app's reserved :data:`MACHINE_ACTORS`."""
    return str(name).strip().lower() in MACHINE_ACTORS


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
        Display name (shown only: never a key, never trusted).
    email
        Verified e-mail address, or ``None`` when the provider gave none or did not verify it.
    role
        Their role.
    groups
        Group claims from the identity provider.
    subject
        The provider's subject (``sub``); ``None`` for the operating-system user of the embedded default.
    issuer
        The provider (``iss``) that vouches for ``subject``.
    """

    name: str
    email: str | None
    role: Role
    groups: tuple[str, ...] = ()
    subject: str | None = None
    issuer: str | None = None

    @property
    def actor(self) -> str:
        """The name written into the audit history and checked by the store.

        The verified e-mail address; else the provider's subject and issuer (``"<sub> (<iss>)"``, which can be neither
        an e-mail address nor a machine actor); the display name only for the operating-system user (no provider).
        """
        if self.email:
            return self.email
        if self.subject is not None:
            return f"{self.subject} ({self.issuer or 'unknown provider'})"
        return self.name

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
    ``[emails]`` and ``[domains]`` apply only to a verified address (:func:`verified_email`); ``[groups]`` to the
    groups claim of the signed ID token. When several entries match, the highest role wins. The file looks like::

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
        The ID token's claims (``st.user``): a verified ``email`` (see :func:`verified_email`) and the groups claim.
        ``preferred_username``, ``upn`` and ``name`` are never used: providers let people choose or change them.
    config
        The roles file.

    Returns
    -------
    Role or None
        The highest role any entry gives; when none matches, ``viewer`` or ``None`` (refused) as configured.
    """
    email = verified_email(claims)
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


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def verified_email(claims: Mapping[str, Any]) -> str | None:
    """The ``email`` claim (lower case) when the provider vouches for it, else ``None``.

    Vouched for: ``email_verified`` is true (OpenID Connect Core §5.1; Google, Okta, Keycloak …; the string
    ``"true"`` some providers send counts), or ``xms_edov`` is true (Entra ID's optional "e-mail domain owner verified"
    claim; Entra sends no ``email_verified``). A missing or false flag means the address is someone's say-so.
    """
    email = claims.get("email")
    if not isinstance(email, str):
        return None
    email = email.strip().lower()
    if email.count("@") != 1 or any(c.isspace() for c in email) or not email.rpartition("@")[2]:
        return None
    if _is_true(claims.get("email_verified")) or _is_true(claims.get("xms_edov")):
        return email
    return None


def identity_from_claims(claims: Mapping[str, Any], config: RolesConfig) -> Identity | None:
    """The :class:`Identity` of a signed-in person, or ``None`` when the roles file refuses them.

    Also ``None`` without a subject (``sub``) and issuer (``iss``): every ID token has both, so claims without them
    are not a verified identity.
    """
    subject, issuer = claims.get("sub"), claims.get("iss")
    if not (isinstance(subject, str) and subject.strip() and isinstance(issuer, str) and issuer.strip()):
        return None
    role = resolve_role(claims, config)
    if role is None:
        return None
    email = verified_email(claims)
    shown = next((str(claims[k]) for k in ("name", "preferred_username", "email") if claims.get(k)), subject)
    return Identity(name=shown, email=email, role=role, groups=_claim_list(claims.get(config.groups_claim)),
                    subject=subject.strip(), issuer=issuer.strip())


class Authoriser:
    """The permission check a store enforces on every write (``open_store(..., authoriser=...)``).

    The app admits each signed-in person (:meth:`admit`) as they arrive; a write by an actor it has not admitted,
    or whose role is too low for the action, raises :class:`PermissionDenied` before anything is written. Roles are
    held per audit name *and* subject: should two subjects ever share an audit name (one verified address asserted
    by two configured providers), that name gets the lower of their roles, so neither can borrow the other's.

    Parameters
    ----------
    default_role
        Role of actors never admitted (``None``: they are refused). Machine actors can be given roles with
        :meth:`admit_actor`.
    """

    def __init__(self, *, default_role: Role | None = None) -> None:
        self._roles: dict[str, dict[tuple[str | None, str | None], Role]] = {}
        self._default = default_role
        self._lock = threading.Lock()

    def admit(self, identity: Identity) -> None:
        """Record a signed-in person's role under their audit name and subject (their latest sign-in wins).

        Raises
        ------
        ValueError
            When the audit name is one of the reserved :data:`MACHINE_ACTORS` (a person never takes their place).
        """
        if is_machine_actor(identity.actor):
            raise ValueError(f"{identity.actor!r} is reserved for the app's own programs, not a person")
        with self._lock:
            self._roles.setdefault(identity.actor, {})[(identity.issuer, identity.subject)] = identity.role

    def admit_actor(self, actor: str, role: Role) -> None:
        """Give a machine actor its role (the app's own ``ingest``, ``rules`` and ``matching`` runs)."""
        with self._lock:
            self._roles[actor] = {(None, None): role}

    def role_of(self, actor: str) -> Role | None:
        """The actor's role (the lowest when several subjects share it; ``default_role`` when never admitted)."""
        with self._lock:
            roles = self._roles.get(actor)
            return min(roles.values()) if roles else self._default

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
