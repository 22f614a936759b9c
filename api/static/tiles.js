// The figure tiles: open incidents per agency with their median time to acknowledge (from /api/kpis
// when the API has it), last-hour count, and data freshness per source with a stale warning.

import { getJson } from "./live.js";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Median seconds to acknowledge per agency from /api/kpis
 * ({agencies: {damkar: {to_acknowledge: {n, median_s, p90_s}, ...}}}); agencies without one are left out.
 */
export function ackByAgency(kpis) {
  const out = {};
  for (const [agency, row] of Object.entries(kpis?.agencies || {})) {
    const median = row?.to_acknowledge?.median_s;
    if (Number.isFinite(median)) out[agency] = median;
  }
  return out;
}

export class Tiles {
  constructor(root, i18n, hasKpis) {
    this.root = root;
    this.i18n = i18n;
    this.hasKpis = hasKpis;
    this.figures = null;
    this.freshness = null;
    this.tta = {};
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
      this.tta = ackByAgency(kpis);
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
    const agencies = el("div", "tile wide");
    const hasTta = Object.keys(this.tta).length > 0;
    agencies.append(el("span", "tile-label", hasTta ? `${t.t.openByAgency} · ${t.t.tta}` : t.t.openByAgency));
    const grid = el("div", "agency-grid");
    const counts = Object.entries(f?.open_by_agency || {}).sort((a, b) => b[1] - a[1]);
    for (const [code, n] of counts) {
      const cell = el("span", "agency");
      cell.append(el("b", "", String(n)), el("span", "", code));
      if (code in this.tta) cell.append(el("span", "tta", `⏱ ${t.age(this.tta[code])}`));
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
      const age = s.age_s === null ? t.t.noData : `${t.age(s.age_s)} ${t.t.ago}`;
      row.append(el("span", "", t.source(s.source)), el("b", "", age));
      if (s.stale) row.append(el("em", "stale-flag", t.t.stale));
      fresh.append(row);
    }
    if (!this.freshness?.sources?.length) fresh.append(el("span", "muted", t.t.noData));
    out.push(fresh);
    this.root.replaceChildren(...out);
  }
}
