// Shekara dashboard: reads the officials' API with the key the official entered.
// Every value shown comes from traffic the audit observed, so it is set as text,
// never as HTML.
"use strict";

// The more sensitive a category, the earlier it comes: it names a flow's colour.
const SENSITIVITY = [
  "biometric", "iin", "credentials", "location", "contacts", "cabin_media", "phone",
  "email", "person_name", "vin", "license_plate", "imei", "imsi", "iccid",
  "cell_location", "mac_address", "account_id", "remote_control",
];
const COLOURS = {
  biometric: "#6a0dad", iin: "#b00020", credentials: "#d81b60", location: "#e53935",
  contacts: "#f4511e", cabin_media: "#8e24aa", phone: "#fb8c00", email: "#f9a825",
  person_name: "#c0ca33", vin: "#ef6c00", license_plate: "#8d6e63", imei: "#3949ab",
  imsi: "#1e88e5", iccid: "#039be5", cell_location: "#00897b", mac_address: "#546e7a",
  account_id: "#78909c", remote_control: "#37474f",
};
const KZ = "KZ";
const PAGE = 50;

const state = { key: null, next: null, lastId: 0, categories: {}, live: null, geo: null, caExpiry: null };
const $ = (id) => document.getElementById(id);

function rank(category) {
  const i = SENSITIVITY.indexOf(category);
  return i < 0 ? SENSITIVITY.length : i;
}

