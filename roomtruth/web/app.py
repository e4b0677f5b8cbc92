"""Routes and pages of ``roomtruth serve`` (Starlette; pages rendered on the server with Jinja2,
a few lines of JavaScript for the live parts, everything shipped in the package).

Pages: ``/`` today's room, ``/history``, ``/measure`` (guided measurement), ``/profiles``
(correction, activation, A/B), ``/mixes`` (analysis, fingerprints, letters), ``/report``.
Live: ``/events`` is a server-sent event stream (live monitor status, the measurement job).
State changes are POST only (see :mod:`roomtruth.web.security`).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from calib.errors import RoomtruthError
from roomtruth.web import svg
from roomtruth.web.security import CSRF_HEADER, TOKEN_COOKIE, TOKEN_HEADER, Guard, PathRefused, inside, safe_name
from roomtruth.web.state import WebState, error_line, run_cli

__all__ = ["create_app"]

HERE = Path(__file__).resolve().parent
MAX_UPLOAD_BYTES = 2 << 30          # 2 GiB per mix file
MONITOR_COMMANDS = ("A", "B", "toggle", "bypass", "reload")


class GuardMiddleware:
    """Pure ASGI middleware: Host allow-list and access token on every HTTP request (event
    streams included).  A token given as ``?token=`` is moved into a cookie."""

    def __init__(self, app: Any, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        req = Request(scope)
        why = self.guard.check_host(req.headers.get("host"))
        if why is None:
            why = self.guard.check_token(req.query_params.get("token"), req.cookies.get(TOKEN_COOKIE),
                                         req.headers.get(TOKEN_HEADER))
            status = 401
        else:
            status = 400
        if why is not None:
            await HTMLResponse(_plain_page("Refused", why), status_code=status)(scope, receive, send)
            return
        if self.guard.token and req.query_params.get("token"):
            resp = RedirectResponse(str(req.url.remove_query_params("token")), status_code=303)
            resp.set_cookie(TOKEN_COOKIE, self.guard.token, httponly=True, samesite="strict")
            await resp(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _plain_page(title: str, sentence: str) -> str:
    from html import escape

    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)} — roomtruth</title>"
            f"<body style='font-family:sans-serif;margin:3em'><h1>{escape(title)}</h1><p>{escape(sentence)}</p>")


def _ago(ts: str) -> str:
    try:
        t = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        return str(ts)
    s = (datetime.now(timezone.utc) - t).total_seconds()
    if s < 90:
        return "just now"
    for unit, n in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if s >= n:
            k = int(s // n)
            return f"{k} {unit}{'s' if k != 1 else ''} ago"
    return str(ts)


def _fmt(v: Any, spec: str = ".2f") -> str:
    try:
        f = float(v)
    except Exception:  # noqa: BLE001 - None, text, a template's Undefined: shown as a dash
        return "—"
    return "—" if not math.isfinite(f) else format(f, spec)


def create_app(room: Path, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> Starlette:
    """The web app for the workspace ``room``."""
    state = WebState(room)
    guard = Guard(host, port, token=token)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["fmt"] = _fmt
    templates.env.filters["ago"] = _ago

    def page(request: Request, template: str, status_code: int = 200, **ctx: Any) -> Response:
        ctx.update(request=request, room_name=state.name, room_path=str(state.room), csrf=guard.csrf,
                   nav=template.split(".")[0], live=state.live())
        return templates.TemplateResponse(request, template, ctx, status_code=status_code)

    def refused(request: Request, sentence: str, status_code: int = 400, back: str = "/") -> Response:
        return page(request, "refused.html", status_code=status_code, sentence=sentence, back=back)

    async def posted(request: Request) -> tuple[Any, str | None]:
        form = await request.form(max_part_size=MAX_UPLOAD_BYTES)
        why = guard.check_state_change(request.method, request.headers.get(CSRF_HEADER) or form.get("csrf"),
                                       request.headers.get("origin"), request.headers.get("referer"),
                                       request.headers.get("host"))
        return form, why

    # ------------------------------------------------------------------ today's room
    async def dashboard(request: Request) -> Response:
        rows = await asyncio.to_thread(state.history, limit=200)
        sweeps = [r for r in rows if (r.meta or {}).get("source") != "programme"]
        watches = [r for r in rows if (r.meta or {}).get("source") == "programme"]
        latest = sweeps[0] if sweeps else None
        doc, note = state.document()
        prof_dir = state.active_profile_dir()
        prof = state.profile_info(prof_dir, active=True) if prof_dir else None
        changed = [c for c in (latest.checks if latest else ()) if c.verdict in ("warn", "fail")]
        return page(request, "dashboard.html", latest=latest, changed=changed, profile=prof,
                    findings=(doc.findings[:8] if doc is not None else []), doc_note=note,
                    watch=watches[0] if watches else None)

    async def events(request: Request) -> Response:
        """Server-sent events: ``live`` (monitor status) every second, ``job`` while a
        measurement runs, ``doc`` when the analysis behind the pages was renewed."""

        async def stream():
            last_key = None
            # each stream lives a minute, then the browser reconnects (retry 1 s): a tab that went
            # away without closing its stream never holds a connection long
            end = time.monotonic() + 60.0
            yield "retry: 1000\n\n"
            while time.monotonic() < end:
                if await request.is_disconnected():
                    break
                live = state.live()
                yield f"event: live\ndata: {json.dumps(live or {})}\n\n"
                if state.job is not None:
                    yield f"event: job\ndata: {json.dumps(state.job.to_dict())}\n\n"
                doc, note = state.document()
                key = (doc is not None, note)
                if key != last_key:
                    yield f"event: doc\ndata: {json.dumps({'ready': doc is not None and not note, 'note': note})}\n\n"
                    last_key = key
                await asyncio.sleep(1.0)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def api_status(request: Request) -> Response:
        rows = await asyncio.to_thread(state.history, limit=1)
        latest = rows[0] if rows else None
        prof = state.active_profile_dir()
        return JSONResponse({"room": state.name, "verdict": latest.verdict if latest else None,
                             "message": latest.message if latest else None,
                             "profile": state.profile_info(prof) if prof else None, "live": state.live(),
                             "job": state.job.to_dict() if state.job else None})

    # ------------------------------------------------------------------ history
    async def history(request: Request) -> Response:
        try:
            days = float(request.query_params.get("days", "0") or 0)
        except ValueError:
            days = 0.0
        rows = await asyncio.to_thread(state.history, limit=500)
        series = await asyncio.to_thread(state.series)
        cutoff = time.time() - days * 86400 if days > 0 else None

        def keep(p: Any) -> bool:
            if cutoff is None:
                return True
            try:
                return datetime.fromisoformat(p.time_utc.replace("Z", "+00:00")).timestamp() >= cutoff
            except ValueError:
                return True

        plots = []
        for label, pts in sorted(series.items()):
            pts = [p for p in pts if keep(p)]
            unit = next((p.unit for p in pts if p.unit), "")
            plots.append({"label": label, "svg": svg.trend_svg(pts, title=label, unit=unit)})
        return page(request, "history.html", rows=rows, plots=plots, days=days, measurements=state.measurements())

    async def history_entry(request: Request) -> Response:
        vid = request.path_params["vid"]
        rows = [r for r in await asyncio.to_thread(state.history, limit=5000) if r.id == vid]
        if not rows:
            return refused(request, f"no verification {vid} in this room's history", 404, "/history")
        return page(request, "history_entry.html", row=rows[0], meta=json.dumps(rows[0].meta, indent=1)[:20000])

    # ------------------------------------------------------------------ guided measurement
    def _speakers() -> tuple[list[dict], str, str]:
        """Speakers of room.toml (with their layout angles), a problem sentence, the interface."""
        try:
            cfg = state.config()
        except RoomtruthError as exc:
            return [], str(exc), ""
        nominal: dict[str, tuple] = {}
        if getattr(cfg, "layout", None):
            try:
                from calib.layouts import layout

                nominal = {sp.name: (sp.azimuth_deg, sp.elevation_deg) for sp in layout(cfg.layout).speakers}
            except RoomtruthError:
                nominal = {}
        out = []
        for s in getattr(cfg, "speakers", ()):
            az, el = nominal.get(s.name, (None, None))
            if az is None and s.position_m is not None and cfg.mic_position_m is not None:
                from calib.layouts import direction_deg

                az, el, _ = direction_deg(s.position_m, cfg.mic_position_m)
            out.append({"name": s.name, "azimuth_deg": az, "elevation_deg": el, "sub": bool(s.is_sub)})
        return out, "", str(getattr(cfg, "device", "") or "")

    async def measure_page(request: Request) -> Response:
        speakers, cfg_problem, configured = _speakers()
        devices = [("simulated", "the built-in simulated room"), ("rig", "the JACK virtual room (rig start first)")]
        if configured and configured not in ("simulated", "rig"):
            devices.insert(0, (configured, "the interface named in room.toml"))
        return page(request, "measure.html", speakers=speakers, cfg_problem=cfg_problem,
                    layout=svg.layout_svg(speakers) if speakers else "", devices=devices, job=state.job)

    async def measure_start(request: Request) -> Response:
        form, why = await posted(request)
        if why:
            return refused(request, why, 403, "/measure")
        device = str(form.get("device") or "simulated")
        chans = [str(c) for c in form.getlist("channels")]
        opts: dict[str, Any] = {"label": str(form.get("label") or "measurement"),
                                "position": str(form.get("position") or ""),
                                "channels": ",".join(chans) or None}
        try:
            safe_name(opts["label"], what="label")
            sweep_s = float(form.get("sweep_s") or 3.0)
        except (PathRefused, ValueError) as exc:
            return refused(request, str(exc), 400, "/measure")
        if not 0.5 <= sweep_s <= 30.0:
            return refused(request, f"sweep length {sweep_s:g} s is outside 0.5..30 s", 400, "/measure")
        opts["sweep_s"] = sweep_s
        if device == "simulated":
            opts["simulate"] = "default"
        else:
            opts["device"] = device
        try:
            job = state.start_measurement(opts)
        except RoomtruthError as exc:
            return refused(request, str(exc), 409, "/measure")
        return RedirectResponse(f"/measure/job/{job.id}", status_code=303)

    async def measure_job(request: Request) -> Response:
        job = state.job
        if job is None or job.id != request.path_params["jid"]:
            return refused(request, "that measurement is not known (the server was restarted?)", 404, "/measure")
        if job.state == "done" and job.folder and request.query_params.get("wait") is None:
            return RedirectResponse(f"/measurements/{job.folder}", status_code=303)
        return page(request, "measure_job.html", job=job)

    async def measurement(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            folder = inside(state.room / "measurements", name)
        except PathRefused as exc:
            return refused(request, str(exc), 400, "/history")
        if not (folder / "measurement.json").is_file():
            return refused(request, f"no measurement {name} in this room", 404, "/history")
        latest = state.measurements()[0]["name"] == name
        doc, note = (state.document() if latest else (None, "figures are drawn for the latest measurement"))
        if doc is not None and doc.meta.get("measurement") != name:
            doc, note = None, note or "analysing this measurement…"      # never another measurement's figures
        if latest and doc is None and not note:
            note = "analysing this measurement…"
        figs = [f for f in (doc.figures if doc is not None else [])
                if f.key in ("response", "phase", "etc", "modes", "decay", "waterfall", "lr")]
        return page(request, "measurement.html", name=name, figs=figs, doc_note=note, latest=latest,
                    info=json.loads((folder / "measurement.json").read_text(encoding="utf-8")))

    async def measurement_correct(request: Request) -> Response:
        form, why = await posted(request)
        if why:
            return refused(request, why, 403, "/history")
        name = request.path_params["name"]
        try:
            folder = inside(state.room / "measurements", name)
            prof = safe_name(str(form.get("profile") or "main"), what="profile name")
            out = inside(state.room / "profiles", prof)
        except PathRefused as exc:
            return refused(request, str(exc), 400, f"/measurements/{name}")
        code, _out, err = await asyncio.to_thread(run_cli, ["correct", str(folder), "--out", str(out)])
        if code != 0:
            return refused(request, error_line(err), 400, f"/measurements/{name}")
        return RedirectResponse("/profiles", status_code=303)

    # ------------------------------------------------------------------ profiles, activation, A/B
    async def profiles(request: Request) -> Response:
        profs = state.profiles()
        for p in profs:
            try:
                rep = json.loads(inside(state.room / "profiles", p["name"], "correction_report.json")
                                 .read_text(encoding="utf-8"))
            except (OSError, ValueError, PathRefused):
                rep = None
            p["report"] = rep
        return page(request, "profiles.html", profiles=profs)

    async def activate(request: Request) -> Response:
        form, why = await posted(request)
        if why:
            return refused(request, why, 403, "/profiles")
        try:
            target = await asyncio.to_thread(state.activate, request.path_params["name"])
        except (RoomtruthError, PathRefused) as exc:
            return refused(request, str(exc), 400, "/profiles")
        if state.live() is not None:
            from roomtruth.monitor_control import send_control

            send_control(f"load {target}")
        return RedirectResponse("/profiles", status_code=303)

    async def monitor_command(request: Request) -> Response:
        form, why = await posted(request)
        if why:
            return refused(request, why, 403, "/")
        cmd = request.path_params["cmd"]
        if cmd not in MONITOR_COMMANDS:
            return refused(request, f"unknown monitor command {cmd!r}", 400, "/")
        if state.live() is None:
            return refused(request, "no 'roomtruth monitor run' is live on this machine; start it first", 409, "/")
        from roomtruth.monitor_control import send_control

        if not send_control(cmd):
            return refused(request, "the live monitor does not take remote commands (started by an older roomtruth?)",
                           409, "/")
        if request.headers.get("accept", "").startswith("application/json"):
            return JSONResponse({"sent": cmd})
        return RedirectResponse(str(form.get("back") or "/"), status_code=303)

    # ------------------------------------------------------------------ mixes
    async def mixes_page(request: Request) -> Response:
        results = sorted(state.mix_results.values(), key=lambda r: r["time"], reverse=True)
        return page(request, "mixes.html", results=results, studios=state.studios())

    async def mixes_analyze(request: Request) -> Response:
        form, why = await posted(request)
        if why:
            return refused(request, why, 403, "/mixes")
        files = [f for f in form.getlist("files") if getattr(f, "filename", "")]
        if not files:
            return refused(request, "choose one or more audio files to analyse", 400, "/mixes")
        updir = state.room / "mixes" / "uploads"
        updir.mkdir(parents=True, exist_ok=True)
        ids = []
        for up in files:
            base = Path(str(up.filename).replace("\\", "/")).name
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
            try:
                dest = inside(updir, f"{stamp}-{safe_name(base, what='file name')}")
            except PathRefused as exc:
                return refused(request, str(exc), 400, "/mixes")
            tmp = dest.with_name("." + dest.name + ".part")
            with open(tmp, "wb") as fh:
                while chunk := await up.read(1 << 20):
                    fh.write(chunk)
            tmp.replace(dest)
            rid = dest.name
            state.mix_results[rid] = await asyncio.to_thread(_analyze_mix, dest, base)
            ids.append(rid)
        if len(ids) == 1:
            return RedirectResponse(f"/mixes/{ids[0]}", status_code=303)
        return RedirectResponse("/mixes", status_code=303)

    async def mix_result(request: Request) -> Response:
        r = state.mix_results.get(request.path_params["rid"])
        if r is None:
            return refused(request, "that analysis is not known (the server was restarted?); analyse the file again",
                           404, "/mixes")
        return page(request, "mix.html", r=r)

    async def letter(request: Request) -> Response:
        folder = request.path_params["folder"]
        st = [s for s in state.studios() if s["folder"] == folder and "fingerprint" in s]
        if not st:
            return refused(request, f"no fingerprint for studio {folder}", 404, "/mixes")
        from reports.letter import write_letter

        return page(request, "letter.html", studio=folder, text=write_letter(st[0]["fingerprint"]))

    # ------------------------------------------------------------------ reports
    async def report_page(request: Request) -> Response:
        f = state.report_file()
        return page(request, "report.html", report=f.name if f else None,
                    when=datetime.fromtimestamp(f.stat().st_mtime, timezone.utc).isoformat() if f else None)

    async def report_view(request: Request) -> Response:
        f = state.report_file()
        if f is None:
            return refused(request, "no report yet: build one on this page", 404, "/report")
        headers = {"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"}
        if request.url.path.endswith("/download"):
            return FileResponse(f, filename=f"{state.name}-report.html", media_type="text/html", headers=headers)
        return FileResponse(f, media_type="text/html", headers=headers)

    async def report_build(request: Request) -> Response:
        form, why = await posted(request)
        if why:
            return refused(request, why, 403, "/report")
        out = state.room / "reports" / "report.html"
        code, _o, err = await asyncio.to_thread(run_cli, ["report", "--room", str(state.room), "-o", str(out)])
        if code != 0:
            return refused(request, error_line(err), 400, "/report")
        return RedirectResponse("/report", status_code=303)

    routes = [
        Route("/", dashboard), Route("/events", events), Route("/api/status", api_status),
        Route("/history", history), Route("/history/{vid:int}", history_entry),
        Route("/measure", measure_page), Route("/measure", measure_start, methods=["POST"]),
        Route("/measure/job/{jid}", measure_job),
        Route("/measurements/{name}", measurement),
        Route("/measurements/{name}/correct", measurement_correct, methods=["POST"]),
        Route("/profiles", profiles), Route("/profiles/{name}/activate", activate, methods=["POST"]),
        Route("/monitor/{cmd}", monitor_command, methods=["POST"]),
        Route("/mixes", mixes_page), Route("/mixes", mixes_analyze, methods=["POST"]),
        Route("/mixes/{rid}", mix_result), Route("/studios/{folder}/letter", letter),
        Route("/report", report_page), Route("/report/view", report_view), Route("/report/download", report_view),
        Route("/report", report_build, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.web = state
    app.state.guard = guard
    app.add_middleware(GuardMiddleware, guard=guard)
    return app


def _analyze_mix(path: Path, display: str) -> dict[str, Any]:
    """``mix analyze`` on one uploaded file (the same library call the CLI makes), with the
    waveform and a marker at each click for the page."""
    import numpy as np

    from mixes.analysis import analyze_file, read_mix

    out: dict[str, Any] = {"id": path.name, "file": display, "time": time.time(), "error": "", "a": None}
    try:
        a = analyze_file(path)
        x, fs = read_mix(path)
    except RoomtruthError as exc:
        out["error"] = str(exc)
        return out
    d = a.to_dict()
    marks = [(float(c["time_s"]), f"click at {c['time_s']:.3f} s, {_fmt(c.get('level_db'), '.1f')} dBFS"
              + (f", {_fmt(c.get('audibility_db'), '.1f')} dB above the music" if c.get("audibility_db") is not None
                 else "")) for c in d.get("clicks", [])]
    marks += [(float(e["time_s"]), f"{e['kind']} at {e['time_s']:.3f} s: {e.get('detail', '')}")
              for e in d.get("artifacts", [])]
    out.update(a=d, wave=svg.waveform_svg(np.asarray(x), fs=fs, markers=marks), n_markers=len(marks))
    return out
