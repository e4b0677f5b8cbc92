"""The web app's safety rules (issue 16): token off loopback, CSRF and same-origin on every
state change, no path outside the workspace, one measurement at a time, GET never measures."""

from __future__ import annotations

import re
import time

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from roomtruth.web.app import create_app  # noqa: E402
from roomtruth.web.security import Guard, inside, is_loopback, PathRefused  # noqa: E402

BASE = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    from roomtruth.workspace import Workspace

    d = tmp_path_factory.mktemp("web") / "room"
    Workspace.init(d, name="web test room")
    return d


def client(room, **kw):
    return TestClient(create_app(room, **kw), base_url=kw.pop("base_url", BASE) if "base_url" in kw else BASE)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_loopback_needs_no_token_and_pages_render(room):
    c = client(room)
    for path in ("/", "/history", "/measure", "/profiles", "/mixes", "/report", "/api/status"):
        r = c.get(path)
        assert r.status_code == 200, (path, r.text[:300])
    assert "web test room" in c.get("/").text


def test_remote_bind_requires_the_token_on_every_request(room):
    with pytest.raises(ValueError, match="needs a token"):
        Guard("0.0.0.0", 8765, token=None)
    app = create_app(room, host="192.0.2.7", port=8765, token="t0ken-for-the-test-123")
    c = TestClient(app, base_url="http://192.0.2.7:8765")
    for path in ("/", "/events", "/api/status", "/static/app.css"):
        r = c.get(path)
        assert r.status_code == 401 and "access token" in r.text, path
    assert c.get("/", headers={"x-roomtruth-token": "wrong-token-wrong-token"}).status_code == 401
    # the token once in the URL: a cookie carries it from then on, and the URL loses it
    r = c.get("/?token=t0ken-for-the-test-123", follow_redirects=False)
    assert r.status_code == 303 and "token" not in r.headers["location"]
    assert c.get("/").status_code == 200
    assert c.get("/api/status").json()["room"] == "web test room"


def test_foreign_host_header_is_refused(room):
    c = TestClient(create_app(room), base_url="http://evil.example:8765")
    r = c.get("/")
    assert r.status_code == 400 and "answers as 127.0.0.1:8765" in r.text    # DNS rebinding


def test_state_changes_need_post_csrf_and_same_origin(room):
    c = client(room)
    token = csrf_of(c.get("/measure").text)
    # GET never starts a sweep
    assert c.get("/measure?device=simulated").status_code == 200
    assert c.get("/api/status").json()["job"] is None
    # no token / wrong token
    r = c.post("/profiles/main/activate", data={})
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post("/profiles/main/activate", data={"csrf": "nope"})
    assert r.status_code == 403
    # right token but another site's origin (a cross-origin form post)
    r = c.post("/profiles/main/activate", data={"csrf": token}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and "is not from this page" in r.text
    r = c.post("/monitor/toggle", data={"csrf": token}, headers={"referer": "http://evil.example/x"})
    assert r.status_code == 403
    r = c.post("/mixes", data={"csrf": token}, headers={"origin": "null"})
    assert r.status_code == 403
    # same origin with the token passes the guard (then fails for its own reason: no such profile)
    r = c.post("/profiles/main/activate", data={"csrf": token}, headers={"origin": BASE})
    assert r.status_code == 400 and "not a profile of this room" in r.text
    assert c.get("/api/status").json()["job"] is None


def test_no_path_leaves_the_workspace(room, tmp_path):
    c = client(room)
    token = csrf_of(c.get("/").text)
    (room.parent / "secret.txt").write_text("outside")
    for path in ("/measurements/..%2F..%2Fsecret.txt", "/measurements/../secret.txt", "/measurements/.hidden",
                 "/mixes/..%2Fsecret.txt", "/studios/..%2F..%2Fetc/letter", "/static/../app.py",
                 "/static/..%2F..%2Fsecurity.py"):
        r = c.get(path)
        assert r.status_code in (400, 404), path
        assert "outside" not in r.text and "def " not in r.text, path
    r = c.post("/profiles/..%2F..%2Fsecret.txt/activate", data={"csrf": token}, headers={"origin": BASE})
    assert r.status_code in (400, 404)
    r = c.post("/measurements/..%2Fx/correct", data={"csrf": token, "profile": "../../evil"},
               headers={"origin": BASE})
    assert r.status_code in (400, 404)
    # an upload named with a path lands inside the workspace under its plain name
    r = c.post("/mixes", data={"csrf": token}, files={"files": ("../../escape.wav", b"not audio", "audio/wav")},
               headers={"origin": BASE}, follow_redirects=False)
    assert not (room.parent / "escape.wav").exists() and not (room.parent.parent / "escape.wav").exists()
    assert list((room / "mixes" / "uploads").glob("*escape.wav"))
    with pytest.raises(PathRefused):
        inside(room, "..")
    with pytest.raises(PathRefused):
        inside(room, "a/b")
    (room / "link").symlink_to(tmp_path)
    with pytest.raises(PathRefused, match="outside"):
        inside(room, "link")
    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_second_measurement_is_refused_while_one_runs(room):
    c = client(room)
    token = csrf_of(c.get("/measure").text)
    form = {"csrf": token, "device": "simulated", "channels": ["L"], "sweep_s": "2", "label": "first"}
    r1 = c.post("/measure", data=form, headers={"origin": BASE}, follow_redirects=False)
    assert r1.status_code == 303 and "/measure/job/" in r1.headers["location"]
    r2 = c.post("/measure", data={**form, "label": "second"}, headers={"origin": BASE}, follow_redirects=False)
    assert r2.status_code == 409 and "a measurement is already running" in r2.text
    deadline = time.monotonic() + 60
    while c.get("/api/status").json()["job"]["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    job = c.get("/api/status").json()["job"]
    assert job["state"] == "done", job
    assert any(m.startswith("mic level:") for m in job["messages"])       # the meter's source
    # a refusal is the CLI's own sentence
    r3 = c.post("/measure", data={**form, "label": "x", "sweep_s": "99"}, headers={"origin": BASE})
    assert r3.status_code == 400 and "outside 0.5..30 s" in r3.text
