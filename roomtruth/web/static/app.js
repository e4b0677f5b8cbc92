// roomtruth web app: the live parts (server-sent events), nothing else. Works without it.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const pct = (v) => (100 * (v || 0)).toFixed(1) + " %";

  function showLive(st) {
    const live = st && st.pid;
    const pill = $("live-pill");
    if (pill) { pill.textContent = live ? "monitor live: " + st.active : "monitor off"; pill.className = "pill " + (live ? "live" : "idle"); }
    if ($("live-slot")) $("live-slot").textContent = live ? (st.active === "bypass" ? "BYPASS" : (document.body.querySelector("#monitor .big") ? "slot " : "") + st.active) : "not running";
    if ($("live-load")) $("live-load").textContent = live ? pct(st.dsp_load) : "—";
    if ($("live-xruns")) $("live-xruns").textContent = live ? st.xruns : "—";
    if ($("live-limiter")) $("live-limiter").textContent = live && st.limiter ? st.limiter.gain_reduction_db.toFixed(1) + " dB" : "—";
    if ($("live-hash")) $("live-hash").textContent = live ? "playing " + (st.running_hash || "").slice(0, 16) : "";
    document.querySelectorAll("form[data-live-only] button").forEach((b) => { b.disabled = !live; });
  }

  function showJob(job) {
    const box = $("job");
    if (!box || box.dataset.job !== job.id) return;
    const log = $("job-log");
    log.innerHTML = "";
    job.messages.forEach((m) => { const li = document.createElement("li"); li.textContent = m; log.appendChild(li); });
    log.scrollTop = log.scrollHeight;
    const mic = job.messages.filter((m) => m.startsWith("mic level:")).pop();
    if (mic) {
      const peak = parseFloat((mic.match(/peak (-?[0-9.]+)/) || [])[1]);
      if (!isNaN(peak)) { $("mic-meter").style.width = Math.max(0, Math.min(100, 100 + peak * 100 / 60)) + "%"; }
      $("mic-text").textContent = mic;
    }
    const sweeps = job.messages.filter((m) => /sweep \d+\/\d+/.test(m)).length;
    $("job-bar").style.width = (job.state === "running" ? Math.min(95, 10 + sweeps * 20) : 100) + "%";
    if (job.state !== box.dataset.state) {
      if (job.state === "done" && job.folder) { window.location = "/measurements/" + encodeURIComponent(job.folder); return; }
      if (job.error) { const e = $("job-error"); e.textContent = job.error; e.hidden = false; }
      box.dataset.state = job.state;
      if (job.state !== "running") { window.location.reload(); }
    }
  }

  if (window.EventSource) {
    const es = new EventSource("/events");
    // a page left must give its stream back at once (browsers allow ~6 connections per host)
    window.addEventListener("pagehide", () => es.close());
    window.addEventListener("beforeunload", () => es.close());
    es.addEventListener("live", (e) => showLive(JSON.parse(e.data)));
    es.addEventListener("job", (e) => showJob(JSON.parse(e.data)));
    es.addEventListener("doc", (e) => {
      const d = JSON.parse(e.data);
      if (d.ready && $("doc-note")) { window.location.reload(); }
    });
  }

  const copy = $("copy-letter");
  if (copy) copy.addEventListener("click", () => {
    const t = $(copy.dataset.copy); t.select();
    if (navigator.clipboard) navigator.clipboard.writeText(t.value); else document.execCommand("copy");
    copy.textContent = "Copied";
  });

  const drop = $("mix-form");
  if (drop) {
    ["dragenter", "dragover"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); }));
    ["dragleave", "drop"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
    drop.addEventListener("drop", (e) => { $("mix-files").files = e.dataTransfer.files; });
  }
})();
