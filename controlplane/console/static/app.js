// Shoal console: one page, hash routes, every value put in the page as text (never as HTML).
// The server tells the page when the cluster changed (server-sent events); the page then
// re-reads what it shows. It never polls.
"use strict";

let me = null;
let stream = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function link(href, text) { return el("a", { href }, text); }
function when(epoch) { return epoch ? new Date(epoch * 1000).toLocaleString() : ""; }
function bar(used, total) {
  const pct = total > 0 ? Math.min(100, Math.round((100 * used) / total)) : 0;
  const b = el("span", { class: "bar", title: `${used} / ${total}` }, el("span"));
  b.firstChild.style.width = pct + "%";
  return el("span", {}, b, ` ${used}/${total}`);
}
function table(headers, rows, rowAttrs) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((cells, i) => el("tr", rowAttrs ? rowAttrs(i) : {}, cells.map((c) => el("td", {}, c))))));
}
function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.hidden = false;
  setTimeout(() => { t.hidden = true; }, 4000);
}

// Every answer's body is read, even one only its status matters for: Chromium keeps the
// connection of an unread body busy until the response is collected, and with the event
// stream open it has only six to the console.
// A page's read that gets no whole answer in this long is given up (the page says so): a
// connection the browser holds but the server no longer serves must not leave the page stuck.
const READ_MS = 10000;

async function api(path) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), READ_MS);
  try {
    const resp = await fetch(path, { credentials: "same-origin", signal: abort.signal });
    const data = await resp.json();
    if (resp.status === 401) { showLogin(); throw new Error("logged out"); }
    if (!resp.ok) throw new Error(data.error || resp.statusText);
    return data;
  } catch (err) {
    if (err.name !== "AbortError") throw err;
    console.warn(`console: ${path} gave no answer in ${READ_MS} ms`);
    throw new Error(`${path}: no answer in ${READ_MS / 1000} s`);
  } finally {
    clearTimeout(timer);
  }
}

async function act(name, body, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return;
  const resp = await fetch("/api/actions/" + name, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf },
    body: JSON.stringify(body),
  });
  const data = await resp.json();
  toast(resp.ok ? `${name}: done` : `${name} refused: ${data.error}`);
}

function actionButton(label, id, onclick) {
  return me && me.canAct ? el("button", { class: "action", id, onclick }, label) : null;
}

// ---- pages ----------------------------------------------------------------------------------

function eventsTable(events) {
  return table(["time", "kind", "message"],
    events.map((e) => [when(e.at), e.kind, el("span", { class: "msg" }, e.message)]),
    (i) => ({ "data-kind": events[i].kind, class: "event" }));
}

async function overview() {
  const o = await api("/api/overview");
  return [
    el("h1", {}, "Overview"),
    el("div", { class: "cards" },
      el("div", { class: "card" }, el("div", { class: "n", id: "count-nodes" }, `${o.nodes.connected}/${o.nodes.total}`), "nodes connected"),
      el("div", { class: "card" }, el("div", { class: "n", id: "count-services" }, o.services), "services"),
      el("div", { class: "card" }, el("div", { class: "n", id: "count-running" }, o.tasks.running), "tasks running"),
      el("div", { class: "card" }, el("div", { class: "n", id: "count-pending" }, o.tasks.pending), "tasks pending"),
      el("div", { class: "card" }, el("div", { class: "n", id: "leader" }, o.leader || "none"), "leader replica")),
    el("h2", {}, "Alerts"),
    o.alerts.length ? o.alerts.map((a) => el("div", { class: "alert " + a.level }, a.what)) : el("p", { class: "ok" }, "None."),
    el("h2", {}, "Recent events"),
    eventsTable(o.events),
  ];
}

async function services() {
  const list = await api("/api/services");
  return [el("h1", {}, "Services"),
    table(["service", "cluster", "running", "pending", "desired", "task definition", "status"],
      list.map((s) => [link(`#/services/${encodeURIComponent(s.cluster)}/${encodeURIComponent(s.name)}`, s.name),
        s.cluster, el("span", { class: "running" }, s.running), s.pending, el("span", { class: "desired" }, s.desired),
        s.taskDefinition, s.status]),
      (i) => ({ "data-service": list[i].name }))];
}

