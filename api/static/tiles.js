// The figure tiles: open incidents per agency, last-hour count, median time to acknowledge (from
// /api/kpis when that endpoint exists), and data freshness per source with a stale warning.

import { getJson } from "./live.js";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A median time to acknowledge (seconds) from whatever /api/kpis returns: the first number whose
 * key path mentions "ack" and "median" or "p50", searched breadth-first (overall before per agency).
 */
export function medianAckSeconds(kpis) {
  const queue = [[kpis, ""]];
  while (queue.length) {
    const [node, path] = queue.shift();
    if (node === null || typeof node !== "object") continue;
    for (const [key, value] of Object.entries(node)) {
      const here = `${path}.${key}`.toLowerCase();
      if (typeof value === "number" && /ack/.test(here) && /median|p50/.test(here)) return value;
      if (typeof value === "object") queue.push([value, here]);
    }
  }
  return null;
}

export class Tiles {
  constructor(root, i18n, hasKpis) {
    this.root = root;
    this.i18n = i18n;
    this.hasKpis = hasKpis;
    this.figures = null;
    this.freshness = null;
    this.tta = null;
  }

  async refresh() {
    const [figures, freshness] = await Promise.all([
      getJson("/api/wall/figures").catch(() => this.figures),
      getJson("/api/freshness").catch(() => this.freshness),
    ]);
    this.figures = figures;
    this.freshness = freshness;
    if (this.hasKpis) {
      const kpis = await getJson("/api/kpis").catch(() => null);
      this.tta = kpis ? medianAckSeconds(kpis) : null;
    }
    this.render();
  }

  tile(label, value, cls = "") {
    const box = el("div", `tile ${cls}`);
    box.append(el("span", "tile-value", value), el("span", "tile-label", label));
    return box;
  }

  render() {
    const t = this.i18n;
    const out = [];
    const f = this.figures;
    out.push(this.tile(t.t.lastHour, f ? String(f.last_hour) : "–", "big"));
    if (this.tta !== null) out.push(this.tile(t.t.tta, t.age(this.tta), "big"));
    const agencies = el("div", "tile wide");
    agencies.append(el("span", "tile-label", t.t.openByAgency));
    const grid = el("div", "agency-grid");
    const counts = Object.entries(f?.open_by_agency || {}).sort((a, b) => b[1] - a[1]);
    for (const [code, n] of counts) {
      const cell = el("span", "agency");
      cell.append(el("b", "", String(n)), el("span", "", code));
      grid.append(cell);
    }
    if (!counts.length) grid.append(el("span", "muted", "0"));
    agencies.append(grid);
    out.push(agencies);
    const fresh = el("div", "tile wide freshness");
    fresh.append(el("span", "tile-label", t.t.freshness));
    for (const s of this.freshness?.sources || []) {
      const row = el("span", `source${s.stale ? " stale" : ""}`);
      row.dataset.source = s.source;
      row.append(el("span", "", t.source(s.source)), el("b", "", `${t.age(s.age_s)} ${t.t.ago}`));
      if (s.stale) row.append(el("em", "stale-flag", t.t.stale));
      fresh.append(row);
    }
    if (!this.freshness?.sources?.length) fresh.append(el("span", "muted", t.t.noData));
    out.push(fresh);
    this.root.replaceChildren(...out);
  }
}
