"use strict";
// The event browser: detection events with snapshots, and counts per zone / line per hour.
const Events = {
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
    this.renderRows(page.items, cameraNames);
    this.renderCounts(counts, cameraNames);
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
