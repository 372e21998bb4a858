// The dashboard's only script (no build step): live countdowns and live updates.
// Countdowns: every [data-deadline] element shows the time left to its absolute deadline (epoch ms), computed here
// every second from the browser's clock corrected by the server's (body[data-server-now], sent with the page), and is
// coloured by the share of its allowance used (data-started → data-deadline): the same thresholds as
// reporting.web.queue.level (50 / 75 / 100 %).
// Highlights: every queue row's .mark[data-at] badges (reporting.web.highlights) show once the corrected clock passes
// their absolute moment — an escalation at its highest level (data-rank) reached — and the row gets the mark's
// class (progress-due, escalated, breached); classes only ever come on as time passes.
// Action forms (the ticket page): the panel re-fetches on every change, but never over a form being filled in
// (data-dirty, set on input, cleared once dispatch took that form's action).
// Live updates: an EventSource on /events; each `changed` event, and every (re)connect, fires `huying:changed` on
// the body, on which the fragments re-fetch themselves with htmx (hx-trigger="huying:changed from:body").
(function () {
  "use strict";
  const body = document.body;
  const serverNow = Number(body.dataset.serverNow || 0);
  const offset = serverNow ? serverNow - Date.now() : 0; // measured once, when the page arrived
  const now = () => Date.now() + offset;

  function level(used) {
    if (used >= 1) return "breach";
    if (used >= 0.75) return "late";
    if (used >= 0.5) return "half";
    return "ok";
  }

  function clock(ms) {
    const sign = ms < 0 ? "−" : "";
    let s = Math.floor(Math.abs(ms) / 1000);
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const pad = (n) => String(n).padStart(2, "0");
    return sign + (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s);
  }

  function tick() {
    const t = now();
    document.querySelectorAll("[data-deadline]").forEach((el) => {
      const deadline = Number(el.dataset.deadline), started = Number(el.dataset.started);
      const used = deadline > started ? (t - started) / (deadline - started) : 1;
      const name = level(used);
      for (const c of ["ok", "half", "late", "breach"]) el.classList.toggle(c, c === name);
      el.classList.add("countdown");
      el.dataset.level = name;
      el.textContent = clock(deadline - t);
    });
  }

  function marks(t) {
    document.querySelectorAll("tr[data-ticket]").forEach((row) => {
      const best = {};
      row.querySelectorAll(".mark[data-at]").forEach((m) => {
        m.hidden = true;
        if (Number(m.dataset.at) > t) return;
        const name = m.dataset.mark, held = best[name];
        if (!held || Number(m.dataset.rank) > Number(held.dataset.rank)) best[name] = m;
      });
      for (const m of Object.values(best)) m.hidden = false;
      for (const name of ["progress-due", "escalated", "breached"]) row.classList.toggle(name, name in best);
    });
  }

  function everySecond() {
    tick();
    marks(now());
  }

  everySecond();
  setInterval(everySecond, 1000);
  body.addEventListener("htmx:afterSwap", () => marks(now()));
  body.addEventListener("input", (e) => {
    const form = e.target.closest && e.target.closest("form.action");
    if (form) form.dataset.dirty = "1";
  });
  body.addEventListener("htmx:afterRequest", (e) => {
    const form = e.detail.elt;
    const trigger = e.detail.xhr && e.detail.xhr.getResponseHeader("HX-Trigger");
    if (form && form.matches && form.matches("form.action") && trigger && trigger.includes("huying:acted")) {
      delete form.dataset.dirty;
    }
  });
  body.addEventListener("htmx:beforeSwap", (e) => {
    const target = e.detail.target;
    if (target && target.id === "actions" && target.querySelector("form.action[data-dirty]")) e.detail.shouldSwap = false;
  });
  body.addEventListener("htmx:afterSwap", tick);

  const live = document.getElementById("live");
  if (!live || !window.EventSource) return; // the login page: no session, no stream
  const changed = () => body.dispatchEvent(new CustomEvent("huying:changed"));
  const source = new EventSource("/events");
  source.addEventListener("changed", changed);
  source.addEventListener("open", () => {
    live.textContent = live.dataset.live; live.className = "live on";
    changed(); // a (re)connect: whatever happened meanwhile is fetched now
  });
  source.addEventListener("error", () => { live.textContent = live.dataset.offline; live.className = "live off"; });
})();