class Unauthorised extends Error {}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${state.key}` } });
  if (response.status === 401 || response.status === 403) throw new Unauthorised(response.status);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function filters() {
  const q = new URLSearchParams();
  const category = $("filter-category").value;
  const country = $("filter-country").value.trim().toUpperCase();
  const host = $("filter-host").value.trim();
  const session = $("filter-session").value;
  const since = $("filter-since").value;
  const until = $("filter-until").value;
  if (category) q.set("category", category);
  if (country) q.set("country", country);
  if (host) q.set("host", host);
  if (session) q.set("session", session);
  if (since) q.set("since", since);
  if (until) q.set("until", until);
  if ($("filter-violation").checked) q.set("violation", "true");
  return q;
}

function td(text, cls) {
  const cell = document.createElement("td");
  cell.textContent = text == null ? "" : String(text);
  if (cls) cell.className = cls;
  return cell;
}

function utc(iso) {
  return iso ? iso.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, "") : "";
}

// -- map ---------------------------------------------------------------------

async function loadGeo() {
  const [world, numeric] = await Promise.all([
    fetch("vendor/countries-110m.json").then((r) => r.json()),
    fetch("vendor/iso-3166-numeric.json").then((r) => r.json()),
  ]);
  const countries = topojson.feature(world, world.objects.countries).features;
  const byNumeric = new Map(countries.map((f) => [String(f.id).padStart(3, "0"), f]));
  const projection = d3.geoNaturalEarth1().fitSize([960, 500], { type: "Sphere" });
  const path = d3.geoPath(projection);
  const svg = $("map");
  const ns = "http://www.w3.org/2000/svg";
  const kzFeature = byNumeric.get(numeric[KZ]);
  for (const f of countries) {
    const p = document.createElementNS(ns, "path");
    p.setAttribute("d", path(f) || "");
    p.setAttribute("class", f === kzFeature ? "land kz" : "land");
    const title = document.createElementNS(ns, "title");
    title.textContent = f.properties.name;
    p.appendChild(title);
    svg.appendChild(p);
  }
  const flows = document.createElementNS(ns, "g");
  flows.id = "flows";
  svg.appendChild(flows);
  state.geo = {
    path, projection, flows, ns,
    centroid(alpha2) {
      const f = byNumeric.get(numeric[alpha2]);
      return f ? d3.geoCentroid(f) : null;
    },
  };
}

function drawFlows(rows) {
  const { path, projection, flows, ns, centroid } = state.geo;
  flows.replaceChildren();
  const byCountry = new Map();
  for (const row of rows) {
    const country = row.key.country;
    if (!country) continue;
    const entry = byCountry.get(country) || { findings: 0, worst: null };
    entry.findings += row.findings;
    if (entry.worst === null || rank(row.key.category) < rank(entry.worst)) entry.worst = row.key.category;
    byCountry.set(country, entry);
  }
  const origin = centroid(KZ);
  const max = Math.max(1, ...[...byCountry.values()].map((e) => e.findings));
  const summary = $("countries").tBodies[0];
  summary.replaceChildren();
  const legend = new Set();
  const sorted = [...byCountry.entries()].sort((a, b) => b[1].findings - a[1].findings);
  for (const [country, entry] of sorted) {
    const tr = document.createElement("tr");
    tr.append(td(country), td(entry.findings), td(state.categories[entry.worst] || entry.worst));
    summary.appendChild(tr);
    const target = centroid(country);
    if (!target || !origin) continue;
    const colour = COLOURS[entry.worst] || "#555";
    legend.add(entry.worst);
    const width = 1 + 7 * Math.log1p(entry.findings) / Math.log1p(max);
    if (country === KZ) {
      const [x, y] = projection(origin);
      const dot = document.createElementNS(ns, "circle");
      dot.setAttribute("cx", x); dot.setAttribute("cy", y); dot.setAttribute("r", 2 + width);
      dot.setAttribute("class", "dot flow-domestic"); dot.setAttribute("fill", colour);
      flows.appendChild(dot);
      continue;
    }
    const line = document.createElementNS(ns, "path");
    line.setAttribute("d", path({ type: "LineString", coordinates: [origin, target] }) || "");
    line.setAttribute("class", "flow");
    line.setAttribute("stroke", colour);
    line.setAttribute("stroke-width", width.toFixed(2));
    line.dataset.country = country;
    line.dataset.findings = entry.findings;
    const title = document.createElementNS(ns, "title");
    title.textContent = `KZ → ${country}: ${entry.findings} findings, worst: ${entry.worst}`;
    line.appendChild(title);
    flows.appendChild(line);
  }
  const box = $("legend");
  box.replaceChildren();
  for (const category of [...legend].sort((a, b) => rank(a) - rank(b))) {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = COLOURS[category] || "#555";
    span.append(swatch, document.createTextNode(state.categories[category] || category));
    box.appendChild(span);
  }
}

// -- tables, timeline, evidence ---------------------------------------------------

function findingRow(f, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.id = f.id;
  if (fresh) tr.className = "fresh";
  tr.append(
    td(utc(f.observed_at)), td(f.category, "category"), td(f.destination.country, "country"),
    td(f.destination.host), td(f.field, "mono"), td(f.preview, "mono"), td(f.severity),
  );
  tr.addEventListener("click", () => showEvidence(f.id, tr));
  return tr;
}

async function loadFindings(append) {
  const q = filters();
  q.set("limit", PAGE);
  q.set("sort", "-id");
  if (append && state.next) q.set("cursor", state.next);
  const page = await api(`/findings?${q}`);
  const body = $("findings").tBodies[0];
  if (!append) body.replaceChildren();
  for (const f of page.data) body.appendChild(findingRow(f, false));
  state.next = page.next;
  $("more").hidden = !page.next;
  $("count").textContent = `(${page.count})`;
  if (!append && page.data.length) state.lastId = Math.max(state.lastId, page.data[0].id);
}

// Why a destination's country must be read with care, in words.
const CAVEATS = {
  low_confidence: "low confidence",
  disputed: "disputed: the sources disagree",
  cdn_edge: "CDN edge",
};

function destinationRow(d) {
  const tr = document.createElement("tr");
  const geo = d.geolocation;
  const caveats = geo ? geo.caveats : [];
  tr.dataset.host = d.host || "";
  tr.dataset.confidence = geo ? geo.confidence : "";
  tr.dataset.caveats = caveats.join(" ");
  if (caveats.length) tr.className = "caveat";
  let confidence = geo ? geo.confidence : "no evidence";
  if (caveats.length) {
    const words = caveats.map((c) => (c === "cdn_edge" && geo.cdn ? `CDN edge (${geo.cdn})` : CAVEATS[c]));
    confidence = `⚠ ${words.join("; ")}`;
  }
  const sources = geo ? geo.sources.map((s) => `${s.source}: ${s.country || "no answer"}`).join("; ") : "";
  const network = [d.asn ? `AS${d.asn}` : null, d.org].filter(Boolean).join(" ");
  tr.append(
    td(d.host), td(d.ip, "mono"), td(geo ? geo.country || (geo.disputed ? "disputed" : "undetermined") : d.country, "country"),
    td(confidence, "confidence"), td(network), td(sources), td(d.findings), td(d.sessions),
  );
  if (geo) {
    const names = geo.names.map((n) => (n.cname_chain.length ? n.cname_chain.join(" → ") : n.name));
    tr.title = [
      `verdict: ${geo.verdict || "—"}, outcome: ${geo.outcome || "—"}`,
      names.length ? `names: ${[...new Set(names)].join(", ")}` : "",
      geo.ptr.length ? `PTR: ${geo.ptr.join(", ")}` : "",
      geo.rtt ? `round trip ${geo.rtt.rtt_ms} ms: ${geo.rtt.outcome}` : "",
    ].filter(Boolean).join("\n");
  }
  return tr;
}

async function loadDestinations() {
  const q = filters();
  q.set("limit", "200");
  const page = await api(`/destinations?${q}`);
  const body = $("destinations").tBodies[0];
  body.replaceChildren(...page.data.map(destinationRow));
  $("dest-count").textContent = `(${page.count})`;
}

async function loadTimeline() {
  const session = $("filter-session").value;
  const panel = $("timeline-panel");
  panel.hidden = !session;
  if (!session) return;
  const q = filters();
  q.set("by", "hour");
  const [hours, detail] = await Promise.all([
    api(`/aggregates?${q}`),
    api(`/sessions/${encodeURIComponent(session)}`),
  ]);
  const svg = $("timeline");
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const times = hours.data.map((r) => r.key.hour * 1000);
  const marks = detail.markers.map((m) => Date.parse(m.at));
  const all = times.concat(marks, [Date.parse(detail.started_at)]);
  if (!all.length) return;
  const t0 = Math.min(...all), t1 = Math.max(...all) + 3600e3;
  const x = (t) => 20 + 920 * (t - t0) / Math.max(1, t1 - t0);
  const max = Math.max(1, ...hours.data.map((r) => r.findings));
  for (const row of hours.data) {
    const h = 90 * row.findings / max;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("class", "bar");
    rect.setAttribute("x", x(row.key.hour * 1000));
    rect.setAttribute("width", Math.max(2, x(row.key.hour * 1000 + 3600e3) - x(row.key.hour * 1000) - 1));
    rect.setAttribute("y", 110 - h); rect.setAttribute("height", h);
    const title = document.createElementNS(ns, "title");
    title.textContent = `${row.findings} findings`;
    rect.appendChild(title);
    svg.appendChild(rect);
  }
  for (const m of detail.markers) {
    const mx = x(Date.parse(m.at));
    const line = document.createElementNS(ns, "line");
    line.setAttribute("class", "marker");
    line.setAttribute("x1", mx); line.setAttribute("x2", mx);
    line.setAttribute("y1", 10); line.setAttribute("y2", 115);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", mx + 3); label.setAttribute("y", 130);
    label.textContent = m.label;
    svg.append(line, label);
  }
}

async function showEvidence(id, tr) {
  for (const row of $("findings").querySelectorAll("tr.selected")) row.classList.remove("selected");
  if (tr) tr.classList.add("selected");
  const ev = await api(`/findings/${encodeURIComponent(id)}`);
  const f = ev.finding;
  const set = (key, text) => { $(key).textContent = text == null ? "—" : String(text); };
  set("ev-id", f.id);
  set("ev-category", `${f.category} (${state.categories[f.category] || f.category})`);
  set("ev-locator", ev.locator);
  set("ev-preview", ev.preview);
  set("ev-value-hash", ev.hashes.value_hash);
  set("ev-chain", ev.hashes.seq == null ? null : `#${ev.hashes.seq} ${ev.hashes.record_hash}`);
  set("ev-destination", `${ev.flow.host || "?"} ${ev.flow.ip || ""}:${ev.flow.port || ""}`);
  set("ev-country", ev.geolocation.country);
  const g = ev.geolocation;
  const e = g.evidence;
  const answers = e ? `; sources: ${e.sources.map((a) => `${a.source}: ${a.country || "no answer"}`).join(", ")}` : "";
  const caveats = e && e.caveats.length ? ` ⚠ ${e.caveats.map((c) => CAVEATS[c]).join("; ")}` : "";
  set("ev-geo", `${g.source || "?"} ${g.build || ""}, ${g.confidence}; AS${g.asn || "?"} ${g.org || ""}${g.city ? ", " + g.city : ""}${answers}${caveats}`);
  set("ev-flow", `${ev.flow.flow_id} — ${utc(ev.flow.observed_at)} UTC — ${ev.flow.findings_in_flow} findings`);
  const fl = ev.flow;
  const bytes = (body, total) => body == null ? "?" : `${body} B${total == null ? "" : ` (${total} B in all)`}`;
  set("ev-request", fl.protocol ? [fl.protocol.toUpperCase() + (fl.application && fl.application !== fl.protocol ? `/${fl.application}` : ""), fl.method, fl.url].filter(Boolean).join(" ") : null);
  set("ev-status", fl.status);
  set("ev-sizes", fl.protocol ? `sent ${bytes(fl.request_body_bytes, fl.request_bytes)}, received ${bytes(fl.response_body_bytes, fl.response_bytes)}` : null);
  set("ev-times", fl.started_at ? `${utc(fl.started_at)} → ${fl.ended_at ? utc(fl.ended_at) : "?"} UTC${fl.duration_s == null ? "" : ` (${fl.duration_s.toFixed(3)} s)`}` : null);
  set("ev-flow-hash", fl.metadata_sha256 ? `sha256 ${fl.metadata_sha256}${fl.metadata_verified ? "" : " (does NOT match the stored record)"}` : null);
  const s = ev.session;
  set("ev-session", s ? `#${s.id} ${s.kind}${s.vehicle ? ", " + [s.vehicle.make, s.vehicle.model].filter(Boolean).join(" ") : ""}${s.firmware ? ", firmware " + s.firmware : ""}` : null);
  set("ev-rule", `${f.rule_id} (${f.severity}), verdict ${f.verdict}`);
  set("ev-legal", f.legal_refs.join("; "));
  set("ev-notes", ev.flow.notes.length ? ev.flow.notes.map((n) => `${n.source}: ${n.reason}`).join("; ") : "none");
  $("evidence").hidden = false;
}

