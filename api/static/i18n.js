// Labels of the wall in Indonesian (default) and English, and the formatting of times and ages.

const LABELS = {
  id: {
    title: "Kendali — Dinding Pantau",
    feed: "Insiden",
    map: "Peta kota",
    switchLanguage: "Ganti bahasa",
    mute: "Bunyi peringatan aktif/bisu",
    disconnected: "Terputus dari server sejak",
    reconnecting: "menyambung ulang…",
    openByAgency: "Terbuka per instansi",
    lastHour: "1 jam terakhir",
    tta: "Median waktu tanggap",
    freshness: "Kesegaran data",
    stale: "BASI",
    noData: "tidak ada data",
    ago: "lalu",
    none: "Tidak ada insiden",
    newSevere: "INSIDEN PARAH BARU",
    evidence: "Bukti",
    history: "Riwayat",
    sensors: "Sensor",
    close: "Tutup",
    firstSeen: "Pertama terlihat",
    lastSeen: "Terakhir terlihat",
    agencies: "Instansi",
    zone: "Wilayah",
    score: "Skor",
    signals: "Sinyal",
    filter: "Filter",
    outside: "luar wilayah",
    legend: { detector: "Detektor ATCS", gauge: "Pos duga air", rain: "Pos hujan", flood: "Rawan banjir" },
    status: {
      new: "baru", acknowledged: "diterima", dispatched: "dikirim", resolved: "selesai",
      closed: "ditutup", merged: "digabung", false_alarm: "alarm palsu",
    },
    severity: {
      Extreme: "Ekstrem", Severe: "Parah", Moderate: "Sedang", Minor: "Ringan", Unknown: "?",
    },
    source: { atcs: "ATCS lalu lintas", hydromet: "Hidromet", reports: "Laporan warga" },
    units: { s: "dtk", m: "mnt", h: "jam", d: "hr" },
  },
  en: {
    title: "Kendali — Monitor wall",
    feed: "Incidents",
    map: "City map",
    switchLanguage: "Switch language",
    mute: "Alert sound on/off",
    disconnected: "Disconnected from the server since",
    reconnecting: "reconnecting…",
    openByAgency: "Open per agency",
    lastHour: "Last hour",
    tta: "Median time to acknowledge",
    freshness: "Data freshness",
    stale: "STALE",
    noData: "no data",
    ago: "ago",
    none: "No incidents",
    newSevere: "NEW SEVERE INCIDENT",
    evidence: "Evidence",
    history: "History",
    sensors: "Sensors",
    close: "Close",
    firstSeen: "First seen",
    lastSeen: "Last seen",
    agencies: "Agencies",
    zone: "Zone",
    score: "Score",
    signals: "Signals",
    filter: "Filter",
    outside: "outside zones",
    legend: { detector: "ATCS detector", gauge: "River gauge", rain: "Rain gauge", flood: "Flood-prone area" },
    status: {
      new: "new", acknowledged: "acknowledged", dispatched: "dispatched", resolved: "resolved",
      closed: "closed", merged: "merged", false_alarm: "false alarm",
    },
    severity: { Extreme: "Extreme", Severe: "Severe", Moderate: "Moderate", Minor: "Minor", Unknown: "?" },
    source: { atcs: "ATCS traffic", hydromet: "Hydromet", reports: "Citizen reports" },
    units: { s: "s", m: "min", h: "h", d: "d" },
  },
};

const TZ_NAMES = { "Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT" };

export class I18n {
  constructor(lang, tz) {
    this.lang = LABELS[lang] ? lang : "id";
    this.tz = tz || "UTC";
  }

  get t() {
    return LABELS[this.lang];
  }

  toggle() {
    this.lang = this.lang === "id" ? "en" : "id";
    return this.lang;
  }

  /** Apply labels to every element marked data-i18n / data-i18n-title / data-i18n-aria. */
  apply(root = document) {
    document.documentElement.lang = this.lang;
    document.title = this.t.title;
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = this.t[el.dataset.i18n];
    for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = this.t[el.dataset.i18nTitle];
    for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", this.t[el.dataset.i18nAria]);
  }

  tzName() {
    return TZ_NAMES[this.tz] || this.tz;
  }

  /** HH:MM:SS of a Date (or epoch ms) in the city's time zone. */
  time(when) {
    return new Intl.DateTimeFormat("en-GB", {
      timeZone: this.tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).format(when);
  }

  dateTime(when) {
    return new Intl.DateTimeFormat(this.lang === "id" ? "id-ID" : "en-GB", {
      timeZone: this.tz, day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).format(when);
  }

  /** A short age: "45 dtk", "12 mnt", "3 jam". */
  age(seconds) {
    const u = this.t.units;
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} ${u.s}`;
    if (s < 3600) return `${Math.floor(s / 60)} ${u.m}`;
    if (s < 86400) return `${Math.floor(s / 3600)} ${u.h}`;
    return `${Math.floor(s / 86400)} ${u.d}`;
  }

  status(code) {
    return this.t.status[code] || code;
  }

  severity(code) {
    return this.t.severity[code] || code;
  }

  source(code) {
    return this.t.source[code] || code;
  }
}
