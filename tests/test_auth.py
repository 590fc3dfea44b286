"""Roles: resolution from identity-provider claims and the roles file, the permission table, the bind guard.

Identity comes from verified claims only. The last tests take their claims from ID tokens issued by a real OpenID
Connect provider (``oidc-provider-mock`` on 127.0.0.1) through the authorisation-code flow and verified the way
Streamlit's sign-in does (Authlib: signature against the provider's keys, issuer, audience, nonce).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from estates.auth import (
    MACHINE_ACTORS,
    Authoriser,
    Identity,
    PermissionDenied,
    Role,
    RolesConfig,
    check_bind_safety,
    identity_from_claims,
    is_loopback,
    required_role,
    resolve_role,
    verified_email,
)
from estates.identity import local_user
from estates.store import open_store

ROLES = """
unknown_users = "viewer"
groups_claim = "groups"

[emails]
"Lead@Trafford.gov.uk" = "admin"

[domains]
"trafford.gov.uk" = "editor"

[groups]
"estates-editors" = "editor"
"estates-admins" = "admin"
"""


def test_roles_are_ordered_and_parsed() -> None:
    assert Role.VIEWER < Role.EDITOR < Role.ADMIN
    assert Role.parse(" Editor ") is Role.EDITOR
    with pytest.raises(ValueError, match="viewer, editor or admin"):
        Role.parse("owner")


ISS = "https://login.example.org/tenant/v2.0"
TOWN_HALL = "trafford-council:TMBC0008/T0000001"


def verified(email: str, **claims: object) -> dict[str, object]:
    return {"iss": ISS, "sub": f"sub-{email}", "email": email, "email_verified": True, **claims}


def test_resolve_role_by_email_domain_and_group() -> None:
    config = RolesConfig.from_toml(ROLES)
    assert resolve_role(verified("lead@trafford.gov.uk"), config) is Role.ADMIN  # exact e-mail, any case
    assert resolve_role(verified("someone@TRAFFORD.gov.uk"), config) is Role.EDITOR  # domain
    assert resolve_role(verified("gp@nhs.net", groups=["estates-editors"]), config) is Role.EDITOR
    assert resolve_role(verified("x@trafford.gov.uk", groups=["estates-admins"]), config) is Role.ADMIN
    assert resolve_role(verified("y@nhs.net"), config) is Role.VIEWER  # unknown: viewer
    refusing = RolesConfig.from_toml(ROLES.replace('"viewer"', '"refuse"', 1))
    assert resolve_role(verified("y@nhs.net"), refusing) is None
    assert identity_from_claims(verified("y@nhs.net"), refusing) is None


@pytest.mark.parametrize("claims", [
    {"email": "lead@trafford.gov.uk"},  # no verification flag: someone's say-so
    {"email": "lead@trafford.gov.uk", "email_verified": False},
    {"email": "lead@trafford.gov.uk", "email_verified": "false"},
    {"email": "lead@trafford.gov.uk", "email_verified": 1},  # only a boolean true (or "true") counts
    {"email": "lead@trafford.gov.uk", "xms_edov": False},
    {"preferred_username": "lead@trafford.gov.uk"},  # chosen by the user on many providers
    {"upn": "lead@trafford.gov.uk"},
    {"name": "lead@trafford.gov.uk"},
    {"email": "lead@trafford.gov.uk x@y.z", "email_verified": True},  # not one address
])
def test_unverified_addresses_and_names_give_no_email_or_domain_role(claims: dict[str, object]) -> None:
    config = RolesConfig.from_toml(ROLES)
    person = identity_from_claims({"iss": ISS, "sub": "s-1", **claims}, config)
    assert person is not None
    assert person.role is Role.VIEWER
    assert person.email is None
    assert person.actor == f"s-1 ({ISS})"
    assert verified_email(claims) is None


def test_verified_by_email_verified_or_entra_domain_owner_claim() -> None:
    assert verified_email({"email": " Ed@Trafford.gov.uk ", "email_verified": True}) == "ed@trafford.gov.uk"
    assert verified_email({"email": "ed@trafford.gov.uk", "email_verified": "true"}) == "ed@trafford.gov.uk"
    assert verified_email({"email": "ed@trafford.gov.uk", "xms_edov": True}) == "ed@trafford.gov.uk"


def test_identity_from_claims_uses_verified_email_as_audit_name_and_needs_a_subject() -> None:
    config = RolesConfig.from_toml(ROLES)
    person = identity_from_claims(verified("Ed@Trafford.gov.uk", name="Ed", groups="g1"), config)
    assert person == Identity(name="Ed", email="ed@trafford.gov.uk", role=Role.EDITOR, groups=("g1",),
                              subject="sub-Ed@Trafford.gov.uk", issuer=ISS)
    assert person.actor == "ed@trafford.gov.uk"
    assert person.may("override")
    assert not person.may("ingest")
    assert identity_from_claims({"email": "ed@trafford.gov.uk", "email_verified": True}, config) is None  # no sub
    assert identity_from_claims({"sub": "s", "email": "ed@trafford.gov.uk", "email_verified": True}, config) is None


def test_same_display_name_two_people_two_roles() -> None:
    config = RolesConfig.from_toml(ROLES)
    editor = identity_from_claims({"iss": ISS, "sub": "a1", "name": "J Smith", "groups": ["estates-editors"]}, config)
    viewer = identity_from_claims({"iss": ISS, "sub": "b2", "name": "J Smith"}, config)
    assert editor is not None
    assert viewer is not None
    assert editor.name == viewer.name == "J Smith"
    assert editor.actor != viewer.actor
    guard = Authoriser()
    guard.admit(viewer)
    guard.admit(editor)  # the editor signing in after the viewer changes nothing for the viewer
    guard.check(editor.actor, "override")
    with pytest.raises(PermissionDenied, match=r"\(viewer\) may not change a classification"):
        guard.check(viewer.actor, "override")
    with pytest.raises(PermissionDenied, match="not signed in"):
        guard.check("J Smith", "override")  # the display name is nobody


def test_machine_actor_names_are_reserved(monkeypatch: pytest.MonkeyPatch) -> None:
    config = RolesConfig.from_toml(ROLES)
    guard = Authoriser()
    for actor, role in MACHINE_ACTORS.items():
        guard.admit_actor(actor, role)
    for name in ("ingest", "rules", "matching"):
        impostor = identity_from_claims({"iss": ISS, "sub": name, "name": name, "preferred_username": name}, config)
        assert impostor is not None
        assert impostor.actor == f"{name} ({ISS})"
        guard.admit(impostor)
        assert guard.role_of(name) is MACHINE_ACTORS[name]  # the app's own program keeps its role
        with pytest.raises(ValueError, match="reserved for the app's own programs"):
            guard.admit(Identity(name=name.upper(), email=None, role=Role.VIEWER))
    # The names are the ones the app writes under.
    from estates.service import INGEST_ACTOR, MATCH_ACTOR, RULES_ACTOR

    assert set(MACHINE_ACTORS) == {INGEST_ACTOR, RULES_ACTOR, MATCH_ACTOR}
    # On one machine (no sign-in) an OS user or ESTATES_ACTOR named like a program is recorded as a user.
    monkeypatch.setenv("ESTATES_ACTOR", "Rules")
    assert local_user() == "user:Rules"
    monkeypatch.setenv("ESTATES_ACTOR", "rules.lead")
    assert local_user() == "rules.lead"


def test_two_subjects_sharing_one_address_get_the_lower_role() -> None:
    guard = Authoriser()
    guard.admit(Identity(name="A", email="x@trafford.gov.uk", role=Role.ADMIN, subject="a", issuer=ISS))
    guard.admit(Identity(name="B", email="x@trafford.gov.uk", role=Role.VIEWER, subject="b", issuer="https://other"))
    assert guard.role_of("x@trafford.gov.uk") is Role.VIEWER


def test_bad_roles_file_is_refused_readably(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown_users"):
        RolesConfig.from_toml('unknown_users = "maybe"')
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        RolesConfig.from_toml('[emails]\n"a@b.c" = "boss"')
    path = tmp_path / "roles.toml"
    path.write_text(ROLES, encoding="utf-8")
    monkeypatch.setenv("ESTATES_ROLES_FILE", str(path))
    assert RolesConfig.load().emails == {"lead@trafford.gov.uk": Role.ADMIN}
    monkeypatch.delenv("ESTATES_ROLES_FILE")
    assert RolesConfig.load(default=tmp_path / "missing.toml") == RolesConfig()  # everyone a viewer
    with pytest.raises(FileNotFoundError):
        RolesConfig.load(tmp_path / "missing.toml")


def test_action_table_and_authoriser() -> None:
    for action in ("override", "clear_override", "undo", "reposition", "match_decision", "rule_run"):
        assert required_role(action) is Role.EDITOR
    for action in ("ingest", "delete", "rules_edit", "something-new"):
        assert required_role(action) is Role.ADMIN
    guard = Authoriser()
    guard.admit(Identity(name="V", email="v@nhs.net", role=Role.VIEWER))
    with pytest.raises(PermissionDenied, match=r"v@nhs\.net \(viewer\) may not move a building: needs the editor"):
        guard.check("v@nhs.net", "reposition")
    with pytest.raises(PermissionError, match="not signed in"):
        guard("nobody", "override", ["b1"])
    Authoriser(default_role=Role.EDITOR).check("anyone", "override")


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.0.1.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("", False), (None, False), ("::", False), ("192.168.1.20", False), ("example.org", False),
])
def test_bind_safety(address: str | None, loopback: bool) -> None:
    assert is_loopback(address) is loopback
    message = check_bind_safety(address, auth_configured=False)
    assert (message is None) is loopback
    if message:
        assert "sign-in is not configured" in message
        assert "docs/deployment.md" in message
    assert check_bind_safety(address, auth_configured=True) is None


# ------------------------------------------------------------------ claims from a real OpenID Connect provider
CLIENT_ID = "trafford-estates-test"
REDIRECT = "http://127.0.0.1:9/oauth2callback"  # never visited: the code is read from the provider's redirect
PROVIDER_USERS = {
    # Two people with one display name and no e-mail: one in the editors' group, one not.
    "jsmith-council-0001": {"name": "J Smith", "groups": ["estates-editors"]},
    "jsmith-partner-0002": {"name": "J Smith"},
    # People named like the app's own programs.
    "ingest": {"name": "ingest", "preferred_username": "ingest"},
    "rules": {"name": "rules", "email": "rules@trafford.gov.uk", "email_verified": False},
    # An address in the editors' domain that the provider did not verify, and one it did.
    "mallory-77": {"name": "Mallory", "email": "mallory@trafford.gov.uk", "email_verified": False},
    "pat-13": {"name": "Pat", "preferred_username": "lead@trafford.gov.uk"},
    "ed-42": {"name": "Ed", "email": "ed@trafford.gov.uk", "email_verified": True},
}


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A real OIDC provider on a loopback port with the users above; yields its base URL."""
    import oidc_provider_mock
    import werkzeug.serving

    users = [oidc_provider_mock.User(sub=sub, claims=claims) for sub, claims in PROVIDER_USERS.items()]
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(user_claims=users), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def signed_in_claims(provider: str, sub: str) -> dict[str, object]:
    """Sign ``sub`` in (authorisation-code flow) and return the ID token's claims, verified as Streamlit does."""
    import requests
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.jose import JsonWebKey, jwt

    meta = requests.get(f"{provider}/.well-known/openid-configuration", timeout=10).json()
    nonce = secrets.token_urlsafe(16)
    session = OAuth2Session(CLIENT_ID, "client-secret", scope="openid email profile", redirect_uri=REDIRECT)
    url, _state = session.create_authorization_url(meta["authorization_endpoint"], nonce=nonce)
    answer = requests.post(url, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    token = session.fetch_token(meta["token_endpoint"], authorization_response=answer.headers["Location"])
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], keys, claims_options={
        "iss": {"essential": True, "value": meta["issuer"]}, "aud": {"essential": True, "value": CLIENT_ID},
        "nonce": {"essential": True, "value": nonce}})
    claims.validate()
    return dict(claims)