async function refresh() {
  const q = filters();
  q.append("by", "country");
  q.append("by", "category");
  q.set("limit", "10000");
  const [agg] = await Promise.all([
    api(`/aggregates?${q}`), loadFindings(false), loadTimeline(), loadDestinations(),
  ]);
  drawFlows(agg.data);
  const exp = filters();
  $("export-csv").href = "#";
  $("export-json").href = "#";
  $("export-csv").dataset.query = `/findings/export?${exp}&format=csv`;
  $("export-json").dataset.query = `/findings/export?${exp}&format=json`;
  document.body.dataset.ready = "1";
}

async function download(event) {
  // An <a href> cannot carry the key in a header: fetch, then hand the browser a blob.
  event.preventDefault();
  const path = event.currentTarget.dataset.query;
  const response = await fetch(path, { headers: { Authorization: `Bearer ${state.key}` } });
  const blob = await response.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = path.includes("format=json") ? "findings.json" : "findings.csv";
  a.click();
  URL.revokeObjectURL(a.href);
}

// -- live updates (server-sent events over fetch, so the key stays in a header) ------

async function live() {
  const badge = $("live");
  for (;;) {
    try {
      const q = new URLSearchParams({ after: String(state.lastId) });
      const session = $("filter-session").value;
      if (session) q.set("session", session);
      const response = await fetch(`/events?${q}`, { headers: { Authorization: `Bearer ${state.key}` } });
      if (!response.ok) throw new Error(String(response.status));
      badge.textContent = "live: on"; badge.className = "live on";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let pending = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n");
          if (!data) continue;
          const event = JSON.parse(data);
          state.lastId = Math.max(state.lastId, event.id);
          pending = true;
        }
        if (pending) {
          pending = false;
          // One refresh per burst: a test drive may store hundreds a second.
          clearTimeout(state.live);
          state.live = setTimeout(() => refresh().catch(report), 500);
        }
      }
    } catch (err) {
      badge.textContent = "live: off"; badge.className = "live off";
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
}

