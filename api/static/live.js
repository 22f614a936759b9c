// Talking to the API: authenticated fetches, and the live incident feed that never misses an alert.
//
// Start: load the list from /api/incidents, then subscribe to /api/stream?since=<its stream_id>,
// so nothing written between the two is lost. Every event's id is kept; after any error the page
// closes the EventSource and reconnects itself with back-off and ?since=<last id> (a browser's own
// EventSource retry gives up for good on an HTTP error, e.g. while the API restarts). Versions are
// de-duplicated by (id, version) by the caller's store, so a replayed event is never shown twice.

const params = new URLSearchParams(location.search);
const token = params.get("access_token");

/** GET a JSON resource of the API with the page's bearer token; null on 404. */
export async function getJson(path) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const resp = await fetch(path, { headers, cache: "no-store" });
  if (resp.status === 404) return null;
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  return resp.json();
}

/** A query string from an object, skipping empty values. */
export function query(values) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

export class Live {
  /**
   * @param {object} filters  {agency, zone} passed to the list and the stream
   * @param {object} hooks    onLoad(items), onIncident(inc), onConnection(connected, sinceMs)
   */
  constructor(filters, hooks) {
    this.filters = filters;
    this.hooks = hooks;
    this.lastId = null;
    this.source = null;
    this.attempt = 0;
    this.downSince = null;
    this.timer = null;
  }

  async start() {
    window.addEventListener("online", () => this.reconnectNow());
    // A stream over a dead network can stay silently open: drop it and retry until back online.
    window.addEventListener("offline", () => {
      if (this.source) this.failed(new Error("offline"), () => this.connect());
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.downSince) this.reconnectNow();
    });
    await this.reload();
  }

  /** Full reload (start, or the server said our position was trimmed), then subscribe. */
  async reload() {
    this.close();
    try {
      const page = await getJson(`/api/incidents${query({ ...this.filters, limit: 500 })}`);
      this.lastId = page.stream_id;
      this.hooks.onLoad(page.items);
      this.connect();
    } catch (err) {
      this.failed(err, () => this.reload());
    }
  }

  connect() {
    const url = `/api/stream${query({ ...this.filters, since: this.lastId, access_token: token })}`;
    const source = new EventSource(url);
    this.source = source;
    source.onopen = () => {
      this.attempt = 0;
      this.downSince = null;
      this.hooks.onConnection(true, null);
    };
    source.addEventListener("incident", (event) => {
      this.lastId = event.lastEventId || this.lastId;
      this.hooks.onIncident(JSON.parse(event.data));
    });
    source.addEventListener("reset", () => this.reload());
    source.onerror = () => {
      if (this.source !== source) return;
      this.failed(new Error("stream interrupted"), () => this.connect());
    };
  }

  failed(err, retry) {
    this.close();
    if (!this.downSince) this.downSince = Date.now();
    this.hooks.onConnection(false, this.downSince, err);
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.retry = retry;
    this.timer = setTimeout(retry, base + Math.random() * base * 0.5);
  }

  reconnectNow() {
    if (!this.timer || !this.retry) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.retry();
  }

  close() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.source) {
      this.source.onerror = null;
      this.source.close();
    }
    this.source = null;
  }
}