def test_real_provider_two_people_with_one_display_name_get_their_own_roles(provider: str, store_path: Path) -> None:
    config = RolesConfig.from_toml(ROLES)
    council, partner = (identity_from_claims(signed_in_claims(provider, sub), config)
                        for sub in ("jsmith-council-0001", "jsmith-partner-0002"))
    assert council is not None
    assert partner is not None
    assert council.name == partner.name == "J Smith"
    assert (council.role, partner.role) == (Role.EDITOR, Role.VIEWER)
    assert council.actor == f"jsmith-council-0001 ({provider})"
    guard = Authoriser()
    guard.admit(partner)
    guard.admit(council)  # the editor signs in last: the viewer must not borrow their role
    with open_store(store_path, authoriser=guard) as store:
        before = store.building(TOWN_HALL)
        with pytest.raises(PermissionDenied, match="needs the editor role"):
            store.set_status(TOWN_HALL, "surplus", reason="partner's J Smith tries", actor=partner.actor,
                             expected_version=before.version)
        store.set_status(TOWN_HALL, "surplus", reason="council's J Smith decides", actor=council.actor,
                         expected_version=before.version)
        entry = store.history(TOWN_HALL)[-1]
    assert (entry.actor, entry.reason) == (council.actor, "council's J Smith decides")