// -- the audit CA for the device under test -------------------------------------------

const SVG_NS = "http://www.w3.org/2000/svg";
// What the API's QR codes are drawn with; anything else in an answer is dropped,
// and colours and transforms must look like the ones it draws.
const QR_ELEMENTS = new Set(["svg", "g", "path", "rect", "title"]);
const QR_ATTRIBUTES = {
  width: /^\d+(\.\d+)?$/, height: /^\d+(\.\d+)?$/, viewBox: /^[\d. ]+$/, class: /^[\w -]+$/,
  d: /^[MmHhVvZzLl\d.\s-]+$/, fill: /^(#[0-9a-fA-F]{3,8}|none)$/, stroke: /^(#[0-9a-fA-F]{3,8}|none)$/,
  transform: /^(scale|translate)\([\d.\s,-]+\)$/,
};

function qrNode(text) {
  // Parsed as XML and rebuilt from allowed parts: never inserted as markup.
  const root = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== "svg") throw new Error("the QR code is not an SVG");
  const copy = (node) => {
    const out = document.createElementNS(SVG_NS, node.localName);
    for (const attr of node.attributes) {
      const allowed = QR_ATTRIBUTES[attr.name];
      if (!attr.namespaceURI && allowed && allowed.test(attr.value)) out.setAttribute(attr.name, attr.value);
    }
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE && node.localName === "title") out.append(child.data);
      else if (child.nodeType === Node.ELEMENT_NODE && child.namespaceURI === SVG_NS && QR_ELEMENTS.has(child.localName)) {
        out.appendChild(copy(child));
      }
    }
    return out;
  };
  return copy(root);
}

