"""Sign-in through a real OpenID Connect provider, in headless Chromium: roles decide what people can do.

A real OIDC provider (``oidc-provider-mock``: discovery, authorisation form, token endpoint, signed ID tokens) runs on
127.0.0.1 in this process; the app (app.py) runs on another loopback port with a temporary secrets file (``[auth]``
pointing at the provider, via ``--secrets.files``; the repo's own ``.streamlit/secrets.toml`` is never touched) and a
temporary roles file. Each test signs one person in through the provider's form in a fresh browser context:

* a viewer sees no edit controls, and a write in their name through the domain API is refused by the store;
* an editor's classification is saved and the audit history records their e-mail from the provider;
* an admin sees the register upload; signing out returns to the sign-in screen;
* a group claim from the provider gives the role the roles file names for that group;
* identity is the provider's subject plus a *verified* e-mail: two people with one display name get their own roles,
  and an address the provider did not verify gets no domain role (the roles file's ``trafford.gov.uk`` editors).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import oidc_provider_mock
import pytest
import werkzeug.serving
from playwright.sync_api import Page

from estates.auth import Authoriser, PermissionDenied, RolesConfig, identity_from_claims
from estates.store import open_store

from .harness import ARTIFACTS_DIR, REPO_ROOT, free_port, run_streamlit, search_estate, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = REPO_ROOT / "app.py"
TOWN_HALL = "trafford-council:TMBC0008/T0000001"
TOWN_HALL_UPRN = "10091813602"
VIEWER = "vera.viewer@partner.nhs.net"
EDITOR = "ed.editor@trafford.gov.uk"
ADMIN = "ada.admin@trafford.gov.uk"
GROUP_EDITOR = "gita.gp@practice.nhs.net"  # an editor through a group claim from the provider
STRANGER = "mallory@trafford.gov.uk"  # in the editors' domain, but the provider did not verify it
ROLES = f"""
unknown_users = "viewer"

[domains]
"trafford.gov.uk" = "editor"

[groups]
"estates-editors" = "editor"

