// The details panel of the selected incident: CAP fields, evidence, history and sparklines.

import { getJson } from "./live.js";
import { iconOf, svg } from "./map.js";

/**
 * Sensors named by evidence references, in order of appearance: "atcs:BPN-A01-EB@2026-...",
 * "gauge:AMPAL-MTH@..." and episode ids like "gauge:AMPAL-MTH:flood:20261127T161000Z" all name a
 * sensor; "report:<id>" and bare ids do not.
 */
export function sensorsOf(evidence) {
  const out = [];
  for (const ref of evidence || []) {
    const match = /^(atcs|gauge):([^:@]+)/.exec(ref);
    const sensor = match && `${match[1]}:${match[2]}`;
    if (sensor && !out.includes(sensor)) out.push(sensor);
  }
  return out.slice(0, 4);
}

const MAX_EVIDENCE = 8;
const FIELDS = { "atcs:": ["occupancy", "speed"], "gauge:": ["level_cm", "rain_mm"] };
const UNITS = { occupancy: "%", speed: "km/h", level_cm: "cm", rain_mm: "mm", volume: "" };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A sparkline of one value of a series as an SVG polyline, with its last value. */
function sparkline(points, field) {
  const values = points.map((p) => p.values[field]).filter((v) => Number.isFinite(v));
  const box = el("div", "spark");
  box.append(el("span", "spark-label", field));
  if (values.length < 2) {
    box.append(el("span", "spark-none", "–"));
    return box;
  }
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const w = 200;
  const h = 40;
  const coords = values.map((v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - ((v - lo) / (hi - lo || 1)) * h).toFixed(1)}`);
  box.append(
    svg("svg", { class: "spark-svg", viewBox: `0 -2 ${w} ${h + 4}`, preserveAspectRatio: "none" },
      svg("polyline", { points: coords.join(" "), class: "spark-line" })),
    el("span", "spark-value", `${values.at(-1).toFixed(1)} ${UNITS[field] ?? ""}`),
  );
  return box;
}

export class Details {
  constructor(panel, i18n, cityAgencies, hasHistory, onClose) {
    this.panel = panel;
    this.hasHistory = hasHistory;
    this.i18n = i18n;
    this.agencies = cityAgencies;
    this.onClose = onClose;
    this.current = null;
    this.token = 0;
  }

  /** Show one incident; sparklines and history load in the background. */
  show(inc) {
    const t = this.i18n;
    this.current = inc;
    const token = ++this.token;
    const head = el("header", `details-head sev-${inc.severity}`);
    const ic = svg("svg", { class: "row-icon", "aria-hidden": "true" }, svg("use", { href: iconOf(inc.category) }));
    const close = el("button", "btn close", "×");
    close.type = "button";
    close.title = t.t.close;
    close.addEventListener("click", () => this.hide());
    head.append(ic, el("span", "sev-badge", t.severity(inc.severity)), el("h3", "", inc.explanation), close);
    const facts = el("dl", "facts");
    const fact = (k, v) => facts.append(el("dt", "", k), el("dd", "", v));
    fact("CAP", `${inc.urgency} · ${inc.severity} · ${inc.certainty}`);
    fact(t.t.zone, inc.zone || t.t.outside);
    fact(t.t.agencies, inc.agencies.map((a) => this.agencies[a] || a).join(", "));
    fact("Status", t.status(inc.status));
    if (inc.merged_into) fact(t.status("merged"), inc.merged_into);
    fact(t.t.firstSeen, t.dateTime(Date.parse(inc.first_seen)));
    fact(t.t.lastSeen, t.dateTime(Date.parse(inc.last_seen)));
    fact(`${t.t.score} · ${t.t.signals}`, `${inc.score.toFixed(2)} · ${inc.signal_count}`);
    const evidence = el("ul", "evidence");
    for (const ref of inc.evidence.slice(-MAX_EVIDENCE)) evidence.append(el("li", "", ref));
    if (inc.evidence.length > MAX_EVIDENCE) evidence.append(el("li", "muted", `+${inc.evidence.length - MAX_EVIDENCE}`));
    const sparks = el("div", "sparks");
    const history = el("ol", "history");
    this.panel.replaceChildren(head, facts);
    if (sensorsOf(inc.evidence).length) this.panel.append(el("h4", "", t.t.sensors), sparks);
    this.panel.append(el("h4", "", t.t.evidence), evidence);
    if (this.hasHistory) this.panel.append(el("h4", "", t.t.history), history);
    this.panel.hidden = false;
    this.loadSparks(inc, sparks, token);
    this.loadHistory(inc, history, token);
  }

  async loadSparks(inc, box, token) {
    for (const sensor of sensorsOf(inc.evidence)) {
      const series = await getJson(`/api/series/${encodeURIComponent(sensor)}?limit=120`).catch(() => null);
      if (token !== this.token) return;
      const row = el("div", "spark-row");
      row.append(el("span", "spark-sensor", sensor.split(":")[1]));
      const points = series?.points || [];
      const fields = FIELDS[sensor.slice(0, sensor.indexOf(":") + 1)]
        .filter((f) => points.some((p) => Number.isFinite(p.values[f])));
      for (const field of fields) row.append(sparkline(points, field));
      if (!fields.length) row.append(el("span", "muted", this.i18n.t.noData));
      box.append(row);
    }
  }

  async loadHistory(inc, list, token) {
    // GET /api/incidents/{id}/history: the audit log of operator actions, oldest first.
    if (!this.hasHistory) return;
    const hist = await getJson(`/api/incidents/${encodeURIComponent(inc.id)}/history`).catch(() => null);
    if (token !== this.token) return;
    const audit = hist?.audit || [];
    for (const h of audit.slice(-8)) {
      const extra = [h.fields?.agency, h.fields?.unit, h.fields?.note].filter(Boolean).join(" · ");
      const when = this.i18n.dateTime(Date.parse(h.ts));
      list.append(el("li", "", `${when} ${h.action} — ${h.actor}${extra ? ` (${extra})` : ""}`));
    }
    if (!audit.length) list.append(el("li", "muted", "–"));
  }

  hide() {
    this.panel.hidden = true;
    this.current = null;
    this.token++;
    this.onClose();
  }
}