function tasksTable(tasks) {
  return table(["task", "service/group", "node", "last", "desired", "health", "stopped reason"],
    tasks.map((t) => [link(`#/tasks/${encodeURIComponent(t.cluster)}/${encodeURIComponent(t.id)}`, t.id.slice(0, 12)),
      t.service || t.group, t.node ? link(`#/nodes/${encodeURIComponent(t.cluster)}/${encodeURIComponent(t.node)}`, t.nodeName) : "",
      t.lastStatus, t.desiredStatus, t.health, t.stoppedReason]),
    (i) => ({ "data-task": tasks[i].id, "data-status": tasks[i].lastStatus, class: "task" }));
}

async function service(cluster, name) {
  const s = await api(`/api/services/${encodeURIComponent(cluster)}/${encodeURIComponent(name)}`);
  const count = el("input", { id: "scale-count", type: "number", min: "0", value: String(s.desired) });
  const actions = me.canAct ? el("div", {},
    el("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); act("scale", { cluster, service: name, desiredCount: Number(count.value) }, `Scale ${name} to ${count.value}?`); } },
      "desired", count, actionButton("Scale", "scale-btn")),
    " ", actionButton("Force new deployment", "redeploy-btn", () => act("redeploy", { cluster, service: name }, `Start a new deployment of ${name}?`)),
    s.deployments.some((d) => d.status === "ACTIVE")
      ? [" ", actionButton("Roll back", "rollback-btn", () => act("rollback", { cluster, service: name }, `Roll ${name} back to its earlier deployment?`))]
      : null) : null;
  return [el("h1", {}, `Service ${s.name}`),
    el("p", { id: "service-counts" }, `running ${s.running} · pending ${s.pending} · desired ${s.desired} · ${s.taskDefinition} · ${s.status}`,
      s.circuitBreaker.enable ? ` · circuit breaker on${s.circuitBreaker.rollback ? " (rollback)" : ""}` : ""),
    actions,
    el("h2", {}, "Deployments"),
    table(["id", "status", "task definition", "desired", "running", "pending", "failed", "rollout"],
      s.deployments.map((d) => [d.id, d.status, d.taskDefinition, d.desired, d.running, d.pending, d.failed,
        `${d.rolloutState} ${d.rolloutStateReason}`])),
    el("h2", {}, "Tasks"), tasksTable(s.tasks),
    el("h2", {}, "Load balancer targets"),
    s.targets.length ? table(["target group", "task", "node", "address", "health", "reason"],
      s.targets.map((t) => [t.targetGroup, link(`#/tasks/${encodeURIComponent(cluster)}/${encodeURIComponent(t.task)}`, t.task.slice(0, 12)),
        t.nodeName, `${t.address}:${t.port}`, el("span", { class: "health" }, t.state), `${t.reason} ${t.description}`.trim()]),
      (i) => ({ "data-target": s.targets[i].task, class: "target" })) : el("p", {}, "None (no target group attached)."),
    el("h2", {}, "Scaling"),
    el("p", { id: "scalable-target" }, s.scalableTarget ? `scalable target: min ${s.scalableTarget.min} · max ${s.scalableTarget.max}` : "Not a scalable target."),
    s.scalingPolicies.length ? table(["policy", "type", "what", "created"],
      s.scalingPolicies.map((p) => [p.name, p.type, p.what, when(p.createdAt)]),
      (i) => ({ "data-policy": s.scalingPolicies[i].name, class: "policy" })) : el("p", {}, "No scaling policies."),
    s.scalingActivities.length ? table(["time", "status", "capacity", "policy", "description", "cause"],
      s.scalingActivities.map((a) => [when(a.at), a.status, `${a.from} → ${a.to}`, a.policy,
        `${a.description} ${a.message}`.trim(), a.cause]),
      (i) => ({ "data-activity": s.scalingActivities[i].id, class: "activity" })) : el("p", {}, "No scaling activities."),
    el("h2", {}, "Events"), eventsTable(s.events)];
}

