"""Roles: resolution from identity-provider claims and the roles file, the permission table, the bind guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from estates.auth import (
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
)

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


def test_resolve_role_by_email_domain_and_group() -> None:
    config = RolesConfig.from_toml(ROLES)
    assert resolve_role({"email": "lead@trafford.gov.uk"}, config) is Role.ADMIN  # exact e-mail, any case
    assert resolve_role({"email": "someone@TRAFFORD.gov.uk"}, config) is Role.EDITOR  # domain
    assert resolve_role({"email": "gp@nhs.net", "groups": ["estates-editors"]}, config) is Role.EDITOR
    assert resolve_role({"email": "x@trafford.gov.uk", "groups": ["estates-admins"]}, config) is Role.ADMIN
    assert resolve_role({"preferred_username": "y@nhs.net"}, config) is Role.VIEWER  # unknown: viewer
    refusing = RolesConfig.from_toml(ROLES.replace('"viewer"', '"refuse"', 1))
    assert resolve_role({"email": "y@nhs.net"}, refusing) is None
    assert identity_from_claims({"email": "y@nhs.net"}, refusing) is None


def test_identity_from_claims_uses_email_as_audit_name() -> None:
    person = identity_from_claims({"email": "Ed@Trafford.gov.uk", "name": "Ed", "groups": "g1"},
                                  RolesConfig.from_toml(ROLES))
    assert person == Identity(name="Ed", email="ed@trafford.gov.uk", role=Role.EDITOR, groups=("g1",))
    assert person.actor == "ed@trafford.gov.uk"
    assert person.may("override")
    assert not person.may("ingest")


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
