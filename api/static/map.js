// The city map in plain SVG: zones, flood areas, detectors, gauges and incidents.
//
// Longitude and latitude are projected linearly around the city centre (x scaled by cos(lat)),
// which is exact enough over a city. An optional raster tile server (settings api.tile_url) is
// laid underneath as Web Mercator tiles placed by the same projection.

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 1000;

export const CATEGORY_ICON = {
  fire: "fire", flood: "flood", weather_warning: "cloud", traffic_accident: "car",
  traffic_incident: "car", congestion: "queue", fallen_tree: "tree", landslide: "slide",
  crime: "shield", public_order: "shield", health_emergency: "health", family_help: "people",
  infrastructure: "wrench", detector_fault: "wrench", gauge_fault: "wrench",
};

export function iconOf(category) {
  return `#i-${CATEGORY_ICON[category] || "alert"}`;
}

/** An SVG element with attributes (and optional children). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const child of children) el.append(child);
  return el;
}

/** [west, south, east, north] around some (lon, lat) points, widened by `pad` of its size. */
export function extentOf(points, pad = 0.12) {
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  const [w, e, s, n] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const dx = Math.max(e - w, 0.01) * pad;
  const dy = Math.max(n - s, 0.01) * pad;
  return [w - dx, s - dy, e + dx, n + dy];
}

export class CityMap {
  /** The view fits what the city watches (sensors, flood areas) and every incident shown. */
  constructor(root, city, onSelect) {
    this.root = root;
    this.city = city;
    this.onSelect = onSelect;
    this.incidents = new Map();
    this.markers = new Map();
    this.layers = {};
    for (const name of ["tiles", "zones", "areas", "sensors", "incidentAreas", "incidents", "labels"]) {
      this.layers[name] = root.appendChild(svg("g", { class: `layer-${name}` }));
    }
    this.fit(this.watchedExtent());
  }

  watchedExtent() {
    const c = this.city;
    const points = [...c.detectors.features, ...c.gauges.features].map((f) => f.geometry.coordinates);
    for (const area of c.flood_areas.features) {
      for (const poly of this.polygons(area.geometry)) points.push(...poly[0]);
    }
    if (!points.length) return c.bbox;
    return extentOf(points);
  }

  /** Project `extent` onto a WIDTH-wide view, then redraw the city and the incidents. */
  fit(extent) {
    const [west, south, east, north] = extent;
    this.extent = extent;
    this.lon0 = (west + east) / 2;
    this.lat0 = (south + north) / 2;
    this.kx = Math.cos((this.lat0 * Math.PI) / 180);
    this.scale = WIDTH / ((east - west) * this.kx);
    this.x0 = 0;
    this.y0 = 0;
    [this.x0, this.y0] = [this.x(west), this.y(north)];
    this.root.setAttribute("viewBox", `0 0 ${WIDTH} ${((north - south) * this.scale).toFixed(1)}`);
    for (const layer of Object.values(this.layers)) layer.replaceChildren();
    this.markers.clear();
    this.drawCity();
    for (const inc of this.incidents.values()) this.draw(inc, false);
  }

  /** Widen the view when an incident falls outside it. */
  include(lon, lat) {
    const [w, s, e, n] = this.extent;
    if (lon > w && lon < e && lat > s && lat < n) return false;
    this.fit(extentOf([[w, s], [e, n], [lon, lat]], 0.05));
    return true;
  }

  x(lon) {
    return (lon - this.lon0) * this.kx * this.scale - this.x0;
  }

  y(lat) {
    return -(lat - this.lat0) * this.scale - this.y0;
  }

  path(rings) {
    return rings
      .map((ring) => `M${ring.map(([lon, lat]) => `${this.x(lon).toFixed(1)},${this.y(lat).toFixed(1)}`).join("L")}Z`)
      .join("");
  }

  polygons(geometry) {
    if (geometry.type === "Polygon") return [geometry.coordinates];
    if (geometry.type === "MultiPolygon") return geometry.coordinates;
    return [];
  }

  drawCity() {
    const c = this.city;
    if (c.tile_url) this.drawTiles(c.tile_url);
    for (const zone of c.zones.features) {
      for (const poly of this.polygons(zone.geometry)) {
        this.layers.zones.append(svg("path", { class: "zone", d: this.path(poly) }));
      }
      const [lon, lat] = this.labelPoint(zone.geometry);
      const label = svg("text", { class: "zone-label", x: this.x(lon), y: this.y(lat) });
      label.textContent = zone.properties.name;
      this.layers.labels.append(label);
    }
    for (const area of c.flood_areas.features) {
      for (const poly of this.polygons(area.geometry)) {
        const el = svg("path", { class: "flood-area", d: this.path(poly) });
        el.append(svg("title", {}, area.properties.name));
        this.layers.areas.append(el);
      }
    }
    for (const det of c.detectors.features) this.drawSensor(det, "detector", `atcs:${det.properties.id}`);
    for (const gauge of c.gauges.features) this.drawSensor(gauge, `gauge ${gauge.properties.kind}`, `gauge:${gauge.properties.id}`);
  }

