"""Checksummed downloads, against a loopback HTTP server on 127.0.0.1 (never the real URLs).

Faults are made on that server (a body cut short, a transfer that stalls, a client killed
mid-transfer) or in the cache (a corrupt cached copy); every one must end in one clear
GalaxyLabError that says truthfully what was kept, and never leave a file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import urllib3

from galaxylab.datasets import DataWarning, registry
from galaxylab.datasets.registry import REGISTRY, RemoteFile, fetch
from galaxylab.errors import GalaxyLabError

PAYLOAD = bytes(range(256)) * 400  # 100 kB


class Server:
    """Serves ``files`` by name; ``truncated`` names announce their full length, send half;
    ``stalled`` names send half, then nothing until ``release`` is set (at most 20 s)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncated: set[str] = set()
        self.stalled: set[str] = set()
        self.release = threading.Event()
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                name = self.path.lstrip("/")
                outer.requests.append(name)
                if name not in outer.files:
                    self.send_error(404)
                    return
                body = outer.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in outer.stalled:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    outer.release.wait(20)
                else:
                    self.wfile.write(body[: len(body) // 2] if name in outer.truncated else body)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def entry(self, name: str, data: bytes, known_hash: str | None) -> RemoteFile:
        self.files[name] = data
        return RemoteFile(
            name=name,
            url=self.url(name),
            known_hash=known_hash,
            size=len(data),
            description="test file",
            manual="copy it from the test server",
            hash_source="computed by the test",
        )


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path / "data"))
    served = Server()
    served.thread.start()
    yield served
    served.release.set()
    served.httpd.shutdown()
    served.httpd.server_close()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def cache_files() -> list[str]:
    """Everything in the download cache, hidden files and folders included."""
    return sorted(p.name for p in registry.downloads_dir().iterdir())


def test_download_is_verified_cached_and_not_repeated(server: Server) -> None:
    entry = server.entry("cube.h5", PAYLOAD, sha256(PAYLOAD))
    path = fetch(entry, progress=False)
    assert path == registry.downloads_dir() / "cube.h5"
    assert path.read_bytes() == PAYLOAD
    assert server.requests == ["cube.h5"]
    assert fetch(entry, progress=False) == path
    assert server.requests == ["cube.h5"]  # already cached and verified: no new request


def test_md5_checksums_work(server: Server) -> None:
    table = b"objid,sample,asset_id\n1,original,16\n"
    entry = server.entry("map.csv", table, "md5:" + hashlib.md5(table).hexdigest())
    assert fetch(entry, progress=False).read_bytes().startswith(b"objid")


def test_wrong_checksum_leaves_nothing(server: Server) -> None:
    entry = server.entry("cube.h5", PAYLOAD, sha256(b"something else"))
    with pytest.raises(
        GalaxyLabError,
        match=r"cube\.h5 .* does not match its checksum.*"
        r"Get it by hand: copy it from the test server",
    ):
        fetch(entry, progress=False)
    assert cache_files() == []


def test_truncated_transfer_leaves_nothing(server: Server) -> None:
    entry = server.entry("cube.h5", PAYLOAD, sha256(PAYLOAD))
    server.truncated.add("cube.h5")
    with pytest.raises(
        GalaxyLabError,
        match=r"cube\.h5: download .*interrupted before the end.*"
        r"nothing was kept",
    ) as caught:
        fetch(entry, progress=False)
    assert "\n" not in str(caught.value)
    assert cache_files() == []


def test_truncated_unverified_transfer_leaves_nothing(server: Server) -> None:
    entry = server.entry("table.csv.gz", PAYLOAD, None)
    server.truncated.add("table.csv.gz")
    with pytest.raises(GalaxyLabError, match="interrupted before the end"):
        fetch(entry, progress=False, allow_unverified=True)
    assert cache_files() == []


