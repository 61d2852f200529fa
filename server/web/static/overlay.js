"use strict";
// Detection overlay over each live tile: the camera's zones and lines (from the layout, normalised
// coordinates) on one canvas, and the edge's detection events (boxes, labels, track ids, zone/line
// crossings) on another, each fading out FADE_MS after it arrives. Edge events are sparse (first
// seen / gone, zone enter / exit, line crossed, loitering), not one per frame: a box is drawn where
// the object was when the event happened and is not tracked between events. Events are drawn when
// they arrive, aged by `lag_ms` (receipt minus frame time); one later than FADE_MS is not drawn.
const Overlay = {
  FADE_MS: 1500,
  RECONNECT_MS: 2000,
  views: {},             // cameraId -> {camera, tile, socket, items, received, frame}; read by the browser tests

  attach(tile, camera) {
    this.detach(camera.id);
    const shapes = document.createElement("canvas");
    shapes.className = "overlay-shapes";
    const boxes = document.createElement("canvas");
    boxes.className = "overlay-detections";
    tile.querySelector(".caption").before(shapes, boxes);
    const view = { camera, tile, shapes, boxes, socket: null, items: [], received: 0, frame: 0, open: true };
    this.views[camera.id] = view;
    view.resize = new ResizeObserver(() => { this.drawShapes(view); this.drawBoxes(view); });
    view.resize.observe(tile);
    tile.addEventListener("loadedmetadata", () => this.drawShapes(view), true);
    this.connect(view);
    this.drawShapes(view);
  },

  detach(cameraId) {
    const view = this.views[cameraId];
    if (!view) return;
    delete this.views[cameraId];
    view.open = false;
    view.resize.disconnect();
    if (view.socket) view.socket.close();
    if (view.frame) cancelAnimationFrame(view.frame);
  },

  stopAll() { Object.keys(this.views).forEach((id) => this.detach(id)); },

  connect(view) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/live/${encodeURIComponent(view.camera.id)}/detections`);
    view.socket = socket;
    socket.onmessage = (event) => this.receive(view, JSON.parse(event.data));
    socket.onclose = (event) => {
      // 4404: the camera left streams.yaml; 1008: not allowed. Anything else: reconnect.
      if (view.open && this.views[view.camera.id] === view && ![1008, 4404].includes(event.code)) {
        setTimeout(() => { if (view.open) this.connect(view); }, this.RECONNECT_MS);
      }
    };
  },

  receive(view, message) {
    const now = performance.now();
    if (message.type === "snapshot") {
      // Replayed detections: fade them as if they had arrived lag-corrected, never older than FADE_MS.
      message.detections.forEach((d) => this.add(view, d, now - Math.min(this.FADE_MS, Math.max(0, Date.now() - Date.parse(d.ts)))));
    } else if (message.type === "detection") {
      // Aged by its lag (server receipt minus frame time): a box that arrives later than FADE_MS after
      // its frame is never drawn (nothing rather than a box where the object no longer is).
      const lag = Math.max(0, message.detection.lag_ms || 0);
      if (lag >= this.FADE_MS) { view.late = (view.late || 0) + 1; return; }
      this.add(view, message.detection, now - lag);
    }
    this.drawBoxes(view);
  },

  add(view, detection, at) {
    view.received += 1;
    view.items = view.items.filter((item) => item.detection.id !== detection.id);
    view.items.push({ detection, at });
    view.tile.dataset.overlayLagMs = String(detection.lag_ms);
  },

  // The rectangle the picture occupies inside the tile (object-fit: contain letterboxes it).
  contentRect(view, canvas) {
    const width = canvas.clientWidth, height = canvas.clientHeight;
    const media = view.tile.querySelector("video, img");
    const sourceW = media ? (media.videoWidth || media.naturalWidth || 0) : 0;
    const sourceH = media ? (media.videoHeight || media.naturalHeight || 0) : 0;
    if (!sourceW || !sourceH) return { x: 0, y: 0, w: width, h: height };
    const scale = Math.min(width / sourceW, height / sourceH);
    const w = sourceW * scale, h = sourceH * scale;
    return { x: (width - w) / 2, y: (height - h) / 2, w, h };
  },

  prepare(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * ratio)), h = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
    return context;
  },

  drawShapes(view) {
    const context = this.prepare(view.shapes);
    const r = this.contentRect(view, view.shapes);
    const at = ([x, y]) => [r.x + x * r.w, r.y + y * r.h];
    context.lineWidth = 2;
    context.font = "12px sans-serif";
    for (const zone of view.camera.zone_shapes || []) {
      context.beginPath();
      zone.points.forEach((point, i) => { const [x, y] = at(point); if (i) context.lineTo(x, y); else context.moveTo(x, y); });
      context.closePath();
      context.fillStyle = "rgba(56, 139, 253, 0.12)";
      context.strokeStyle = "rgba(56, 139, 253, 0.8)";
      context.fill();
      context.stroke();
      const [lx, ly] = at(zone.points[0]);
      context.fillStyle = "rgba(56, 139, 253, 1)";
      context.fillText(zone.name, lx + 4, ly + 14);
    }
    for (const line of view.camera.line_shapes || []) {
      const [x1, y1] = at(line.start), [x2, y2] = at(line.end);
      context.strokeStyle = "rgba(210, 153, 34, 0.9)";
      context.setLineDash([8, 4]);
      context.beginPath(); context.moveTo(x1, y1); context.lineTo(x2, y2); context.stroke();
      context.setLineDash([]);
      context.fillStyle = "rgba(210, 153, 34, 1)";
      context.fillText(line.name, x1 + 4, y1 - 4);
    }
  },

  color(kind) {
    if (kind === "line_crossed") return "210, 153, 34";
    if (kind === "zone_enter" || kind === "zone_exit" || kind === "loitering" || kind === "occupancy") return "248, 81, 73";
    if (kind === "object_gone") return "139, 148, 158";
    return "46, 160, 67";
  },

  label(d) {
    const parts = [d.label ? I18N.object(d.label) : I18N.kind(d.kind)];
    if (d.track_id !== null && d.track_id !== undefined) parts.push(`#${d.track_id}`);
    if (d.confidence !== null && d.confidence !== undefined) parts.push(`${Math.round(d.confidence * 100)}%`);
    if (d.zone) parts.push(`${d.kind === "zone_exit" ? "←" : "→"} ${d.zone}`);
    if (d.line) parts.push(`⇢ ${d.line}${d.direction ? ` (${I18N.t(`dir_${d.direction}`)})` : ""}`);
    return parts.join(" ");
  },

  drawBoxes(view) {
    const now = performance.now();
    view.items = view.items.filter((item) => now - item.at < this.FADE_MS);
    const context = this.prepare(view.boxes);
    const r = this.contentRect(view, view.boxes);
    context.font = "bold 12px sans-serif";
    context.lineWidth = 2;
    for (const { detection: d, at } of view.items) {
      const alpha = Math.max(0, 1 - (now - at) / this.FADE_MS);
      const rgb = this.color(d.kind);
      context.strokeStyle = `rgba(${rgb}, ${alpha})`;
      context.fillStyle = `rgba(${rgb}, ${alpha})`;
      let x = r.x + 4, y = r.y + 16;
      if (d.box) {
        const [x1, y1, x2, y2] = d.box;
        x = r.x + x1 * r.w; y = r.y + y1 * r.h;
        context.strokeRect(x, y, (x2 - x1) * r.w, (y2 - y1) * r.h);
      }
      const text = this.label(d);
      const width = context.measureText(text).width + 6;
      const top = Math.max(r.y, y - 16);
      context.fillRect(x - 1, top, width, 16);
      context.fillStyle = `rgba(255, 255, 255, ${alpha})`;
      context.fillText(text, x + 2, top + 12);
    }
    if (view.frame) cancelAnimationFrame(view.frame);
    view.frame = view.items.length ? requestAnimationFrame(() => { view.frame = 0; this.drawBoxes(view); }) : 0;
  },

  // For the browser tests: how many pixels of a layer ("boxes" or "shapes") are not transparent.
  paintedPixels(cameraId, layer = "boxes") {
    const view = this.views[cameraId];
    if (!view) return 0;
    const canvas = view[layer];
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count += 1;
    return count;
  },
};
window.Overlay = Overlay;