// A task as a small block, its colour fixed by its service's name.
function colour(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h}, 60%, 50%)`;
}
function blocks(groups) {
  return el("span", { class: "blocks" }, groups.map((g) => {
    const b = el("span", { class: "block", title: g });
    b.style.background = colour(g);
    return b;
  }), ` ${groups.length}`);
}

// Topology: one section per zone (its totals as bars), each node a small tile (fill: CPU
// reserved; marked DRAINING or lost) and, once a search or filter narrows a zone to at most
// TOPOLOGY_ROWS nodes, a row each. Big zones start folded; what the user opened stays open.
const TOPOLOGY_ROWS = 50;
const topo = { q: "", status: "", open: {} };

function nodeMatches(n) {
  const q = topo.q.toLowerCase();
  const state = n.connected ? n.status : "LOST";
  if (topo.status && state !== topo.status) return false;
  return !q || n.name.toLowerCase().includes(q) || n.id.includes(q) || n.zone.toLowerCase() === q
    || n.taskGroups.some((g) => g.toLowerCase().includes(q));
}

function tile(n) {
  const pct = n.cpu.registered > 0 ? Math.min(100, Math.round((100 * n.cpu.reserved) / n.cpu.registered)) : 0;
  const cls = "tile" + (n.connected ? "" : " lost") + (n.status === "DRAINING" ? " draining" : "");
  const t = el("a", { class: cls, href: `#/nodes/${encodeURIComponent(n.cluster)}/${encodeURIComponent(n.id)}`,
    title: `${n.name} · ${n.status}${n.connected ? "" : " · lost"} · cpu ${n.cpu.reserved}/${n.cpu.registered} · memory ${n.memory.reserved}/${n.memory.registered} · ${n.tasks} tasks`,
    "data-tile": n.id });
  t.style.setProperty("--fill", pct + "%");
  return t;
}

function sum(ns, f) { return ns.reduce((a, n) => a + f(n), 0); }

async function nodes() {
  const list = await api("/api/nodes");
  bigPage = list.length > 200;
  const zones = {};
  for (const n of list) (zones[n.zone || "(no zone)"] ||= []).push(n);
  const search = el("input", { id: "node-search", placeholder: "search: name, id, zone, service", value: topo.q });
  const status = el("select", { id: "node-status-filter" },
    [["", "all nodes"], ["ACTIVE", "active"], ["DRAINING", "draining"], ["LOST", "lost (agent gone)"]].map(([v, l]) => el("option", { value: v }, l)));
  status.value = topo.status;
  const body = el("div", {});
  const count = el("span", { id: "node-count", class: "note" });
  const draw = () => {
    topo.q = search.value.trim();
    topo.status = status.value;
    const narrowed = topo.q !== "" || topo.status !== "";
    let shownTotal = 0;
    body.replaceChildren(...Object.entries(zones).map(([zone, ns]) => {
      const shown = ns.filter(nodeMatches);
      shownTotal += shown.length;
      const lost = ns.filter((n) => !n.connected).length, draining = ns.filter((n) => n.status === "DRAINING").length;
      const open = topo.open[zone] ?? (ns.length <= TOPOLOGY_ROWS || (narrowed && shown.length > 0));
      const details = el("details", { class: "zone", "data-zone": zone },
        el("summary", {}, el("b", {}, `zone ${zone}`), ` ${shown.length === ns.length ? ns.length : `${shown.length} of ${ns.length}`} nodes`,
          lost ? el("span", { class: "bad" }, ` · ${lost} lost`) : "", draining ? el("span", { class: "bad" }, ` · ${draining} draining`) : "",
          " · cpu ", bar(sum(ns, (n) => n.cpu.reserved), sum(ns, (n) => n.cpu.registered)),
          " · memory ", bar(sum(ns, (n) => n.memory.reserved), sum(ns, (n) => n.memory.registered)),
          ` · ${sum(ns, (n) => n.tasks)} tasks`),
        el("div", { class: "tiles" }, shown.map(tile)),
        shown.length <= TOPOLOGY_ROWS
          ? table(["node", "status", "agent", "cpu reserved", "memory reserved", "tasks"],
            shown.map((n) => [link(`#/nodes/${encodeURIComponent(n.cluster)}/${encodeURIComponent(n.id)}`, n.name),
              el("span", { class: n.status === "DRAINING" ? "bad" : "" }, n.status),
              el("span", { class: n.connected ? "ok" : "bad" }, n.connected ? "connected" : "lost"),
              bar(n.cpu.reserved, n.cpu.registered), bar(n.memory.reserved, n.memory.registered), blocks(n.taskGroups)]),
            (i) => ({ "data-node": shown[i].id, "data-status": shown[i].status }))
          : el("p", { class: "note" }, `${shown.length} nodes: search or filter to list them (a list shows at most ${TOPOLOGY_ROWS}).`));
      details.open = open;
      // The user's click, not the page setting it (that fires "toggle" too).
      details.firstChild.addEventListener("click", () => { topo.open[zone] = !details.open; });
      return details;
    }));
    count.textContent = `${shownTotal} of ${list.length} nodes in ${Object.keys(zones).length} zones`;
  };
  search.addEventListener("input", draw);
  status.addEventListener("change", draw);
  draw();
  return [el("h1", {}, "Nodes"), el("div", { class: "filters" }, search, status, count), body];
}

