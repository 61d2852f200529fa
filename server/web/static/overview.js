"use strict";
// The overview, the first screen of a shift: open alerts and incidents by severity and site, cameras
// and sensors offline, the latest salinity per site against the configured bands (1 / 2 / 4 ‰), water
// levels against their alarm levels, PM2.5 as VN_AQI, and crossings per counting line since midnight
// (site time), people and vehicles apart. Every figure carries `data-figure` (the browser test compares them with the API's) and each
// tile links to its detail.
I18N.extend({ vi: {
  ov_incidents: "Sự cố đang mở", ov_people: "Người", ov_vehicles: "Xe",
}, en: {
  ov_incidents: "Open incidents", ov_people: "People", ov_vehicles: "Vehicles",
} });

// What a line counts as people and as vehicles (the detector's COCO labels; others are in neither).
const PEOPLE = ["person"], VEHICLES = ["bicycle", "car", "motorcycle", "bus", "truck"];

const Overview = {
  counts: [],
  incidents: [],

  async show() {
    await Promise.all([
      this.loadCounts().catch(() => { this.counts = []; }),
      this.loadIncidents().catch(() => { this.incidents = []; }),
    ]);
    this.render();
  },

  async loadIncidents() {
    this.incidents = await API.get("/api/incidents?active=true&limit=1000");
  },

  // Midnight today in the site's time zone, as an instant.
  midnight() {
    const now = new Date();
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: I18N.timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" })
      .formatToParts(now).map((p) => [p.type, p.value]));
    const elapsed = (Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second)) * 1000;
    return new Date(Math.floor((now.getTime() - elapsed) / 1000) * 1000);
  },

  async loadCounts() {
    const params = new URLSearchParams({ group: "line_label", start: this.midnight().toISOString(), bucket: "1d" });
    this.counts = await API.get(`/api/events/counts?${params}`);
  },

  render() {
    const panel = document.getElementById("overview");
    if (!panel || !App.layout) return;
    panel.innerHTML = "";
    panel.append(this.alertsTile(), this.incidentsTile(), this.offlineTile(), this.salinityTile(), this.waterTile(), this.airTile(), this.linesTile());
  },

  tile(titleKey, onOpen) {
    const tile = document.createElement("section");
    tile.className = "ov-tile";
    const head = document.createElement("h2");
    const link = document.createElement("button");
    link.className = "ov-link";
    link.textContent = I18N.t(titleKey);
    link.addEventListener("click", onOpen);
    head.appendChild(link);
    tile.appendChild(head);
    return tile;
  },

  figure(parent, key, label, value, colour) {
    const row = document.createElement("div");
    row.className = "ov-row";
    const name = document.createElement("span");
    name.textContent = label;
    const figure = document.createElement("strong");
    figure.dataset.figure = key;
    figure.textContent = value;
    if (colour) { figure.style.background = colour; figure.classList.add("ov-band"); }
    row.append(name, figure);
    parent.appendChild(row);
    return row;
  },

  openAlerts() { return [...Alerts.items.values()].filter((a) => a.state !== "resolved"); },

  alertsTile() {
    const tile = this.tile("ov_alerts", () => document.getElementById("alert-feed").focus());
    const open = this.openAlerts();
    ["critical", "warning", "info"].forEach((sev) => this.figure(tile, `alerts-${sev}`, I18N.t(`sev_${sev}`), open.filter((a) => a.severity === sev).length));
    App.layout.sites.forEach((site) => {
      const here = open.filter((a) => a.site === site.id);
      if (here.length) this.figure(tile, `alerts-site-${site.id}`, site.name, here.length);
    });
    return tile;
  },

  incidentsTile() {
    const tile = this.tile("ov_incidents", () => Tabs.show("incidents"));
    ["critical", "warning", "info"].forEach((sev) => this.figure(tile, `incidents-${sev}`, I18N.t(`sev_${sev}`), this.incidents.filter((i) => i.severity === sev).length));
    App.layout.sites.forEach((site) => {
      const here = this.incidents.filter((i) => i.site === site.id);
      if (here.length) this.figure(tile, `incidents-site-${site.id}`, site.name, here.length);
    });
    return tile;
  },

  offlineTile() {
    const tile = this.tile("ov_offline", () => Tabs.show("wall"));
    const cameras = Object.values(App.cameras).filter((c) => c.state !== "online");
    const sensors = Object.values(App.sensors).filter((s) => s.status !== "online");
    this.figure(tile, "cameras-offline", I18N.t("ov_cameras_offline"), `${cameras.length} / ${Object.keys(App.cameras).length}`);
    this.figure(tile, "sensors-offline", I18N.t("ov_sensors_offline"), `${sensors.length} / ${Object.keys(App.sensors).length}`);
    return tile;
  },

  sensorsOf(kind) { return App.layout.sensors.filter((s) => s.kind === kind); },

  last(sensor) { const s = App.sensors[sensor.id]; return s && s.last ? s.last.value : null; },

  // The highest latest salinity of each site, coloured by its band.
  salinityTile() {
    const tile = this.tile("ov_salinity", () => Tabs.show("sensors"));
    App.layout.sites.forEach((site) => {
      const values = this.sensorsOf("salinity").filter((s) => s.site === site.id).map((s) => this.last(s)).filter((v) => v !== null);
      if (!values.length) return;
      const value = Math.max(...values), band = Chart.bandOf("salinity", value);
      const row = this.figure(tile, `salinity-${site.id}`, site.name, `${I18N.number(value)} ‰`, band && band.color);
      if (band) row.title = Chart.bandLabel(band);
    });
    if (tile.children.length === 1) this.figure(tile, "salinity-none", I18N.t("no_data"), "–");
    return tile;
  },

  waterTile() {
    const tile = this.tile("ov_water", () => Tabs.show("sensors"));
    this.sensorsOf("water_level").forEach((sensor) => {
      const value = this.last(sensor);
      const passed = sensor.thresholds.filter((t) => t.direction === "above" && value !== null && value >= t.value);
      const worst = passed[passed.length - 1];
      const text = value === null ? "–" : `${I18N.number(value)} ${sensor.unit}`;
      const row = this.figure(tile, `water-${sensor.id}`, sensor.name, text, worst ? LEVEL_COLOURS[worst.severity] : null);
      const levels = document.createElement("small");
      levels.className = "ov-levels";
      levels.textContent = sensor.thresholds.map((t) => `${t.name}: ${I18N.number(t.value)}`).join(" · ");
      row.appendChild(levels);
      row.addEventListener("click", () => App.openSensor(sensor.id));
    });
    if (tile.children.length === 1) this.figure(tile, "water-none", I18N.t("no_data"), "–");
    return tile;
  },

  airTile() {
    const tile = this.tile("ov_air", () => Tabs.show("sensors"));
    this.sensorsOf("pm25").forEach((sensor) => {
      const value = this.last(sensor);
      const band = Chart.bandOf("pm25", value);
      const text = value === null ? "–" : `VN_AQI ${Chart.vnAqi(value)} · ${I18N.t(band.key)}`;
      const row = this.figure(tile, `aqi-${sensor.id}`, sensor.name, text, band && band.color);
      row.addEventListener("click", () => App.openSensor(sensor.id));
    });
    if (tile.children.length === 1) this.figure(tile, "aqi-none", I18N.t("no_data"), "–");
    return tile;
  },

  // Per line and direction: people and vehicles since midnight (keys `line/direction/label`).
  lineTotals() {
    const totals = {};
    this.counts.forEach((c) => {
      const [lineId, direction, label] = c.key.split("/");
      const kind = PEOPLE.includes(label) ? "people" : VEHICLES.includes(label) ? "vehicles" : null;
      if (!kind) return;
      const key = `${c.camera_id}|${lineId}|${direction || ""}`;
      totals[key] = totals[key] || { people: 0, vehicles: 0 };
      totals[key][kind] += c.count;
    });
    return totals;
  },

  linesTile() {
    const tile = this.tile("ov_lines", () => Tabs.show("events"));
    const cameras = Object.fromEntries(App.layout.cameras.map((c) => [c.id, c]));
    Object.entries(this.lineTotals()).sort().forEach(([key, total]) => {
      const [cameraId, lineId, direction] = key.split("|");
      const camera = cameras[cameraId];
      const shape = camera ? camera.line_shapes.find((l) => l.id === lineId) : null;
      const label = `${camera ? camera.name : cameraId} · ${shape ? shape.name : lineId}${direction ? ` (${I18N.t(`dir_${direction}`)})` : ""}`;
      const id = `line-${cameraId}-${lineId}${direction ? `-${direction}` : ""}`;
      const row = this.figure(tile, `${id}-people`, label, total.people);
      const split = document.createElement("span");
      split.className = "ov-split";
      const vehicles = document.createElement("strong");
      vehicles.dataset.figure = `${id}-vehicles`;
      vehicles.textContent = total.vehicles;
      split.append(`${I18N.t("ov_people")} `, row.querySelector("strong"), ` · ${I18N.t("ov_vehicles")} `, vehicles);
      row.appendChild(split);
    });
    if (tile.children.length === 1) this.figure(tile, "lines-none", I18N.t("ov_no_crossings"), 0);
    return tile;
  },
};
window.Overview = Overview;
