"use strict";
// The map fallback when Leaflet is not installed: a lat/lon grid, sites, cameras (squares) and sensors (circles)
// coloured by live status.
const SvgMap = {
  draw(svg, layout, status) {
    const points = [...layout.sites, ...layout.cameras, ...layout.sensors].map((item) => item.location).filter(Boolean);
    svg.innerHTML = "";
    if (!points.length) return 0;
    const pad = 0.03;
    let minLat = Math.min(...points.map((p) => p.lat)) - pad, maxLat = Math.max(...points.map((p) => p.lat)) + pad;
    let minLon = Math.min(...points.map((p) => p.lon)) - pad, maxLon = Math.max(...points.map((p) => p.lon)) + pad;
    const W = 1000, H = 640;
    const scale = Math.min(W / (maxLon - minLon), H / (maxLat - minLat));
    const x = (lon) => (lon - minLon) * scale + (W - (maxLon - minLon) * scale) / 2;
    const y = (lat) => H - ((lat - minLat) * scale + (H - (maxLat - minLat) * scale) / 2);
    this.grid(svg, minLat, maxLat, minLon, maxLon, x, y, W, H);
    for (const site of layout.sites.filter((s) => s.location)) {
      this.add(svg, "text", { x: x(site.location.lon) - 8, y: y(site.location.lat) + 18, "text-anchor": "end", class: "site-label" }, site.name);
      this.add(svg, "circle", { cx: x(site.location.lon), cy: y(site.location.lat), r: 4, fill: "#8b949e" });
    }
    let markers = 0;
    for (const camera of layout.cameras.filter((c) => c.location)) {
      const cx = x(camera.location.lon), cy = y(camera.location.lat);
      const rect = this.add(svg, "rect", { x: cx - 7, y: cy - 7, width: 14, height: 14, class: `marker camera ${status.cameras[camera.id] || "unknown"}`, "data-id": camera.id });
      this.title(rect, camera.name);
      this.add(svg, "text", { x: cx + 10, y: cy + 4, class: "marker-label" }, camera.name);
      markers++;
    }
    for (const sensor of layout.sensors.filter((s) => s.location)) {
      const cx = x(sensor.location.lon), cy = y(sensor.location.lat);
      const circle = this.add(svg, "circle", { cx, cy, r: 8, class: `marker sensor ${status.sensors[sensor.id] || "unknown"}`, "data-id": sensor.id });
      this.title(circle, sensor.name);
      this.add(svg, "text", { x: cx + 10, y: cy + 14, class: "marker-label" }, sensor.name);
      markers++;
    }
    return markers;
  },

  grid(svg, minLat, maxLat, minLon, maxLon, x, y, W, H) {
    const step = 0.05;
    for (let lon = Math.ceil(minLon / step) * step; lon <= maxLon; lon += step) {
      this.add(svg, "line", { x1: x(lon), y1: 0, x2: x(lon), y2: H, class: "grid" });
      this.add(svg, "text", { x: x(lon) + 2, y: H - 4, class: "grid-label" }, `${lon.toFixed(2)}°E`);
    }
    for (let lat = Math.ceil(minLat / step) * step; lat <= maxLat; lat += step) {
      this.add(svg, "line", { x1: 0, y1: y(lat), x2: W, y2: y(lat), class: "grid" });
      this.add(svg, "text", { x: 2, y: y(lat) - 2, class: "grid-label" }, `${lat.toFixed(2)}°N`);
    }
  },

  add(svg, tag, attrs, text) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.entries(attrs).forEach(([key, value]) => el.setAttribute(key, value));
    if (text) el.textContent = text;
    svg.appendChild(el);
    return el;
  },

  title(el, text) {
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = text;
    el.appendChild(title);
  },
};
window.SvgMap = SvgMap;