function caMessage(text) {
  $("ca-error").textContent = text;
  $("ca-error").hidden = !text;
}

async function makeCaLink(event) {
  event.preventDefault();
  caMessage("");
  const q = new URLSearchParams({ format: $("ca-format").value });
  const response = await fetch(`/ca/link?${q}`, { method: "POST", headers: { Authorization: `Bearer ${state.key}` } });
  if (response.status === 401) throw new Unauthorised(401);
  // An official's key reads the findings but does not install CAs: say so, stay logged in.
  if (response.status === 403) return caMessage("Installing the audit CA needs an engineer's or an administrator's key.");
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    return caMessage(typeof body.detail === "string" ? body.detail : `No link could be made (${response.status}).`);
  }
  const link = await response.json();
  $("ca-qr").replaceChildren(qrNode(link.qr_svg));
  const a = $("ca-url");
  a.textContent = link.url;
  a.href = /^https?:\/\//.test(link.url) ? link.url : "#";
  $("ca-fingerprint").textContent = link.sha256_fingerprint;
  $("ca-subject").textContent = link.subject;
  $("ca-expires").textContent = utc(link.expires_at);
  $("ca-warning").textContent = link.warning || "";
  $("ca-warning").hidden = !link.warning;
  const result = $("ca-result");
  result.classList.remove("expired");
  result.hidden = false;
  clearTimeout(state.caExpiry);
  state.caExpiry = setTimeout(() => {
    result.classList.add("expired");
    $("ca-expires").textContent = `${utc(link.expires_at)}: expired, make a new link`;
  }, Math.max(0, Date.parse(link.expires_at) - Date.now()));
}

function report(err) {
  if (err instanceof Unauthorised) return logout("The key was refused.");
  console.error(err);
}

function logout(message) {
  sessionStorage.removeItem("shekara-key");
  state.key = null;
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
}

async function start() {
  const [cats, sessions] = await Promise.all([api("/categories"), api("/sessions?limit=1000&sort=-id")]);
  for (const c of cats.data) {
    state.categories[c.id] = c.names.en;
    const o = document.createElement("option");
    o.value = c.id; o.textContent = c.names.en;
    $("filter-category").appendChild(o);
  }
  for (const s of sessions.data) {
    const o = document.createElement("option");
    o.value = s.id;
    const vehicle = s.vehicle ? ` ${[s.vehicle.make, s.vehicle.model].filter(Boolean).join(" ")}` : "";
    o.textContent = `#${s.id} ${s.kind}${vehicle}${s.firmware ? " fw " + s.firmware : ""} (${s.violations})`;
    $("filter-session").appendChild(o);
  }
  $("login").hidden = true;
  $("main").hidden = false;
  if (!state.geo) await loadGeo();
  await refresh();
  live();
}

function init() {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromUrl) {
    sessionStorage.setItem("shekara-key", fromUrl);
    // The key must not stay in the address bar, history or a screenshot.
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.key = sessionStorage.getItem("shekara-key");
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh().catch(report); });
  $("more").addEventListener("click", () => loadFindings(true).catch(report));
  $("evidence-close").addEventListener("click", () => { $("evidence").hidden = true; });
  $("export-csv").addEventListener("click", download);
  $("export-json").addEventListener("click", download);
  $("ca-form").addEventListener("submit", (e) => makeCaLink(e).catch(report));
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.key = $("key-input").value.trim();
    sessionStorage.setItem("shekara-key", state.key);
    start().catch(report);
  });
  if (!state.key) return logout();
  start().catch(report);
}

init();
