"use strict";
// The map, drawn by Leaflet (npm, served under /static/vendor): the base map from the configured
// tile URL (console.map.tile_url), or an offline lat/lon grid; site outlines from GeoJSON
// (console.map.outlines) or circles; cameras (squares) and sensors (round, filled by their level)
// clustered when dense; labels placed so that none overlaps another (lower-priority ones hide).
// Click a camera to watch it live, a sensor to open its chart; MapView.flyTo(id) goes to an alert.
const MapView = {
  map: null, markers: {}, labels: [], layout: null, cluster: null,
  SITE_RADIUS_M: 2500,

  draw(container, layout, status) {
    if (!window.L) return this.drawSvg(container, layout, status);
    if (!this.map || this.layout !== layout) this.build(container, layout);
    this.update(status);
    this.map.invalidateSize();
    this.placeLabels();
    return Object.keys(this.markers).length;
  },

  drawSvg(container, layout, status) {
    let svg = container.querySelector("svg");
    if (!svg) {
      svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 1000 640");
      container.appendChild(svg);
    }
    return SvgMap.draw(svg, layout, status);
  },

  build(container, layout) {
    if (this.map) this.map.remove();
    this.layout = layout;
    this.markers = {};
    this.labels = [];
    const settings = layout.map;
    const map = L.map(container, { zoomControl: true, attributionControl: true, maxZoom: settings.max_zoom, minZoom: 5 });
    this.map = map;
    if (settings.tile_url) {
      L.tileLayer(settings.tile_url, { maxZoom: settings.max_zoom, attribution: settings.attribution }).addTo(map);
      container.dataset.base = "tiles";
    } else {
      container.dataset.base = "grid";
      map.attributionControl.addAttribution(I18N.t("map_offline_grid"));
    }
    map.createPane("labels").style.zIndex = 650;
    this.cluster = L.markerClusterGroup
      ? L.markerClusterGroup({ maxClusterRadius: 36, disableClusteringAtZoom: 14, showCoverageOnHover: false })
      : L.layerGroup();
    this.cluster.addTo(map);
    layout.sites.filter((s) => s.location).forEach((site) => this.site(site, settings.outlines.includes(site.id)));
    layout.cameras.filter((c) => c.location).forEach((c) => this.marker(c, "camera"));
    layout.sensors.filter((s) => s.location).forEach((s) => this.marker(s, "sensor"));
    const points = [...layout.sites, ...layout.cameras, ...layout.sensors].map((x) => x.location).filter(Boolean);
    if (points.length) map.fitBounds(L.latLngBounds(points.map((p) => [p.lat, p.lon])).pad(0.15), { maxZoom: 14 });
    else map.setView([9.6, 105.97], 10);
    if (!settings.tile_url) this.grid();
    const circles = layout.sites.some((site) => site.location && !settings.outlines.includes(site.id));
    const note = document.getElementById("map-note");
    note.dataset.i18n = circles ? "map_circles" : "";
    note.textContent = circles ? I18N.t("map_circles") : "";
    map.on("zoomend moveend", () => this.placeLabels());
    this.cluster.on && this.cluster.on("animationend", () => this.placeLabels());
  },

  site(site, hasOutline) {
    const style = { color: "#8b949e", weight: 1.5, fillOpacity: 0.06, dashArray: hasOutline ? null : "4 4", className: "site-shape" };
    const label = () => this.label(L.latLng(site.location.lat, site.location.lon), site.name, "site-label", 3);
    if (hasOutline) {
      API.get(`/api/console/outlines/${encodeURIComponent(site.id)}`)
        .then((geojson) => { L.geoJSON(geojson, { style }).addTo(this.map); })
        .catch(() => L.circle([site.location.lat, site.location.lon], { radius: this.SITE_RADIUS_M, ...style }).addTo(this.map));
    } else {
      L.circle([site.location.lat, site.location.lon], { radius: this.SITE_RADIUS_M, ...style }).addTo(this.map);
    }
    label();
  },

  marker(item, kind) {
    const icon = L.divIcon({ className: `marker ${kind} unknown`, iconSize: kind === "camera" ? [16, 16] : [18, 18] });
    const marker = L.marker([item.location.lat, item.location.lon], { icon, keyboard: true, title: item.name, alt: item.name });
    marker.on("click", () => (kind === "camera" ? App.watch(item.id) : App.openSensor(item.id)));
    marker.addTo(this.cluster);
    this.markers[item.id] = { marker, kind, item, label: this.label(marker.getLatLng(), item.name, "marker-label", kind === "sensor" ? 1 : 2) };
  },

  // A label is a tooltip-like div in its own pane; placeLabels() hides those that would overlap.
  label(latlng, text, className, priority) {
    const element = L.DomUtil.create("div", `map-label ${className}`);
    element.textContent = text;
    const label = { latlng, element, priority, text };
    this.map.getPanes().labels.appendChild(element);
    this.labels.push(label);
    return label;
  },

  update(status) {
    Object.entries(this.markers).forEach(([id, entry]) => {
      const element = entry.marker.getElement && entry.marker.getElement();
      const state = entry.kind === "camera" ? status.cameras[id] || "unknown" : status.sensors[id] || "unknown";
      const level = entry.kind === "sensor" ? status.levels[id] : null;
      entry.state = state;
      if (!element) return;
      element.className = element.className.replace(/\b(online|offline|unknown)\b/g, "").trim() + ` ${state}`;
      element.dataset.id = id;
      element.style.background = level ? level : "";
      element.setAttribute("aria-label", `${entry.item.name}: ${I18N.t(state)}`);
    });
  },

  // Labels by priority (sites, then cameras, then sensors); one that would cover another is hidden,
  // as is the label of a marker hidden in a cluster.
  placeLabels() {
    if (!this.map) return;
    const placed = [];
    const inCluster = new Set(Object.values(this.markers).filter((m) => !(m.marker.getElement && m.marker.getElement() && this.map.hasLayer(m.marker))).map((m) => m.label));
    [...this.labels].sort((a, b) => b.priority - a.priority).forEach((label) => {
      const point = this.map.latLngToLayerPoint(label.latlng);
      L.DomUtil.setPosition(label.element, point.add([12, -8]));
      label.element.style.display = "";
      if (inCluster.has(label)) { label.element.style.display = "none"; return; }
      const box = label.element.getBoundingClientRect();
      const overlaps = placed.some((other) => !(box.right <= other.left || box.left >= other.right || box.bottom <= other.top || box.top >= other.bottom));
      if (overlaps) label.element.style.display = "none"; else placed.push(box);
    });
  },

  grid() {
    const bounds = this.map.getBounds().pad(1);
    const step = 0.05;
    const lines = [];
    for (let lon = Math.ceil(bounds.getWest() / step) * step; lon <= bounds.getEast(); lon += step) lines.push([[bounds.getSouth(), lon], [bounds.getNorth(), lon]]);
    for (let lat = Math.ceil(bounds.getSouth() / step) * step; lat <= bounds.getNorth(); lat += step) lines.push([[lat, bounds.getWest()], [lat, bounds.getEast()]]);
    L.polyline(lines, { color: "#1d3447", weight: 1, interactive: false }).addTo(this.map);
  },

  flyTo(id) {
    const entry = this.markers[id];
    const site = this.layout && this.layout.sites.find((s) => s.id === id && s.location);
    const target = entry ? entry.marker.getLatLng() : site ? L.latLng(site.location.lat, site.location.lon) : null;
    if (!target || !this.map) return false;
    this.map.flyTo(target, Math.max(this.map.getZoom(), 14), { duration: 0.6 });
    return true;
  },
};
window.MapView = MapView;