[emails]
"{ADMIN}" = "admin"
"{EDITOR}" = "editor"
"""


@pytest.fixture(scope="module")
def idp() -> Iterator[str]:
    """A real OIDC provider on a loopback port; yields its base URL."""
    verified = {"email_verified": True}
    users = [
        oidc_provider_mock.User(sub=GROUP_EDITOR, claims={"email": GROUP_EDITOR, "name": "Gita GP", **verified,
                                                          "groups": ["estates-editors", "all-staff"]}),
        *(oidc_provider_mock.User(sub=email, claims={"email": email, **verified}) for email in (VIEWER, EDITOR, ADMIN)),
        # Two people called J Smith, no e-mail: the council's is in the editors' group, the partner's is not.
        oidc_provider_mock.User(sub="jsmith-council", claims={"name": "J Smith", "groups": ["estates-editors"]}),
        oidc_provider_mock.User(sub="jsmith-partner", claims={"name": "J Smith"}),
        oidc_provider_mock.User(sub="mallory", claims={"name": "Mallory", "email": STRANGER, "email_verified": False}),
    ]
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(user_claims=users), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture(scope="module")
def roles_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The roles file the app under test reads (``ESTATES_ROLES_FILE``)."""
    path = tmp_path_factory.mktemp("signin-roles") / "roles.toml"
    path.write_text(ROLES, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def app_url(idp: str, module_store: Path, roles_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with sign-in configured against ``idp``, on a loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    secrets_file = tmp_path_factory.mktemp("signin-secrets") / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "trafford-estates-test"\n'
        f'client_secret = "{secrets.token_hex(16)}"\n'
        f'server_metadata_url = "{idp}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    env = {"ESTATES_DATABASE_URL": str(module_store), "ESTATES_ROLES_FILE": str(roles_file), "ESTATES_ACTOR": None}
    log_path = ARTIFACTS_DIR / "streamlit-signin.log"
    with run_streamlit(APP, env=env, port=port, extra_args=("--secrets.files", str(secrets_file)),
                       log_path=log_path):
        yield url
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    assert secrets_file.read_text(encoding="utf-8").split("cookie_secret = ")[1][:20] not in log_text


def _sign_in(page: Page, app_url: str, email: str, *, path: str = "", shown: str | None = None) -> None:
    """Open the app, press Sign in, pick the provider's user ``email`` (its subject) on the provider's form, land back
    in the app at ``path``; ``shown`` is the audit name the sidebar then shows (default ``email``)."""
    shown = email if shown is None else shown
    # The provider's form links a stylesheet from a CDN: answered here, so nothing leaves the machine.
    page.route("https://cdn.jsdelivr.net/**", lambda route: route.fulfill(status=200, body="",
                                                                          content_type="text/css"))
    page.goto(app_url + path)
    page.get_by_role("button", name="Sign in").click(timeout=60_000)
    page.wait_for_url("**/oauth2/authorize**", timeout=30_000)
    page.locator(f'button[name="sub"][value="{email}"]').click()  # a user the provider knows, with its claims
    page.get_by_text(f"Signed in as {shown}", exact=False).wait_for(timeout=60_000)
    assert "code=" not in page.url
    assert "token" not in page.url
    if path:  # the provider sends people back to the app's start page
        page.goto(app_url + path)
        page.get_by_text(f"Signed in as {shown}", exact=False).wait_for(timeout=60_000)
    wait_until_idle(page)


def test_sign_in_is_required_before_any_data(page: Page, app_url: str) -> None:
    page.goto(app_url + "classify")
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    assert page.get_by_label("Search name, postcode or UPRN").count() == 0
    assert page.get_by_text("Sign-in is not configured").count() == 0


def test_viewer_sees_no_edit_controls_and_the_store_refuses_their_write(page: Page, app_url: str,
                                                                       module_store: Path, roles_file: Path) -> None:
    _sign_in(page, app_url, VIEWER, path="classify")
    page.get_by_text(f"Signed in as {VIEWER} (viewer)").wait_for()
    page.get_by_text("You can look but not change").wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Save status").count() == 0
    assert page.get_by_label("Reason (required, kept in the audit trail)").count() == 0
    page.screenshot(path=ARTIFACTS_DIR / "signin_viewer_classify.png")

    page.get_by_role("link", name="Data").click()
    page.get_by_text("Loading a register needs the admin role.").wait_for(timeout=30_000)
    assert page.locator('[data-testid="stFileUploader"]').count() == 0

    # The same person through the domain API: the store itself refuses.
    person = identity_from_claims({"iss": "http://127.0.0.1", "sub": VIEWER, "email": VIEWER, "email_verified": True},
                                  RolesConfig.load(roles_file))
    assert person is not None
    guard = Authoriser()
    guard.admit(person)
    with open_store(module_store, authoriser=guard) as store:
        before = store.building(TOWN_HALL)
        with pytest.raises(PermissionDenied, match="needs the editor role"):
            store.set_status(TOWN_HALL, "surplus", reason="viewer tries", actor=person.actor,
                             expected_version=before.version)
        assert store.building(TOWN_HALL).version == before.version


def test_editor_classification_is_recorded_with_their_identity(page: Page, app_url: str, module_store: Path) -> None:
    with open_store(module_store) as store:
        before = store.building(TOWN_HALL)
    _sign_in(page, app_url, EDITOR, path="classify")
    page.get_by_text(f"Signed in as {EDITOR} (editor)").wait_for()
    search_estate(page, TOWN_HALL_UPRN)
    page.get_by_text("All 1 in the table").click()
    wait_until_idle(page)  # each choice reruns the page: the next click must land on the redrawn widget
    page.locator('[data-testid="stButtonGroup"]').get_by_text("surplus", exact=True).click()
    wait_until_idle(page)
    reason = "Vacant since 2024; decided by the estates lead (sign-in browser test)"
    page.get_by_label("Reason (required, kept in the audit trail)").fill(reason)
    wait_until_idle(page)
    page.get_by_role("button", name="Save status").click()
    page.get_by_text("Saved: 1 site set to 'surplus'").wait_for(timeout=30_000)
    assert page.locator('[data-testid="stFileUploader"]').count() == 0

    with open_store(module_store) as store:
        after = store.building(TOWN_HALL)
        entry = store.history(TOWN_HALL)[-1]
    assert after.version == before.version + 1
    assert after.override_status == "surplus"
    assert after.override_by == EDITOR
    assert (entry.action, entry.actor, entry.reason, entry.to_value) == ("override", EDITOR, reason, "surplus")


def test_admin_sees_the_register_upload_and_can_sign_out(page: Page, app_url: str) -> None:
    _sign_in(page, app_url, ADMIN, path="data")
    page.get_by_text(f"Signed in as {ADMIN} (admin)").wait_for()
    page.locator('[data-testid="stFileUploader"]').wait_for(timeout=30_000)
    assert page.get_by_text("Loading a register needs the admin role.").count() == 0
    page.screenshot(path=ARTIFACTS_DIR / "signin_admin_data.png")

    page.get_by_role("button", name="Sign out").click()
    # Streamlit clears its session cookie and asks the provider to end the session (OIDC RP-initiated logout).
    page.get_by_role("button", name="End session").click(timeout=30_000)
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    page.goto(app_url + "data")
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    assert page.get_by_text(f"Signed in as {ADMIN}").count() == 0


def test_group_claim_from_the_provider_gives_the_editor_role(page: Page, app_url: str) -> None:
    _sign_in(page, app_url, GROUP_EDITOR, path="classify")
    page.get_by_text(f"Signed in as {GROUP_EDITOR} (editor)").wait_for()
    page.get_by_role("button", name="Save status").wait_for(timeout=30_000)


def test_two_people_with_one_display_name_get_their_own_roles(page: Page, app_url: str, idp: str) -> None:
    council, partner = f"jsmith-council ({idp})", f"jsmith-partner ({idp})"
    _sign_in(page, app_url, "jsmith-council", shown=council)
    page.get_by_text(f"Signed in as {council} (editor)").wait_for()
    page.context.clear_cookies()  # the next person at the same browser
    _sign_in(page, app_url, "jsmith-partner", path="classify", shown=partner)
    page.get_by_text(f"Signed in as {partner} (viewer)").wait_for()
    page.get_by_text("You can look but not change").wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Save status").count() == 0
    assert page.get_by_text("J Smith").count() == 0  # the display name is never the audit name


def test_an_unverified_address_in_the_editors_domain_gets_no_role(page: Page, app_url: str, idp: str) -> None:
    shown = f"mallory ({idp})"
    _sign_in(page, app_url, "mallory", shown=shown)
    page.get_by_text(f"Signed in as {shown} (viewer)").wait_for()
    page.get_by_text("did not verify your e-mail address").wait_for(timeout=30_000)
    assert page.get_by_text(STRANGER).count() == 0