  drawSensor(feature, kind, sensor) {
    const [lon, lat] = feature.geometry.coordinates;
    const x = this.x(lon);
    const y = this.y(lat);
    const el = kind === "detector"
      ? svg("rect", { class: "detector", x: x - 3, y: y - 3, width: 6, height: 6, "data-sensor": sensor })
      : svg("path", { class: kind, d: `M${x},${y - 8}L${x + 7},${y + 5}L${x - 7},${y + 5}Z`, "data-sensor": sensor });
    el.append(svg("title", {}, `${feature.properties.name} (${feature.properties.id})`));
    this.layers.sensors.append(el);
  }

  /** Mean of the outline's corners, each first pulled inside the view, so labels stay visible. */
  labelPoint(geometry) {
    const ring = this.polygons(geometry)[0]?.[0] || [[this.lon0, this.lat0]];
    const pts = ring.length > 1 ? ring.slice(0, -1) : ring;
    const [w, s, e, n] = this.extent;
    const mx = (e - w) * 0.08;
    const my = (n - s) * 0.05;
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    const sum = pts.reduce((a, [lon, lat]) => [a[0] + clamp(lon, w + mx, e - mx), a[1] + clamp(lat, s + my, n - my)], [0, 0]);
    return [sum[0] / pts.length, sum[1] / pts.length];
  }

  drawTiles(template) {
    const [west, south, east, north] = this.extent;
    const zoom = Math.max(0, Math.min(18, Math.round(Math.log2((360 / (east - west)) * 4))));
    const n = 2 ** zoom;
    const tx = (lon) => ((lon + 180) / 360) * n;
    const ty = (lat) => {
      const r = (lat * Math.PI) / 180;
      return ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n;
    };
    const lonOf = (x) => (x / n) * 360 - 180;
    const latOf = (y) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) * 180) / Math.PI;
    for (let x = Math.floor(tx(west)); x <= Math.floor(tx(east)); x++) {
      for (let y = Math.floor(ty(north)); y <= Math.floor(ty(south)); y++) {
        const href = template.replace("{z}", zoom).replace("{x}", x).replace("{y}", y);
        const left = this.x(lonOf(x));
        const top = this.y(latOf(y));
        this.layers.tiles.append(svg("image", {
          href, x: left, y: top, width: this.x(lonOf(x + 1)) - left, height: this.y(latOf(y + 1)) - top,
          preserveAspectRatio: "none", class: "tile",
        }));
      }
    }
  }

  /** Add or redraw an incident's marker (and its area polygon, if it has one). */
  upsert(inc, { fresh = false, flashMs = 30000 } = {}) {
    this.incidents.set(inc.id, inc);
    if (this.include(inc.lon, inc.lat)) this.select(this.selected, this.selectedSensors);
    const g = this.draw(inc, fresh);
    if (fresh) setTimeout(() => g.classList.remove("flash"), flashMs);
  }

  draw(inc, fresh) {
    this.remove(inc.id);
    const sev = `sev-${inc.severity}`;
    const closed = ["resolved", "closed", "merged", "false_alarm"].includes(inc.status);
    const cls = `incident ${sev}${fresh ? " flash" : ""}${closed ? " closed" : ""}${inc.kind === "fault" ? " fault" : ""}`;
    const parts = [];
    if (inc.area && inc.area.length > 2) {
      const area = svg("path", { class: `incident-area ${sev}`, d: this.path([inc.area]), "data-id": inc.id });
      this.layers.incidentAreas.append(area);
      parts.push(area);
    }
    const x = this.x(inc.lon);
    const y = this.y(inc.lat);
    const g = svg("g", { class: cls, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, "data-id": inc.id, tabindex: "-1" });
    g.append(svg("circle", { class: "halo", r: 26 }), svg("circle", { class: "dot", r: 18 }));
    g.append(svg("use", { href: iconOf(inc.category), x: -12, y: -12, width: 24, height: 24, class: "glyph" }));
    g.append(svg("title", {}, inc.explanation));
    g.addEventListener("click", () => this.onSelect(inc.id));
    this.layers.incidents.append(g);
    parts.push(g);
    this.markers.set(inc.id, parts);
    if (inc.id === this.selected) for (const el of parts) el.classList.add("selected");
    return g;
  }

  clear() {
    for (const id of [...this.markers.keys()]) this.remove(id);
    this.incidents.clear();
  }

  remove(id) {
    for (const el of this.markers.get(id) || []) el.remove();
    this.markers.delete(id);
  }

  /** Mark the selected incident and the sensors behind its evidence. */
  select(id, sensors = []) {
    this.selected = id;
    this.selectedSensors = sensors;
    for (const el of this.root.querySelectorAll(".selected")) el.classList.remove("selected");
    for (const el of this.markers.get(id) || []) el.classList.add("selected");
    for (const sensor of sensors) {
      for (const el of this.root.querySelectorAll(`[data-sensor="${CSS.escape(sensor)}"]`)) el.classList.add("selected");
    }
  }
}