async function node(cluster, id) {
  const n = await api(`/api/nodes/${encodeURIComponent(cluster)}/${encodeURIComponent(id)}`);
  return [el("h1", {}, `Node ${n.name}`),
    el("p", { id: "node-status" }, `${n.id} · ${n.status} · ${n.connected ? "agent connected" : "agent lost"} · zone ${n.zone} · ${n.address}`),
    n.status === "ACTIVE" ? actionButton("Drain", "drain-btn", () => act("drain", { cluster, node: id }, `Drain ${n.name}? Its service tasks move elsewhere.`))
      : actionButton("Activate", "activate-btn", () => act("activate", { cluster, node: id }, `Activate ${n.name}? Tasks may be placed on it again.`)),
    el("h2", {}, "Resources"),
    el("p", {}, "cpu ", bar(n.cpu.reserved, n.cpu.registered), " · memory ", bar(n.memory.reserved, n.memory.registered), ` · host cpu ${n.hostCpuPercent}%`),
    el("h2", {}, "Attributes"),
    table(["name", "value"], Object.entries(n.attributes)),
    el("h2", {}, "Tasks"), tasksTable(n.tasks)];
}

async function tasks() {
  return [el("h1", {}, "Tasks"), tasksTable(await api("/api/tasks"))];
}

async function task(cluster, id, gen) {
  const t = await api(`/api/tasks/${encodeURIComponent(cluster)}/${encodeURIComponent(id)}`);
  // logsBox keeps the open log stream: a superseded render must not swap it for its own.
  if (gen !== generation) return [];
  return [el("h1", {}, `Task ${t.id}`),
    el("p", {}, `${t.service || t.group} · ${t.lastStatus} (desired ${t.desiredStatus}) · ${t.taskDefinition} · node ${t.nodeName} (${t.node})`),
    t.stoppedReason ? el("p", {}, `stopped: ${t.stoppedReason} ${t.stopCode}`) : null,
    t.placementMessage ? el("p", { class: "bad" }, `placement: ${t.placementMessage}`) : null,
    t.desiredStatus !== "STOPPED" ? actionButton("Stop", "stop-btn", () => act("stop-task", { cluster, task: id }, `Stop task ${id}?`)) : null,
    el("h2", {}, "Containers"),
    table(["name", "status", "exit code", "ports", "reason"],
      t.containers.map((c) => [c.name, c.status, c.exitCode === null ? "" : c.exitCode,
        c.ports.map((p) => `${p.hostPort}->${p.containerPort}/${p.protocol}`).join(", "), c.reason])),
    el("h2", {}, "Logs"), logsBox(cluster, t.id, t.containers.map((c) => c.name)),
    el("h2", {}, "Events"), eventsTable(t.events)];
}

// The open log stream survives the page's live re-renders: the same box is put back.
let logs = null;
const MAX_LOG_LINES = 5000;

function closeLogs() {
  if (logs && logs.es) logs.es.close();
  logs = null;
}

function logsBox(cluster, taskId, containers) {
  const key = `${cluster}/${taskId}`;
  if (logs && logs.key === key) return logs.box;
  closeLogs();
  const pre = el("pre", { id: "logs", class: "logs" });
  const status = el("span", { id: "logs-status" });
  const search = el("input", { id: "log-search", placeholder: "search the output" });
  const pick = el("select", { id: "log-container" }, containers.map((c) => el("option", { value: c }, c)));
  const state = { key, lines: [], es: null, box: null };
  const draw = () => {
    const q = search.value;
    pre.textContent = (q ? state.lines.filter((l) => l.includes(q)) : state.lines).join("\n");
  };
  search.addEventListener("input", draw);
  const open = () => {
    if (state.es) state.es.close();
    state.lines = [];
    draw();
    status.textContent = "following…";
    state.es = new EventSource(`/api/logs/${encodeURIComponent(cluster)}/${encodeURIComponent(taskId)}?container=${encodeURIComponent(pick.value)}`);
    state.es.addEventListener("line", (e) => {
      state.lines.push(JSON.parse(e.data));
      if (state.lines.length > MAX_LOG_LINES) state.lines.splice(0, state.lines.length - MAX_LOG_LINES);
      draw();
    });
    for (const kind of ["end", "failed"]) {
      state.es.addEventListener(kind, (e) => { status.textContent = JSON.parse(e.data); state.es.close(); });
    }
    state.es.onerror = () => {
      if (state.es.readyState === EventSource.CLOSED || state.lines.length === 0) {
        status.textContent = "no logs (not permitted, or the stream ended)";
        state.es.close();
      }
    };
  };
  state.box = el("div", {}, el("div", { class: "filters" }, pick, el("button", { id: "logs-btn", onclick: open }, "Follow logs"), search, status), pre);
  logs = state;
  return state.box;
}

