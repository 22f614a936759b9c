// The monitor wall: wires the map, the feed, the tiles and the details panel to the live feed.
//
// URL options: ?lang=id|en, ?kiosk=1, ?layout=map|feed|full, ?agency=damkar, ?zone=...,
// ?access_token=... (sent as a bearer token on every request and on the stream).

import { Details, sensorsOf } from "./details.js";
import { CLOSED, Feed, IncidentStore, SEVERITY_RANK } from "./feed.js";
import { I18n } from "./i18n.js";
import { getJson, Live } from "./live.js";
import { CityMap, svg } from "./map.js";
import { Tiles } from "./tiles.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const FLASH_MS = 30000;
const TILE_REFRESH_MS = 10000;

/** Audible (a WebAudio beep, no sound file) and visual cue for a new Severe or Extreme incident. */
class Cue {
  constructor(button, banner, i18n) {
    this.button = button;
    this.banner = banner;
    this.i18n = i18n;
    this.muted = localStorage.getItem("kendali.muted") === "1";
    this.beeps = 0;
    // Browsers start audio suspended until a user gesture (unless a kiosk allows autoplay).
    this.audio = new AudioContext();
    document.addEventListener("pointerdown", () => this.audio.resume().catch(() => {}), { once: true });
    button.addEventListener("click", () => this.toggle());
    banner.addEventListener("click", () => { banner.hidden = true; });
    this.paint();
  }

  toggle() {
    this.muted = !this.muted;
    localStorage.setItem("kendali.muted", this.muted ? "1" : "0");
    this.paint();
  }

  paint() {
    this.button.setAttribute("aria-pressed", String(this.muted));
    this.button.querySelector("use").setAttribute("href", this.muted ? "#i-mute" : "#i-sound");
  }

  beep() {
    if (this.muted || this.audio.state !== "running") return;
    const ctx = this.audio;
    this.beeps += 1;
    for (const [i, freq] of [880, 660, 880].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = ctx.currentTime + i * 0.22;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.4, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.21);
    }
  }

  fire(inc) {
    this.banner.textContent = `${this.i18n.t.newSevere}: ${inc.explanation}`;
    this.banner.className = `cue sev-${inc.severity}`;
    this.banner.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.banner.hidden = true; }, 8000);
    this.beep();
  }
}

class Wall {
  constructor(city) {
    this.city = city;
    this.filters = { agency: params.get("agency"), zone: params.get("zone") };
    const lang = params.get("lang") || localStorage.getItem("kendali.lang") || "id";
    this.i18n = new I18n(lang, city.tz);
    this.store = new IncidentStore();
    this.map = new CityMap($("map"), city, (id) => this.open(id));
    this.feed = new Feed($("feed"), $("feed-count"), this.i18n, (id) => this.open(id));
    this.tiles = new Tiles($("tiles"), this.i18n, city.endpoints?.kpis);
    this.details = new Details($("details"), this.i18n, city.agencies, city.endpoints?.history,
      () => this.map.select(null));
    this.cue = new Cue($("mute"), $("cue"), this.i18n);
    this.live = new Live(this.filters, {
      onLoad: (items) => this.load(items),
      onIncident: (inc) => this.incident(inc),
      onConnection: (up, since) => this.connection(up, since),
    });
  }

  async start() {
    const body = document.body;
    const kiosk = params.get("kiosk") === "1";
    body.classList.toggle("kiosk", kiosk);
    if (kiosk) {
      // Browsers grant full screen only on a user gesture: the first touch of the wall takes it.
      document.addEventListener("pointerdown", () => document.documentElement.requestFullscreen?.().catch(() => {}), { once: true });
    }
    body.classList.remove("layout-full");
    body.classList.add(`layout-${["map", "feed"].includes(params.get("layout")) ? params.get("layout") : "full"}`);
    $("city-name").textContent = this.city.name;
    $("lang").addEventListener("click", () => this.switchLanguage());
    document.addEventListener("keydown", (e) => this.key(e));
    this.showFilters();
    this.applyLanguage();
    this.tick();
    setInterval(() => this.tick(), 1000);
    setInterval(() => this.tiles.refresh(), TILE_REFRESH_MS);
    this.tiles.refresh();
    await this.live.start();
  }