def test_offline_says_how_to_get_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path / "data"))
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    entry = RemoteFile(
        "x.h5",
        f"http://127.0.0.1:{port}/x.h5",
        sha256(PAYLOAD),
        1,
        "x",
        "ask a colleague for x.h5",
        "test",
    )
    with pytest.raises(
        GalaxyLabError,
        match=r"could not reach 127\.0\.0\.1.*offline.*"
        r"ask a colleague for x\.h5, then save it as",
    ):
        fetch(entry, progress=False)
    assert cache_files() == []


def test_unverified_file_needs_consent(server: Server) -> None:
    entry = server.entry("gz2_hart16.csv.gz", PAYLOAD, None)
    with pytest.raises(GalaxyLabError, match="no published checksum"):
        fetch(entry, progress=False)
    assert server.requests == []
    with pytest.warns(DataWarning, match=hashlib.sha256(PAYLOAD).hexdigest()):
        path = fetch(entry, progress=False, allow_unverified=True)
    assert path.read_bytes() == PAYLOAD


def test_user_supplied_hash_verifies_an_unverified_entry(server: Server) -> None:
    entry = server.entry("gz2_hart16.csv.gz", PAYLOAD, None)
    assert fetch(entry, progress=False, known_hash=sha256(PAYLOAD)).read_bytes() == PAYLOAD
    (registry.downloads_dir() / "gz2_hart16.csv.gz").unlink()
    with pytest.raises(GalaxyLabError, match="does not match"):
        fetch(entry, progress=False, known_hash=sha256(b"other"))


def test_registry_declarations() -> None:
    assert set(REGISTRY) == {
        "Galaxy10_DECals.h5",
        "images_gz2.zip",
        "gz2_filename_mapping.csv",
        "gz2_hart16.csv.gz",
    }
    for name, entry in REGISTRY.items():
        assert entry.name == name and entry.url.startswith("https://")
        assert entry.manual and entry.description and entry.hash_source
        if entry.known_hash is not None:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}|md5:[0-9a-f]{32}", entry.known_hash)
    assert REGISTRY["Galaxy10_DECals.h5"].known_hash == (
        "sha256:19aefc477c41bb7f77ff07599a6b82a038dc042f889a111b0d4d98bb755c1571"
    )
    assert REGISTRY["images_gz2.zip"].known_hash == "md5:bc647032d31e50c798770cf4430525c7"
    assert not REGISTRY["gz2_hart16.csv.gz"].verified


def test_unknown_name() -> None:
    with pytest.raises(GalaxyLabError, match="no remote file called 'mnist'"):
        fetch("mnist")


# --- faults: malformed checksums, stalls, short bodies, corrupt caches, kills, file modes ---


@pytest.mark.parametrize(
    "bad",
    [
        "sha256:xyz",
        "sha256:" + "a" * 63,
        "md5:" + "a" * 64,
        "sha256:" + "g" * 64,
        "crc32:deadbeef",
        "sha256:",
    ],
)
def test_malformed_checksum_is_refused_before_downloading(server: Server, bad: str) -> None:
    entry = server.entry("cube.h5", PAYLOAD, sha256(PAYLOAD))
    with pytest.raises(GalaxyLabError, match="is not a valid checksum") as caught:
        fetch(entry, progress=False, known_hash=bad)
    assert repr(bad) in str(caught.value) and "\n" not in str(caught.value)
    declared = server.entry("map.csv", PAYLOAD, bad)
    with pytest.raises(GalaxyLabError, match="is not a valid checksum"):
        fetch(declared, progress=False)
    assert server.requests == [] and cache_files() == []


def test_bare_and_upper_case_hex_checksums_are_accepted(server: Server) -> None:
    entry = server.entry("cube.h5", PAYLOAD, hashlib.sha256(PAYLOAD).hexdigest().upper())
    assert fetch(entry, progress=False).read_bytes() == PAYLOAD