const filters = { service: "", node: "", kind: "" };
async function events() {
  const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
  const list = await api("/api/events?" + q);
  const input = (name) => el("input", { id: `filter-${name}`, placeholder: name, value: filters[name],
    onchange: (e) => { filters[name] = e.target.value.trim(); render(); } });
  return [el("h1", {}, "Events"), el("div", { class: "filters" }, input("service"), input("node"), input("kind")), eventsTable(list)];
}

// ---- chaos: a fault the control plane can make, and the cluster's way back, timed ----------------

const CHAOS = {
  "drain-node": "Drain a node: its service tasks move elsewhere",
  "stop-service-tasks": "Stop N tasks of a service",
  "stop-random-tasks": "Stop N random service tasks of the cluster",
};
const chaosForm = { action: "stop-random-tasks", cluster: "default", node: "", service: "", count: "1" };

function seconds(s) { return s === null || s === undefined ? "" : `${s.toFixed(1)}s`; }

async function chaos() {
  const [c, ns, ss] = await Promise.all([api("/api/chaos"), api("/api/nodes"), api("/api/services")]);
  const f = chaosForm;
  const field = (name, control) => { control.id = `chaos-${name}`; control.addEventListener("change", (e) => { f[name] = e.target.value; }); return control; };
  const pick = (name, options) => {
    const s = field(name, el("select", {}, options.map(([v, label]) => el("option", { value: v }, label))));
    s.value = f[name] || (options[0] || [""])[0];
    f[name] = s.value;
    return s;
  };
  const clusters = [...new Set([...ns.map((n) => n.cluster), ...ss.map((s) => s.cluster)])];
  const action = pick("action", c.actions.map((a) => [a, CHAOS[a] || a]));
  action.addEventListener("change", () => render(true));
  const params = f.action === "drain-node"
    ? [pick("node", ns.filter((n) => n.cluster === f.cluster && n.status === "ACTIVE").map((n) => [n.id, `${n.name} (zone ${n.zone || "-"}, ${n.tasks} tasks)`]))]
    : [f.action === "stop-service-tasks" ? pick("service", ss.filter((s) => s.cluster === f.cluster).map((s) => [s.name, s.name])) : null,
      "count", field("count", el("input", { type: "number", min: "1", max: "100", value: f.count }))];
  const go = () => {
    const body = { action: f.action, cluster: f.cluster, confirm: f.action };
    if (f.action === "drain-node") body.node = f.node;
    else { body.count = Number(f.count); if (f.action === "stop-service-tasks") body.service = f.service; }
    const what = f.action === "drain-node" ? `drain node ${f.node}` : f.action === "stop-service-tasks"
      ? `stop ${f.count} task(s) of ${f.service}` : `stop ${f.count} random service task(s)`;
    chaosRun(body, `Chaos: really ${what} in cluster ${f.cluster}? This hurts the running cluster.`);
  };
  const running = c.runs.some((r) => r.state === "running");
  return [el("h1", {}, "Chaos"),
    el("p", {}, "Make a fault through the control plane's own API and watch the cluster converge back, timed from the fault. ",
      "Converged: every service runs its desired count, no task waits to be placed, every node connected before is still connected, and the tasks hit are stopped."),
    el("p", { class: "note", id: "chaos-host-only" }, `From here only what the control plane can do itself. Faults that need the host (${c.hostOnly.join(", ")}) run with \`shoal chaos\` on it.`),
    me.canAct ? el("div", { class: "filters" }, pick("cluster", clusters.map((x) => [x, x])), action, params,
      running ? el("span", { class: "note" }, "a run is measuring…") : actionButton("Run", "chaos-run", go)) : null,
    el("h2", {}, "Runs"),
    table(["started", "action", "by", "what it did", "state", "noticed", "converged", "still lagging"],
      c.runs.map((r) => [when(r.startedAt), r.action, r.user, r.did.join("; "),
        el("span", { class: "chaos-state " + r.state.replace(" ", "-") }, r.state === "running" ? `running ${r.elapsed.toFixed(1)}s` : r.state),
        seconds(r.noticedAfter), el("span", { class: "converged-after" }, seconds(r.convergedAfter)), r.lagging.join("; ")]),
      (i) => ({ "data-run": c.runs[i].id, "data-state": c.runs[i].state, class: "chaos-run" }))];
}

