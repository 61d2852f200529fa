"use strict";
// The event browser: detection events grouped into activities (one row per track, or per zone visit
// of an untracked object, like Frigate's review items) with the best snapshot; "seen" / "gone" only
// widen an activity's time span. "Every event" shows the raw rows. Counts per zone / line per hour.
const NOISE = new Set(["object_seen", "object_gone"]);

const Events = {
  raw: false,
  items: [],
  names: {},

  // Activities, newest first: {key, camera_id, label, start, end, kinds: [...], best, events: [...]}.
  activities(items) {
    const groups = new Map();
    for (const event of [...items].sort((a, b) => (a.time < b.time ? -1 : 1))) {
      const key = event.track_id !== null && event.track_id !== undefined
        ? `${event.camera_id}#${event.track_id}` : `${event.camera_id}@${event.zone || event.line || ""}@${event.id}`;
      const group = groups.get(key) || { key, camera_id: event.camera_id, label: event.label, start: event.time, end: event.time, kinds: [], places: [], events: [], best: null };
      group.events.push(event);
      if (event.time < group.start) group.start = event.time;
      if (event.time > group.end) group.end = event.time;
      if (!NOISE.has(event.kind)) {
        const what = [I18N.kind(event.kind), event.direction && I18N.t(`dir_${event.direction}`)].filter(Boolean).join(" ");
        if (!group.kinds.includes(what)) group.kinds.push(what);
        const place = event.zone || event.line;
        if (place && !group.places.includes(place)) group.places.push(place);
      }
      if (event.snapshot_url && (!group.best || (event.confidence || 0) > (group.best.confidence || 0))) group.best = event;
      groups.set(key, group);
    }
    return [...groups.values()].sort((a, b) => (a.end < b.end ? 1 : -1));
  },

  async search(cameraNames) {
    const camera = document.getElementById("event-camera").value;
    const label = document.getElementById("event-label").value.trim();
    const hours = Number(document.getElementById("event-range").value);
    const start = new Date(Date.now() - hours * 3600e3).toISOString();
    const params = new URLSearchParams({ start, limit: "100" });
    if (camera) params.set("camera", camera);
    if (label) params.set("label", label);
    const [page, counts] = await Promise.all([
      API.get(`/api/events?${params}`),
      API.get(`/api/events/counts?${new URLSearchParams({ start, bucket: "1h", ...(camera ? { camera } : {}) })}`),
    ]);
    this.items = page.items;
    this.names = cameraNames;
    this.render();
    this.renderCounts(counts, cameraNames);
  },

  render() {
    if (this.raw) this.renderRows(this.items, this.names);
    else this.renderActivities(this.activities(this.items), this.names);
  },

  renderActivities(groups, cameraNames) {
    const body = document.querySelector("#events tbody");
    body.innerHTML = "";
    for (const group of groups) {
      const row = document.createElement("tr");
      row.className = "activity";
      row.dataset.events = String(group.events.length);
      const span = group.start === group.end ? I18N.time(group.start) : `${I18N.time(group.start)} – ${I18N.time(group.end, false)}`;
      const kinds = group.kinds.length ? group.kinds.join(", ") : I18N.t("activity_seen");
      const when = `${span} (${group.events.length} ${I18N.t("events_count")})`;
      const cells = [when, cameraNames[group.camera_id] || group.camera_id, kinds, I18N.object(group.label), group.places.join(", ")];
      cells.forEach((text) => { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); });
      const snap = document.createElement("td");
      if (group.best) {
        const img = document.createElement("img");
        img.loading = "lazy";
        img.src = group.best.snapshot_url;
        img.alt = `${I18N.object(group.label)} ${kinds}`.trim();
        snap.appendChild(img);
      }
      row.appendChild(snap);
      body.appendChild(row);
    }
    if (!groups.length) {
      const row = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 6; td.textContent = I18N.t("no_events");
      row.appendChild(td); body.appendChild(row);
    }
  },

  renderRows(items, cameraNames) {
    const body = document.querySelector("#events tbody");
    body.innerHTML = "";
    for (const event of items) {
      const row = document.createElement("tr");
      const cells = [I18N.time(event.time), cameraNames[event.camera_id] || event.camera_id, I18N.kind(event.kind),
        I18N.object(event.label), [event.zone, event.line, event.direction && I18N.t(`dir_${event.direction}`)].filter(Boolean).join(" ")];
      cells.forEach((text) => { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); });
      const snap = document.createElement("td");
      if (event.snapshot_url) {
        const img = document.createElement("img");
        img.loading = "lazy";
        img.src = event.snapshot_url;
        img.alt = `${I18N.object(event.label)} ${I18N.kind(event.kind)}`.trim();
        snap.appendChild(img);
      }
      row.appendChild(snap);
      body.appendChild(row);
    }
  },

  renderCounts(counts, cameraNames) {
    const totals = {};
    counts.forEach((c) => { const key = `${cameraNames[c.camera_id] || c.camera_id} · ${c.key}`; totals[key] = (totals[key] || 0) + c.count; });
    const box = document.getElementById("event-counts");
    box.innerHTML = "";
    Object.entries(totals).forEach(([key, total]) => {
      const span = document.createElement("span");
      span.className = "count";
      span.textContent = `${key}: ${total}`;
      box.appendChild(span);
    });
  },
};
