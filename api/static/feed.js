// The incident store (latest version per id, duplicates ignored) and the live feed list.

import { iconOf } from "./map.js";

export const SEVERITY_RANK = { Extreme: 4, Severe: 3, Moderate: 2, Minor: 1, Unknown: 0 };
export const CLOSED = new Set(["resolved", "closed", "merged", "false_alarm"]);
const MAX_ROWS = 300;

/** Latest version of every incident; `put` says whether a version is new, and which kind. */
export class IncidentStore {
  constructor() {
    this.byId = new Map();
    this.applied = []; // "id@version" of every version applied, in order (read by the tests)
  }

  /** "new" (first version seen), "update" (a newer version), or null (duplicate or older). */
  put(inc) {
    const current = this.byId.get(inc.id);
    if (current && current.version >= inc.version) return null;
    this.byId.set(inc.id, inc);
    this.applied.push(`${inc.id}@${inc.version}`);
    return current ? "update" : "new";
  }

  clear() {
    this.byId.clear();
  }

  /** Open before closed, then most severe, then most recently seen. */
  sorted() {
    return [...this.byId.values()].sort((a, b) =>
      (CLOSED.has(a.status) - CLOSED.has(b.status))
      || (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0)
      || Date.parse(b.last_seen) - Date.parse(a.last_seen));
  }
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function icon(category) {
  const ns = "http://www.w3.org/2000/svg";
  const s = document.createElementNS(ns, "svg");
  s.setAttribute("class", "row-icon");
  s.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", iconOf(category));
  s.append(use);
  return s;
}

export class Feed {
  constructor(list, counter, i18n, onOpen) {
    this.list = list;
    this.counter = counter;
    this.i18n = i18n;
    this.onOpen = onOpen;
    this.selected = null;
    this.fresh = new Map(); // id -> epoch ms until which the row flashes
    list.addEventListener("keydown", (e) => this.key(e));
  }

  markFresh(id, ms = 30000) {
    this.fresh.set(id, Date.now() + ms);
  }

  render(incidents) {
    const now = Date.now();
    const rows = incidents.slice(0, MAX_ROWS).map((inc) => this.row(inc, now));
    this.list.replaceChildren(...rows);
    if (!rows.length) this.list.append(el("li", "empty", this.i18n.t.none));
    const open = incidents.filter((i) => !CLOSED.has(i.status)).length;
    this.counter.textContent = `${open} / ${incidents.length}`;
  }

  row(inc, now) {
    const t = this.i18n;
    const li = el("li", `row sev-${inc.severity}${CLOSED.has(inc.status) ? " closed" : ""}`);
    li.id = `inc-${inc.id}`;
    li.dataset.id = inc.id;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(inc.id === this.selected));
    if ((this.fresh.get(inc.id) || 0) > now) li.classList.add("flash");
    li.addEventListener("click", () => this.open(inc.id));
    const sev = el("span", "sev-badge", t.severity(inc.severity));
    const text = el("span", "explanation", inc.explanation);
    const meta = el("span", "meta");
    meta.append(
      el("span", "zone", inc.zone || t.t.outside),
      el("span", "agencies", inc.agencies.join(" · ")),
      el("span", "age", t.age((now - Date.parse(inc.last_seen)) / 1000)),
      el("span", `state st-${inc.status}`, t.status(inc.status)),
    );
    li.append(icon(inc.category), sev, text, meta);
    return li;
  }

  open(id) {
    this.select(id);
    this.onOpen(id);
  }

  select(id) {
    this.selected = id;
    for (const row of this.list.querySelectorAll(".row")) {
      const on = row.dataset.id === id;
      row.setAttribute("aria-selected", String(on));
      if (on) {
        row.scrollIntoView({ block: "nearest" });
        this.list.setAttribute("aria-activedescendant", row.id);
      }
    }
  }

  key(e) {
    const rows = [...this.list.querySelectorAll(".row")];
    if (!rows.length) return;
    const at = rows.findIndex((r) => r.dataset.id === this.selected);
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const step = e.key === "ArrowDown" ? 1 : -1;
      const next = at < 0 ? 0 : Math.max(0, Math.min(rows.length - 1, at + step));
      this.select(rows[next].dataset.id);
      e.preventDefault();
    } else if (e.key === "Enter" && at >= 0) {
      this.open(this.selected);
      e.preventDefault();
    }
  }
}