def test_real_provider_users_named_like_machine_actors_cannot_take_their_place(provider: str,
                                                                              store_path: Path) -> None:
    config = RolesConfig.from_toml(ROLES)
    guard = Authoriser()
    for actor, role in MACHINE_ACTORS.items():
        guard.admit_actor(actor, role)
    for sub in ("ingest", "rules"):
        person = identity_from_claims(signed_in_claims(provider, sub), config)
        assert person is not None
        assert person.actor == f"{sub} ({provider})"
        assert person.role is Role.VIEWER  # "rules@trafford.gov.uk" is not verified: no domain role either
        guard.admit(person)
        assert guard.role_of(sub) is MACHINE_ACTORS[sub]  # neither demoted nor borrowed
    with open_store(store_path, authoriser=guard) as store:
        before = store.building(TOWN_HALL)
        with pytest.raises(PermissionDenied, match=r"ingest \(http://127\.0\.0\.1:\d+\) \(viewer\)"):
            store.set_status(TOWN_HALL, "surplus", reason="impostor", actor=f"ingest ({provider})",
                             expected_version=before.version)
        store.set_status(TOWN_HALL, "core", reason="the rules program still writes", actor="rules",
                         expected_version=before.version)


def test_real_provider_unverified_email_or_bare_username_gets_no_domain_role(provider: str) -> None:
    config = RolesConfig.from_toml(ROLES)
    mallory = signed_in_claims(provider, "mallory-77")
    assert (mallory["email"], mallory["email_verified"]) == ("mallory@trafford.gov.uk", False)  # as the IdP said
    person = identity_from_claims(mallory, config)
    assert person is not None
    assert (person.role, person.email, person.actor) == (Role.VIEWER, None, f"mallory-77 ({provider})")
    pat = identity_from_claims(signed_in_claims(provider, "pat-13"), config)  # names the admin's address
    assert pat is not None
    assert (pat.role, pat.email) == (Role.VIEWER, None)
    ed = identity_from_claims(signed_in_claims(provider, "ed-42"), config)  # verified: the domain role applies
    assert ed is not None
    assert (ed.role, ed.actor) == (Role.EDITOR, "ed@trafford.gov.uk")
