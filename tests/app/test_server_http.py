"""The web server answered over real HTTP (issue 20, items 11 and 13): the cookie route believes
`X-Forwarded-Proto` only with FT_TRUST_PROXY=1, refuses a cross-site POST (by `Origin` or `Sec-Fetch-Site`)
without spending the ticket, `/_stcore/metrics` is closed, `/media/...` needs a live session's cookie, and
every response forbids framing by another site. One app (`streamlit run streamlit_app.py`) on a free port,
its store prepared before it starts."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from helpers.streamlit_server import StreamlitServer
from starlette.requests import Request

from annotations import store
from annotations.accounts import sessions, users
from pages import server as web

pytestmark = pytest.mark.slow

PASSWORD = "velvet-harbor-pines-29"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with anna and six fresh login tickets (each trades for a cookie once, within two minutes)."""
    app = StreamlitServer(tmp_path_factory.mktemp("server"))
    con = store.connect(app.db_path)
    anna = users.create_user(con, "anna", PASSWORD)
    app.tickets = [sessions.start(con, anna.user_id).ticket for _ in range(6)]
    con.close()
    app.start()
    yield app
    app.stop()


def _request(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    """(status, headers) of one request; urllib raises on 4xx, which is an answer here."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def _post_ticket(server, ticket: str, **headers):
    return _request(f"{server.url}/_ft/session", "POST", ticket.encode(), headers)


def test_a_cross_site_login_post_is_refused_and_leaves_the_ticket_unspent(server):
    ticket = server.tickets[0]
    # the login CSRF: another site's page posts a ticket; only SameSite handling stood in the way before
    assert _post_ticket(server, ticket, Origin="https://evil.example")[0] == 403
    assert _post_ticket(server, ticket, **{"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert _post_ticket(server, ticket, **{"Sec-Fetch-Site": "same-site"})[0] == 403
    assert _post_ticket(server, ticket, Origin="null")[0] == 403
    same_origin = {"Origin": server.url, "Sec-Fetch-Site": "same-origin"}
    status, headers = _post_ticket(server, ticket, **same_origin)
    assert status == 204 and "ft_session=" in headers["set-cookie"]
    forget = _request(f"{server.url}/_ft/forget", "POST", b"", {"Origin": "https://evil.example"})
    assert forget[0] == 403


def test_x_forwarded_proto_is_ignored_without_ft_trust_proxy(server):
    for header in ({"X-Forwarded-Proto": "https"}, {"Forwarded": "for=192.0.2.1;proto=https"}):
        status, headers = _post_ticket(
            server, server.tickets[1 + len(header) + ("Forwarded" in header)], **header
        )
        assert status == 204
        cookie = headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie


def test_metrics_are_closed_and_every_answer_forbids_framing_by_other_sites(server):
    assert _request(f"{server.url}/_stcore/metrics")[0] == 404
    assert _request(f"{server.url}/_stcore/metrics", headers={"Accept": "application/x-protobuf"})[0] == 404
    for path in ("/", "/_stcore/health", "/annotate", "/_stcore/metrics"):
        _, headers = _request(f"{server.url}{path}")
        assert headers["Content-Security-Policy"] == "frame-ancestors 'self'", path
        assert headers["X-Frame-Options"] == "SAMEORIGIN" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_media_needs_the_cookie_of_a_live_session(server):
    """Streamlit serves /media/<id> to anyone who has the URL; a file id that does not exist answers 404 to a
    live session, so a 403 here is the guard, not a missing file."""
    url = f"{server.url}/media/0123456789abcdef0123456789abcdef.zip"
    assert _request(url)[0] == 403
    assert _request(url, headers={"Cookie": "ft_session=made-up"})[0] == 403
    _, headers = _post_ticket(server, server.tickets[4], Origin=server.url)
    cookie = headers["set-cookie"].split(";")[0]
    assert _request(url, headers={"Cookie": cookie})[0] == 404  # through the guard, to Streamlit's own answer


def test_the_bundled_fonts_and_icons_load_without_a_session(server):
    """The login page's own assets under /static/media/ (the text font, the icon font) load for a visitor
    with no cookie yet: the media guard once refused them too, and every page showed icon names ("home",
    "key") instead of icons."""
    from pathlib import Path

    from streamlit import file_util

    fonts = sorted(p.name for p in (Path(file_util.get_static_dir()) / "static" / "media").glob("*.woff2"))
    icons = [name for name in fonts if name.startswith("MaterialSymbols")]
    assert icons
    for name in fonts[:3] + icons:
        assert _request(f"{server.url}/static/media/{name}")[0] == 200, name
    assert (
        _request(f"{server.url}/media/0123456789abcdef0123456789abcdef.zip")[0] == 403
    )  # the guard still holds


def _scope_request(headers: dict[str, str], scheme: str = "http") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request(
        {"type": "http", "method": "POST", "scheme": scheme, "path": "/_ft/session", "headers": raw}
    )


def test_behind_a_trusted_proxy_its_scheme_and_host_count(monkeypatch):
    proxied = {
        "Host": "127.0.0.1:8501",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "annotate.example.org",
    }
    same_site = dict(proxied, Origin="https://annotate.example.org", **{"Sec-Fetch-Site": "same-origin"})
    assert not web.is_https(_scope_request(proxied))
    assert web.is_cross_site(_scope_request(same_site))  # the Origin is not the Host the app was asked for
    monkeypatch.setenv("FT_TRUST_PROXY", "1")
    assert web.is_https(_scope_request(proxied))
    assert web.is_https(_scope_request({"Forwarded": "for=192.0.2.1;proto=https"}))
    assert not web.is_cross_site(_scope_request(same_site))
    assert web.is_cross_site(_scope_request(dict(same_site, Origin="https://evil.example")))
    assert not web.is_cross_site(_scope_request({"Host": "x"}))  # no browser headers: curl, not a CSRF