def test_stalled_transfer_is_not_called_offline(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "TIMEOUT_SECONDS", 0.5)
    entry = server.entry("cube.h5", PAYLOAD, sha256(PAYLOAD))
    server.stalled.add("cube.h5")
    with pytest.raises(GalaxyLabError) as caught:
        fetch(entry, progress=False)
    message = str(caught.value)
    assert "offline" not in message and "\n" not in message
    assert re.search(r"stalled: the server stopped sending after [1-9]\d* kB of 102 kB", message)
    assert "try again" in message and "nothing was kept" in message
    assert cache_files() == []


@pytest.fixture
def lenient_urllib3(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make urllib3 accept a body shorter than its Content-Length, as urllib3 1.x does."""
    original = urllib3.response.HTTPResponse.__init__

    def init(self: object, *args: object, **kwargs: object) -> None:
        kwargs["enforce_content_length"] = False
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib3.response.HTTPResponse, "__init__", init)


@pytest.mark.usefixtures("lenient_urllib3")
@pytest.mark.parametrize("verified", [True, False])
def test_short_transfer_is_never_kept(server: Server, verified: bool) -> None:
    entry = server.entry("table.csv.gz", PAYLOAD, sha256(PAYLOAD) if verified else None)
    server.truncated.add("table.csv.gz")
    with pytest.raises(GalaxyLabError, match=r"interrupted before the end.*\(51 kB of 102 kB\)"):
        fetch(entry, progress=False, allow_unverified=True)
    assert cache_files() == []


def test_corrupt_cached_copy_is_removed_and_said_so(tmp_path: Path, server: Server) -> None:
    entry = server.entry("cube.h5", PAYLOAD, sha256(PAYLOAD))
    server.truncated.add("cube.h5")
    cached = registry.downloads_dir() / "cube.h5"
    cached.write_bytes(b"half a file")
    with pytest.raises(GalaxyLabError) as caught:
        fetch(entry, progress=False)
    message = str(caught.value)
    assert "the cached copy" in message and "did not match its checksum and was removed" in message
    assert "nothing was kept" not in message
    assert not cached.exists() and cache_files() == []
    server.truncated.clear()
    cached.write_bytes(b"half a file")
    assert fetch(entry, progress=False).read_bytes() == PAYLOAD  # replaced by a good copy


def test_a_killed_download_is_cleaned_up_by_the_next_fetch(server: Server) -> None:
    server.entry("cube.h5", PAYLOAD, sha256(PAYLOAD))
    server.stalled.add("cube.h5")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from galaxylab.datasets.registry import RemoteFile, fetch; "
            "fetch(RemoteFile('cube.h5', sys.argv[1], None, None, 'd', 'm', 'h'), "
            "progress=False, allow_unverified=True)",
            server.url("cube.h5"),
        ],
        env={**os.environ, "GALAXYLAB_DATA": str(registry.downloads_dir().parent)},
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        cache = registry.downloads_dir()
        while not any(p.is_file() and p.stat().st_size for p in cache.rglob("*")):
            assert time.monotonic() < deadline, "the child never started writing"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    server.release.set()
    assert cache_files() != []  # the killed child's partial download
    good = server.entry("map.csv", PAYLOAD, sha256(PAYLOAD))
    fetch(good, progress=False)
    assert cache_files() == ["map.csv"]


def test_a_live_download_is_left_alone(server: Server) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        partial = registry.downloads_dir() / f".fetch-{other.pid}-0"
        partial.mkdir()
        (partial / "tmp123").write_bytes(b"in progress")
        fetch(server.entry("map.csv", PAYLOAD, sha256(PAYLOAD)), progress=False)
        assert (partial / "tmp123").exists()
    finally:
        other.kill()
        other.wait(30)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_downloaded_file_gets_the_mode_the_umask_gives(
    server: Server, umask: int, mode: int
) -> None:
    entry = server.entry("cube.h5", PAYLOAD, sha256(PAYLOAD))
    old = os.umask(umask)
    try:
        path = fetch(entry, progress=False)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode
