"use strict";
// Detection overlay over each live tile, three canvases:
// - shapes: the camera's zones and lines (from the layout, normalised coordinates);
// - live: the tracked objects of every detected frame (`{"type": "frame"}` on the overlay socket),
//   drawn in step with the picture. Each displayed video frame (requestVideoFrameCallback) gets a
//   capture time F on the server's clock: its receive time in the browser, moved to the server's
//   clock by an NTP-style offset (ping/pong on the socket, the sample with the least round trip),
//   less the server's relay delay. Per track the box is interpolated between the detected frames
//   just before and after F (when they are at most 2.5 detection intervals apart), or the nearest
//   detected frame within MATCH_MS is drawn; otherwise nothing is (no box where the object is not).
//   Detections arrive later than the picture (the edge decodes and detects first), so the video is
//   held back by the measured lag (RTCRtpReceiver.jitterBufferTarget, at most MAX_DELAY_MS) and the
//   tile's tooltip says so. A looping file camera is played by the edge and the server in phase with
//   the wall clock (contract/medialoop.py), so it is matched like RTSP; another file camera's frames
//   (played once, or of unknown duration) are not drawn: the edge reads it on its own, so its picture
//   at a time is not the viewer's (the server says so: `{"type": "source", "timed": false}`).
// - detections: the edge's zone and line events (enter, exit, crossing, loitering) with their
//   labels, each fading out FADE_MS after it arrives, aged by `lag_ms`; object seen/gone events are
//   not drawn (the live frames show the objects).
I18N.extend({
  vi: { overlay_delay: "Hình chậm {ms} ms để khung nhận dạng khớp với hình", overlay_unsynced: "Chưa đồng bộ khung nhận dạng với hình",
    overlay_untimed: "Camera tệp: máy biên đọc bản riêng nên không vẽ khung nhận dạng lên hình này" },
  en: { overlay_delay: "Video held back {ms} ms so that detection boxes match the picture", overlay_unsynced: "Detection boxes not yet in step with the picture",
    overlay_untimed: "File camera: the edge reads its own copy, so its boxes are not drawn over this picture" },
});

const Overlay = {
  FADE_MS: 1500,
  RECONNECT_MS: 2000,
  MATCH_MS: 60,          // the nearest detected frame is drawn when it is this close to the picture
  MAX_GAP_INTERVALS: 2.5,
  MAX_DELAY_MS: 1500,
  KEEP_MS: 5000,         // detected frames kept (older ones cannot match a picture any more)
  PING_MS: 10000,
  EVENT_KINDS: new Set(["zone_enter", "zone_exit", "loitering", "zone_occupancy", "line_crossed"]),
  views: {},             // cameraId -> view (canvases, socket, events, frames, clock); read by the browser tests

  attach(tile, camera) {
    this.detach(camera.id);
    const shapes = document.createElement("canvas");
    shapes.className = "overlay-shapes";
    const boxes = document.createElement("canvas");
    boxes.className = "overlay-detections";
    const live = document.createElement("canvas");
    live.className = "overlay-live";
    tile.querySelector(".caption").before(shapes, live, boxes);
    const view = { camera, tile, shapes, boxes, live, socket: null, items: [], received: 0, frame: 0, open: true,
      frames: [], lags: [], clock: null, pings: {}, pingId: 0, relayMs: 0, delayMs: 0, drawn: null, video: null };
    this.views[camera.id] = view;
    view.resize = new ResizeObserver(() => { this.drawShapes(view); this.drawBoxes(view); });
    view.resize.observe(tile);
    tile.addEventListener("loadedmetadata", () => this.drawShapes(view), true);
    view.watch = setInterval(() => this.follow(view), 500);
    this.connect(view);
    this.drawShapes(view);
  },

  detach(cameraId) {
    const view = this.views[cameraId];
    if (!view) return;
    delete this.views[cameraId];
    view.open = false;
    view.resize.disconnect();
    clearInterval(view.watch);
    clearInterval(view.pinger);
    if (view.socket) view.socket.close();
    if (view.frame) cancelAnimationFrame(view.frame);
  },

  stopAll() { Object.keys(this.views).forEach((id) => this.detach(id)); },

  connect(view) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/live/${encodeURIComponent(view.camera.id)}/detections`);
    view.socket = socket;
    socket.onmessage = (event) => this.receive(view, JSON.parse(event.data));
    socket.onopen = () => {
      // A burst of pings finds a short round trip at once; then one now and then follows the drift.
      for (let i = 0; i < 5; i += 1) setTimeout(() => this.ping(view, socket), i * 150);
      clearInterval(view.pinger);
      view.pinger = setInterval(() => this.ping(view, socket), this.PING_MS);
    };
    socket.onclose = (event) => {
      // 4404: the camera left streams.yaml; 1008: not allowed. Anything else: reconnect.
      if (view.open && this.views[view.camera.id] === view && ![1008, 4404].includes(event.code)) {
        setTimeout(() => { if (view.open) this.connect(view); }, this.RECONNECT_MS);
      }
    };
  },

  // Browser wall clock (epoch ms, sub-millisecond) of a performance.now()-style time.
  epoch(perf) { return performance.timeOrigin + perf; },

  ping(view, socket) {
    if (socket.readyState !== WebSocket.OPEN) return;
    view.pingId += 1;
    view.pings[view.pingId] = this.epoch(performance.now());
    socket.send(JSON.stringify({ type: "ping", id: view.pingId }));
  },

  // NTP-style: offset = server time - the middle of the round trip; the least round trip of the
  // last eight wins (its middle is the best guess of when the server read its clock).
  pong(view, message) {
    const sent = view.pings[message.id];
    delete view.pings[message.id];
    if (sent === undefined) return;
    const back = this.epoch(performance.now()), rtt = back - sent;
    const samples = [...(view.clockSamples || []), { rtt, offset: message.server_t - (sent + back) / 2 }].slice(-8);
    view.clockSamples = samples;
    view.clock = samples.reduce((best, s) => (s.rtt < best.rtt ? s : best));
  },

  // The server's clock (epoch ms) at a browser performance time; null until the clock is known.
  serverTime(view, perf) { return view.clock ? this.epoch(perf) + view.clock.offset : null; },

  addFrame(view, frame) {
    const at = this.serverTime(view, performance.now());
    if (at !== null) view.lags = [...view.lags, at - frame.t].slice(-60);
    const frames = view.frames;
    let i = frames.length;
    while (i > 0 && frames[i - 1].t > frame.t) i -= 1;
    if (i > 0 && frames[i - 1].t === frame.t) return;
    frames.splice(i, 0, frame);
    const oldest = frames[frames.length - 1].t - this.KEEP_MS;
    while (frames.length && (frames[0].t < oldest || frames.length > 120)) frames.shift();
    view.framesReceived = (view.framesReceived || 0) + 1;
  },

  receive(view, message) {
    const now = performance.now();
    if (message.type === "pong") { this.pong(view, message); return; }
    if (message.type === "frame") { this.addFrame(view, message); return; }
    if (message.type === "source") { view.timed = message.timed; view.relayMs = message.relay_ms || 0; return; }
    if (message.type === "snapshot") {
      (message.frames || []).forEach((f) => this.addFrame(view, f));
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
    if (!this.EVENT_KINDS.has(detection.kind)) return;  // objects come from the live frames
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

  // --- live frames, in step with the picture -------------------------------------------------

  // Every half second: follow the tile's video element (it is replaced on reconnects) and set the
  // video's delay from the detections' lag.
  follow(view) {
    const video = view.tile.querySelector("video");
    if (video && video !== view.video && video.requestVideoFrameCallback) {
      view.video = video;
      const onFrame = (now, meta) => {
        if (view.video !== video || !view.open) return;
        this.drawLive(view, meta);
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
    this.hold(view);
  },

  // The median interval between detected frames (ms), 200 until there are some.
  interval(view) {
    const f = view.frames.slice(-21), gaps = [];
    for (let i = 1; i < f.length; i += 1) gaps.push(f[i].t - f[i - 1].t);
    return gaps.length ? this.percentile(gaps, 0.5) : 200;
  },

  percentile(values, p) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  },

  // Hold the video back so that the detected frame after the picture has arrived when it is shown:
  // the 90th percentile of the detections' lag plus one detection interval, capped.
  hold(view) {
    const session = window.Live && Live.sessions[view.camera.id];
    if (!session || view.lags.length < 5) return;
    const wanted = Math.min(this.MAX_DELAY_MS, Math.max(0, this.percentile(view.lags, 0.9) + this.interval(view)));
    if (session.pc === view.heldPc && Math.abs(wanted - view.delayMs) < 40) return;
    view.heldPc = session.pc;  // a reconnected tile has a new receiver: set it again
    view.delayMs = Math.round(wanted);
    session.pc.getReceivers().filter((r) => r.track && r.track.kind === "video").forEach((r) => {
      if ("jitterBufferTarget" in r) r.jitterBufferTarget = view.delayMs;
    });
    view.tile.title = I18N.t("overlay_delay").replace("{ms}", String(view.delayMs));
  },

  // The capture time (server clock, epoch ms) of the displayed video frame, or null.
  pictureTime(view, meta) {
    const received = meta.receiveTime !== undefined ? meta.receiveTime : meta.captureTime;
    if (received === undefined) return null;
    const at = this.serverTime(view, received);
    return at === null ? null : at - view.relayMs;
  },

  lerp(a, b, w) { return a.map((v, i) => v + (b[i] - v) * w); },

  // The boxes to draw for the picture taken at `t` (see the header): interpolated, nearest or none.
  boxesAt(frames, t, interval) {
    let i = frames.length - 1;
    while (i >= 0 && frames[i].t > t) i -= 1;
    const before = i >= 0 ? frames[i] : null, after = frames[i + 1] || null;
    const maxGap = Math.min(this.MAX_DELAY_MS, Math.max(100, this.MAX_GAP_INTERVALS * interval));
    if (before && after && after.t - before.t <= maxGap) {
      const w = (t - before.t) / (after.t - before.t);
      const next = new Map(after.objects.filter((o) => o.track_id !== null).map((o) => [o.track_id, o]));
      const boxes = [];
      for (const o of before.objects) {
        const b = o.track_id !== null ? next.get(o.track_id) : undefined;
        if (b) boxes.push({ ...o, box: this.lerp(o.box, b.box, w) });
        else if (t - before.t <= this.MATCH_MS) boxes.push(o);
      }
      const known = new Set(before.objects.map((o) => o.track_id));
      if (after.t - t <= this.MATCH_MS) after.objects.filter((o) => o.track_id === null || !known.has(o.track_id)).forEach((o) => boxes.push(o));
      return boxes;
    }
    const near = [before, after].filter((f) => f && Math.abs(f.t - t) <= this.MATCH_MS)
      .sort((a, b) => Math.abs(a.t - t) - Math.abs(b.t - t))[0];
    return near ? near.objects : [];
  },

  drawLive(view, meta) {
    // An untimed file camera's picture is not the edge's picture of the same moment: nothing is drawn.
    const t = view.timed === false ? null : this.pictureTime(view, meta);
    const boxes = t === null ? [] : this.boxesAt(view.frames, t, this.interval(view));
    if (view.timed === false) view.tile.title = I18N.t("overlay_untimed");
    else if (t === null && view.frames.length) view.tile.title = I18N.t("overlay_unsynced");
    const context = this.prepare(view.live);
    const r = this.contentRect(view, view.live);
    context.font = "bold 12px sans-serif";
    context.lineWidth = 2;
    for (const o of boxes) {
      const [x1, y1, x2, y2] = o.box;
      const x = r.x + x1 * r.w, y = r.y + y1 * r.h;
      context.strokeStyle = "rgba(46, 160, 67, 1)";
      context.fillStyle = "rgba(46, 160, 67, 1)";
      context.strokeRect(x, y, (x2 - x1) * r.w, (y2 - y1) * r.h);
      const text = this.label(o);
      const top = Math.max(r.y, y - 16);
      context.fillRect(x - 1, top, context.measureText(text).width + 6, 16);
      context.fillStyle = "#fff";
      context.fillText(text, x + 2, top + 12);
    }
    view.drawn = { presentedFrames: meta.presentedFrames, t, boxes: boxes.map((o) => ({ ...o, box: [...o.box] })) };
    if (typeof window.__iocOverlay === "function") window.__iocOverlay(view.camera.id, meta, view.drawn, view);
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
