// shunter UI: graph layout (dagre), live updates (server-sent events), dialogs and actions.
// Every piece of HTML this script inserts was rendered, and escaped, by the server; text that
// the script writes itself goes through textContent.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  // -- flash messages ------------------------------------------------------------------------
  let flashTimer = null;
  function flash(ok, message) {
    const box = document.getElementById("flash");
    box.textContent = message;
    box.className = "flash " + (ok ? "ok" : "error");
    box.hidden = false;
    clearTimeout(flashTimer);
    if (ok) flashTimer = setTimeout(() => { box.hidden = true; }, 10000);
  }
  document.getElementById("flash").addEventListener("click", (ev) => { ev.currentTarget.hidden = true; });

  // -- relative times ------------------------------------------------------------------------
  const UNITS = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  function ago(date) {
    const seconds = Math.round((date.getTime() - Date.now()) / 1000);
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
    }
    return Math.abs(seconds) < 10 ? "just now" : relative.format(seconds, "second");
  }
  function updateTimes(root) {
    for (const el of (root || document).querySelectorAll("time[data-relative]")) {
      const value = el.getAttribute("datetime");
      if (!value) continue;
      const date = new Date(value);
      if (isNaN(date)) continue;
      if (!el.title) el.title = date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
      el.textContent = ago(date);
    }
  }
  updateTimes();
  setInterval(() => updateTimes(), 20000);

  // -- pipeline graph ------------------------------------------------------------------------
  const SVG = "http://www.w3.org/2000/svg";
  function curve(points) {
    // A smooth path through dagre's edge points (straight ends, rounded bends).
    let d = `M${points[0].x},${points[0].y}`;
    for (let i = 1; i < points.length - 1; i++) {
      const p = points[i], n = points[i + 1];
      d += ` Q${p.x},${p.y} ${(p.x + n.x) / 2},${(p.y + n.y) / 2}`;
    }
    const last = points[points.length - 1];
    return d + ` L${last.x},${last.y}`;
  }
  function layoutGraph() {
    const canvas = document.getElementById("graph-canvas");
    const data = document.getElementById("graph-data");
    if (!canvas || !data || !window.dagre) return;
    const edges = JSON.parse(data.textContent).edges;
    const nodes = Array.from(canvas.querySelectorAll("[data-node]"));
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 64, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const node of nodes) g.setNode(node.id, { width: node.offsetWidth, height: node.offsetHeight });
    for (const e of edges) if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to);
    dagre.layout(g);
    for (const node of nodes) {
      const p = g.node(node.id);
      node.style.left = `${Math.round(p.x - p.width / 2)}px`;
      node.style.top = `${Math.round(p.y - p.height / 2)}px`;
    }
    const size = g.graph();
    canvas.style.width = `${Math.ceil(size.width)}px`;
    canvas.style.height = `${Math.ceil(size.height)}px`;
    canvas.classList.add("laid-out");
    const svg = document.getElementById("graph-edges");
    svg.setAttribute("width", Math.ceil(size.width));
    svg.setAttribute("height", Math.ceil(size.height));
    svg.replaceChildren();
    const defs = document.createElementNS(SVG, "defs");
    const marker = document.createElementNS(SVG, "marker");
    marker.setAttribute("id", "arrow");
    marker.setAttribute("viewBox", "0 0 10 10");
    marker.setAttribute("refX", "9");
    marker.setAttribute("refY", "5");
    marker.setAttribute("markerWidth", "7");
    marker.setAttribute("markerHeight", "7");
    marker.setAttribute("orient", "auto-start-reverse");
    const tip = document.createElementNS(SVG, "path");
    tip.setAttribute("d", "M0,0 L10,5 L0,10 z");
    marker.appendChild(tip);
    defs.appendChild(marker);
    svg.appendChild(defs);
    for (const e of g.edges()) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", curve(g.edge(e).points));
      path.setAttribute("marker-end", "url(#arrow)");
      path.dataset.from = e.v;
      path.dataset.to = e.w;
      svg.appendChild(path);
    }
  }
  async function reloadGraph() {
    const section = document.getElementById("graph");
    if (!section) return;
    const response = await fetch(section.dataset.graphUrl, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    section.innerHTML = await response.text();
    updateTimes(section);
    layoutGraph();
  }
  window.addEventListener("load", layoutGraph);
  window.addEventListener("resize", () => { if (document.getElementById("graph-canvas")) layoutGraph(); });

  // -- live updates --------------------------------------------------------------------------
  function fromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }
  function keepOpenState(old, fresh) {
    if (old.tagName === "DETAILS" && fresh.tagName === "DETAILS") fresh.open = old.open;
    for (const inner of old.querySelectorAll("details.outputs[open]")) {
      const step = inner.closest("[data-step]");
      if (!step) continue;
      const twin = fresh.querySelector(`[data-step="${CSS.escape(step.dataset.step)}"] details.outputs`);
      if (twin) twin.open = true;
    }
  }
  function applyFragments(list) {
    let graphChanged = false;
    for (const f of list) {
      const old = document.getElementById(f.id);
      if (f.mode === "remove") { if (old) old.remove(); continue; }
      const fresh = fromHtml(f.html);
      if (!fresh) continue;
      if (old) {
        keepOpenState(old, fresh);
        if (old.hasAttribute("data-node")) {
          fresh.style.left = old.style.left;
          fresh.style.top = old.style.top;
          graphChanged = true;
        }
        old.replaceWith(fresh);
      } else if (f.mode === "prepend") {
        const into = document.getElementById(f.into);
        if (!into) continue;
        into.prepend(fresh);
        const empty = into.parentElement.querySelector(":scope > p.empty") || into.querySelector(":scope > .empty");
        if (empty) empty.remove();
      } else {
        continue;
      }
      fresh.classList.add("updated");
      updateTimes(fresh);
    }
    if (graphChanged) layoutGraph();
  }
  function connect() {
    const url = document.body.dataset.events;
    if (!url || !window.EventSource) return;
    const indicator = document.getElementById("live");
    const source = new EventSource(url);
    let dropped = false;
    source.addEventListener("open", () => {
      indicator.textContent = "live";
      indicator.className = "live on";
      if (dropped && !document.querySelector("dialog[open]")) window.location.reload();
    });
    source.addEventListener("error", () => {
      dropped = true;
      indicator.textContent = "reconnecting";
      indicator.className = "live off";
    });
    source.addEventListener("fragment", (ev) => applyFragments(JSON.parse(ev.data)));
    source.addEventListener("structure", () => { reloadGraph(); });
    source.addEventListener("reload", () => window.location.reload());
    source.addEventListener("problem", (ev) => {
      const data = JSON.parse(ev.data);
      source.close();
      indicator.textContent = "stopped";
      indicator.className = "live off";
      flash(false, `Live updates stopped: ${data.message}`);
    });
  }
  connect();

  // -- dialogs and actions -------------------------------------------------------------------
  const dialog = document.getElementById("dialog");
  const confirmBox = document.getElementById("confirm");
  let pending = null;

  async function problemOf(response) {
    const text = await response.text();
    const doc = new DOMParser().parseFromString(text, "text/html");
    const problem = doc.querySelector(".problem");
    return problem ? problem.textContent : `The server answered ${response.status}`;
  }
  async function openDialog(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "text/html" } });
    } catch (err) {
      flash(false, `The UI server could not be reached: ${err}`);
      return;
    }
    if (!response.ok) { flash(false, await problemOf(response)); return; }
    const content = document.getElementById("dialog-content");
    content.innerHTML = await response.text();
    updateTimes(content);
    if (!dialog.open) dialog.showModal();
  }
  document.addEventListener("click", (ev) => {
    const opener = ev.target.closest("[data-dialog-url]");
    if (opener) { ev.preventDefault(); openDialog(opener.dataset.dialogUrl); }
  });

  async function send(form) {
    const body = new URLSearchParams(new FormData(form));
    let data;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      });
      try { data = await response.json(); } catch (err) { data = { ok: false, message: `The server answered ${response.status}` }; }
    } catch (err) {
      data = { ok: false, message: `The UI server could not be reached: ${err}` };
    }
    flash(data.ok, data.message);
    if (data.ok && dialog.open) dialog.close();
    if (!data.ok && dialog.open) {
      const content = document.getElementById("dialog-content");
      let note = content.querySelector(".dialog-flash");
      if (!note) {
        note = document.createElement("p");
        note.className = "dialog-flash problem";
        note.setAttribute("role", "alert");
        content.prepend(note);
      }
      note.textContent = data.message;
    }
  }
  // A preview changes nothing, so it needs no confirmation; it runs the steps on the server,
  // which can take a while: the pane says so until the report arrives.
  async function preview(form) {
    const pane = form.closest(".option").querySelector(".preview-pane");
    const button = form.querySelector("button");
    const who = document.querySelector(".who");
    const running = document.createElement("p");
    running.className = "preview-running";
    running.setAttribute("role", "status");
    running.textContent = `Previewing as ${who ? who.textContent : "you"}: the steps run in a ` +
      `scratch folder on the server (at most ${form.dataset.seconds} seconds, one preview at a ` +
      "time per user). Nothing is pushed or changed.";
    pane.replaceChildren(running);
    pane.hidden = false;
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
        headers: { Accept: "text/html", "X-CSRF-Token": csrf, "X-Shunter-Fragment": "1" },
      });
      const html = await response.text();
      const report = fromHtml(html);
      if (report && report.matches(".preview-report")) {
        pane.replaceChildren(report);
        report.scrollIntoView({ block: "start" });
      }
      else running.textContent = await problemOf(new Response(html, { status: response.status }));
    } catch (err) {
      running.textContent = `The UI server could not be reached: ${err}`;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (form.matches("form.preview")) { ev.preventDefault(); preview(form); return; }
    if (!form.matches("form.action")) return;
    ev.preventDefault();
    pending = form;
    document.getElementById("confirm-text").textContent = form.dataset.confirm || "Go ahead?";
    confirmBox.showModal();
  });
  document.getElementById("confirm-ok").addEventListener("click", () => {
    confirmBox.close();
    const form = pending;
    pending = null;
    if (form) send(form);
  });
  document.getElementById("confirm-cancel").addEventListener("click", () => {
    pending = null;
    confirmBox.close();
  });
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
})();