  showFilters() {
    const parts = Object.entries(this.filters).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`);
    $("filter-note").hidden = !parts.length;
    $("filter-note").textContent = parts.join(" · ");
  }

  load(items) {
    this.store.clear();
    this.map.clear();
    for (const inc of items) this.store.put(inc);
    for (const inc of items) this.map.upsert(inc);
    this.render();
    document.body.dataset.ready = "1";
  }

  incident(inc) {
    const change = this.store.put(inc);
    if (!change) return;
    const fresh = change === "new";
    if (fresh) this.feed.markFresh(inc.id, FLASH_MS);
    this.map.upsert(inc, { fresh, flashMs: FLASH_MS });
    if (fresh && (SEVERITY_RANK[inc.severity] ?? 0) >= SEVERITY_RANK.Severe && !CLOSED.has(inc.status)) {
      this.cue.fire(inc);
    }
    if (this.details.current?.id === inc.id) this.details.show(inc);
    this.scheduleRender();
    clearTimeout(this.tilesSoon); // counts change with incidents: refresh soon, once per burst
    this.tilesSoon = setTimeout(() => this.tiles.refresh(), 1500);
  }

  scheduleRender() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.render();
    });
  }

  render() {
    this.feed.render(this.store.sorted());
  }

  open(id) {
    const inc = this.store.byId.get(id);
    if (!inc) return;
    this.feed.select(id);
    this.map.select(id, sensorsOf(inc.evidence));
    this.details.show(inc);
  }

  connection(up, since) {
    const banner = $("banner");
    banner.hidden = up;
    document.body.classList.toggle("offline", !up);
    if (!up) banner.textContent = `${this.i18n.t.disconnected} ${this.i18n.time(since)} ${this.i18n.tzName()} — ${this.i18n.t.reconnecting}`;
  }

  key(e) {
    if (e.key === "Escape" && !$("details").hidden) this.details.hide();
    else if (e.target === document.body && ["ArrowDown", "ArrowUp", "Enter"].includes(e.key)) {
      $("feed").focus();
      this.feed.key(e);
    }
  }

  switchLanguage() {
    localStorage.setItem("kendali.lang", this.i18n.toggle());
    this.applyLanguage();
  }

  applyLanguage() {
    this.i18n.apply();
    $("lang").textContent = this.i18n.lang === "id" ? "EN" : "ID";
    $("clock-tz").textContent = this.i18n.tzName();
    this.renderLegend();
    this.render();
    this.tiles.render();
    if (this.details.current) this.details.show(this.details.current);
  }

  /** Severity colours and map symbols, in the current language. */
  renderLegend() {
    const t = this.i18n;
    const item = (cls, shape, label) => {
      const li = document.createElement("li");
      li.className = cls;
      li.append(svg("svg", { viewBox: "-10 -10 20 20", "aria-hidden": "true" }, shape), label);
      return li;
    };
    const items = ["Extreme", "Severe", "Moderate", "Minor"].map((sev) =>
      item(`incident sev-${sev}`, svg("circle", { class: "dot", r: 8 }), t.severity(sev)));
    items.push(
      item("", svg("rect", { class: "detector", x: -4, y: -4, width: 8, height: 8 }), t.t.legend.detector),
      item("", svg("path", { class: "gauge river", d: "M0,-8L7,5L-7,5Z" }), t.t.legend.gauge),
      item("", svg("path", { class: "gauge rain", d: "M0,-8L7,5L-7,5Z" }), t.t.legend.rain),
      item("", svg("rect", { class: "flood-area", x: -8, y: -6, width: 16, height: 12 }), t.t.legend.flood),
    );
    $("legend").replaceChildren(...items);
  }

  tick() {
    $("clock").textContent = this.i18n.time(Date.now());
    if (Date.now() - (this.lastAges || 0) > 15000) {
      this.lastAges = Date.now();
      this.render(); // refresh ages and end flashes
    }
  }
}

async function main() {
  const city = await getJson("/api/city");
  const wall = new Wall(city);
  window.kendaliWall = wall; // for operators' consoles and the browser tests
  await wall.start();
}

main().catch((err) => {
  const banner = $("banner");
  banner.hidden = false;
  banner.textContent = `Kendali: ${err.message}`;
  setTimeout(() => location.reload(), 5000);
});