async function chaosRun(body, confirmText) {
  if (!window.confirm(confirmText)) return;
  const resp = await fetch("/api/chaos", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf },
    body: JSON.stringify(body),
  });
  const data = await resp.json();
  toast(resp.ok ? `chaos ${body.action}: started` : `chaos refused: ${data.error}`);
  render(true);
}

// ---- routing and liveness ---------------------------------------------------------------------

const routes = [
  [/^#?\/?$/, overview], [/^#\/services$/, services], [/^#\/services\/([^/]+)\/([^/]+)$/, service],
  [/^#\/nodes$/, nodes], [/^#\/nodes\/([^/]+)\/([^/]+)$/, node],
  [/^#\/tasks$/, tasks], [/^#\/tasks\/([^/]+)\/([^/]+)$/, task], [/^#\/events$/, events],
  [/^#\/chaos$/, chaos],
];

// Every render has a generation. A navigation starts a new render at once; a render that a
// newer one overtook drops what it read. Live updates wait for the render in flight and are
// then folded into one re-read, so a burst of notices costs one read, not one each.
let generation = 0;
let rendering = false;
let again = false;
async function render(navigated) {
  if (!me) return;
  if (navigated !== true) {
    // Typing in a field must not be wiped by a live update (moving to another page may).
    const active = document.activeElement;
    if (rendering || (active && active.tagName === "INPUT" && active.closest("#page"))) { again = true; return; }
  }
  const gen = ++generation;
  rendering = true;
  try {
    const hash = location.hash || "#/";
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.getAttribute("href") === hash.split("/").slice(0, 2).join("/"));
    for (const [re, page] of routes) {
      const m = hash.match(re);
      if (m) {
        const content = await page(...m.slice(1).map(decodeURIComponent), gen);
        if (gen === generation) document.getElementById("page").replaceChildren(...content.flat().filter((c) => c !== null));
        break;
      }
    }
  } catch (err) {
    if (me && gen === generation) document.getElementById("page").replaceChildren(el("p", { class: "error" }, String(err.message)));
  } finally {
    if (gen === generation) {
      rendering = false;
      if (again) { again = false; setTimeout(render, 0); }
    }
  }
}

// A big topology is re-read at most once per BIG_PAGE_MS on live notices (its read is ~340 KiB
// at 1,000 nodes); the last notice of a burst is always followed by a re-read.
const BIG_PAGE_MS = 2000;
let bigPage = false;
let lastLive = 0;
let liveTimer = null;
function live() {
  const wait = bigPage ? lastLive + BIG_PAGE_MS - Date.now() : 0;
  if (wait > 0) { if (!liveTimer) liveTimer = setTimeout(() => { liveTimer = null; live(); }, wait); return; }
  lastLive = Date.now();
  render();
}

function follow() {
  stream = new EventSource("/api/stream");
  stream.addEventListener("change", () => { document.getElementById("live").classList.add("on"); live(); });
  stream.onerror = () => { document.getElementById("live").classList.remove("on"); };
}

function showLogin() {
  me = null;
  if (stream) { stream.close(); stream = null; }
  document.getElementById("login").hidden = false;
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("page").replaceChildren();
  document.getElementById("whoami").textContent = "";
}

async function start() {
  const resp = await fetch("/api/me", { credentials: "same-origin" });
  const data = await resp.json();
  if (!resp.ok) { showLogin(); return; }
  me = data;
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("whoami").textContent = `${me.user} (${me.role})`;
  follow();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const resp = await fetch("/api/login", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ accessKeyId: document.getElementById("login-key").value.trim(),
        secretAccessKey: document.getElementById("login-secret").value }),
    });
    const answer = await resp.json();
    if (!resp.ok) { document.getElementById("login-error").textContent = answer.error; return; }
    await start();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    const resp = await fetch("/api/logout", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf }, body: "{}" });
    await resp.text();
    showLogin();
  });
  window.addEventListener("hashchange", () => { closeLogs(); bigPage = false; render(true); });
  // Unfocusing a field lets a held-back live update through.
  document.addEventListener("focusout", () => { if (again) { again = false; setTimeout(render, 0); } });
  start();
});
