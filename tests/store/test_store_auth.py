"""Roles enforced by the store itself (both backends): a viewer's direct write through the API is refused."""

from __future__ import annotations

import pytest
from store_helpers import trafford_records

from estates.auth import Authoriser, Identity, PermissionDenied, Role
from estates.store import open_store

TOWN_HALL = "trafford-council:TMBC0001/T0000003"

VIEWER = Identity(name="Vera Viewer", email="vera@partner.nhs.net", role=Role.VIEWER)
EDITOR = Identity(name="Ed Editor", email="ed@trafford.gov.uk", role=Role.EDITOR)
ADMIN = Identity(name="Ada Admin", email="ada@trafford.gov.uk", role=Role.ADMIN)


def test_store_with_authoriser_enforces_roles_and_records_identity(store_url: str) -> None:
    with open_store(store_url) as plain:  # no authoriser: the embedded default and the CLI, as before
        plain.upsert_buildings(trafford_records(), actor="os-user", source="assets.csv")
    guard = Authoriser()  # nobody admitted yet: every write refused
    for person in (VIEWER, EDITOR, ADMIN):
        guard.admit(person)
    with open_store(store_url, authoriser=guard) as store:
        before = store.building(TOWN_HALL)
        with pytest.raises(PermissionDenied, match=r"vera@partner\.nhs\.net \(viewer\) may not change a "
                                                   r"classification: needs the editor role"):
            store.set_status(TOWN_HALL, "surplus", reason="viewer tries", actor=VIEWER.actor,
                             expected_version=before.version)
        with pytest.raises(PermissionDenied, match="not signed in"):
            store.set_status(TOWN_HALL, "surplus", reason="stranger", actor="mallory@example.org",
                             expected_version=before.version)
        with pytest.raises(PermissionDenied, match="needs the admin role"):
            store.upsert_buildings(trafford_records(), actor=EDITOR.actor, source="assets.csv")
        with pytest.raises(PermissionDenied):
            store.reposition(TOWN_HALL, lon=-2.3, lat=53.45, reason="viewer moves it", actor=VIEWER.actor,
                             expected_version=before.version)
        assert store.building(TOWN_HALL).version == before.version  # nothing written
        assert not [e for e in store.history(TOWN_HALL) if e.actor == VIEWER.actor]

        version = store.set_status(TOWN_HALL, "surplus", reason="Vacant since 2023", actor=EDITOR.actor,
                                   expected_version=before.version)
        after = store.building(TOWN_HALL)
        assert after.version == version
        assert after.override_by == EDITOR.actor
        assert store.history(TOWN_HALL)[-1].actor == EDITOR.actor
        store.upsert_buildings(trafford_records(), actor=ADMIN.actor, source="assets.csv")  # admin may load
