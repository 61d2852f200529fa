"use strict";
// Live camera tiles: WebRTC (H.264 from the server, receive only), with an MJPEG fallback that says
// why it is used. Each tile measures its own picture (decoded frames per second) and its badge says
// what the operator really sees: "live" only while frames are decoded, never over a black tile.
const Live = {
  sessions: {},          // cameraId -> {pc, viewerId, tile}; read by the browser tests through window.Live
  FALLBACK_AFTER_MS: 8000,
  STALL_MS: 3000,

  // The offer goes once gathering completes, or GRACE_MS after the first candidate, at most timeoutMs:
  // the browser gathers host candidates only (no ICE servers), and the server meets it by
  // peer-reflexive pairing anyway (it drops mDNS candidates). Shorter (20 ms saves ~80 ms more) puts
  // more offers in flight when a page goes away: their viewers wait for the server's connect timeout.
  GATHER_GRACE_MS: 100,
  async waitGathering(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const done = () => { clearTimeout(timer); resolve(); };
      pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") done(); });
      pc.addEventListener("icecandidate", (event) => { if (event.candidate) setTimeout(done, this.GATHER_GRACE_MS); });
    });
  },

  async start(cameraId, video, tile) {
    this.stop(cameraId);
    const pc = new RTCPeerConnection({ iceServers: [] });
    const session = { pc, viewerId: null, tile, frames: 0, lastFrameAt: 0, fps: 0, startedAt: performance.now() };
    this.sessions[cameraId] = session;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (event) => {
      video.srcObject = event.streams[0] || new MediaStream([event.track]);
      video.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (["failed", "closed"].includes(pc.connectionState) && this.sessions[cameraId] === session) {
        this.setState(tile, "connecting");
        setTimeout(() => { if (this.sessions[cameraId] === session) this.start(cameraId, video, tile).catch(() => {}); }, 3000);
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await this.waitGathering(pc, 1000);
    const answer = await API.post(`/api/live/${encodeURIComponent(cameraId)}/offer`, { sdp: pc.localDescription.sdp, type: "offer" });
    session.viewerId = answer.viewer_id;
    if (this.sessions[cameraId] !== session) {  // stopped while the offer was on its way: close it now
      navigator.sendBeacon(`/api/live/viewers/${session.viewerId}/close`);
      return session;
    }
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    return session;
  },

  stop(cameraId) {
    const session = this.sessions[cameraId];
    if (!session) return;
    delete this.sessions[cameraId];
    if (session.viewerId) navigator.sendBeacon(`/api/live/viewers/${session.viewerId}/close`);
    session.pc.close();
  },

  stopAll() { Object.keys(this.sessions).forEach((id) => this.stop(id)); },

  async framesDecoded(cameraId) {
    const session = this.sessions[cameraId];
    if (!session) return 0;
    let frames = 0;
    (await session.pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") frames = report.framesDecoded || 0;
    });
    return frames;
  },

  // Once a second: frames decoded since the last look -> fps, and the tile's true state.
  async measure(cameraId) {
    const session = this.sessions[cameraId];
    if (!session) return;
    const frames = await this.framesDecoded(cameraId), now = performance.now();
    const fresh = frames > session.frames;
    session.fps = fresh && session.measuredAt ? (frames - session.frames) * 1000 / (now - session.measuredAt) : 0;
    if (fresh) session.lastFrameAt = now;
    session.frames = frames;
    session.measuredAt = now;
    const tile = session.tile;
    tile.querySelector(".fps").textContent = `${session.fps.toFixed(0)} ${I18N.t("fps")}`;
    if (session.lastFrameAt && now - session.lastFrameAt < this.STALL_MS) this.setState(tile, "live");
    else if (session.lastFrameAt) this.setState(tile, "stalled");
    else if (now - session.startedAt > this.FALLBACK_AFTER_MS) this.fallback(cameraId, tile, "no_frames");
    else this.setState(tile, "connecting");
  },

  setState(tile, state) {
    const edgeOffline = tile.dataset.edge === "offline";
    const shown = state === "live" || state === "fallback" ? state : edgeOffline ? "offline" : state;
    tile.dataset.state = shown;
    const badge = tile.querySelector(".badge");
    badge.className = `badge ${shown}`;
    badge.textContent = I18N.t(`tile_${shown}`);
  },

  fallback(cameraId, tile, reason) {
    this.stop(cameraId);
    const img = document.createElement("img");
    img.alt = tile.querySelector(".name").textContent;
    img.src = `/api/live/${encodeURIComponent(cameraId)}/mjpeg?reason=${reason}`;
    const video = tile.querySelector("video");
    if (video) video.replaceWith(img);
    tile.dataset.fallback = reason;
    tile.querySelector(".mode").textContent = I18N.t(`fallback_${reason}`);
    tile.querySelector(".fps").textContent = "";
    img.addEventListener("error", () => this.setState(tile, "no_video"));
    this.setState(tile, "connecting");
  },

  relabel(tile) {
    const session = this.sessions[tile.dataset.camera];
    if (session) tile.querySelector(".fps").textContent = `${session.fps.toFixed(0)} ${I18N.t("fps")}`;
    if (tile.dataset.fallback) tile.querySelector(".mode").textContent = I18N.t(`fallback_${tile.dataset.fallback}`);
    if (tile.dataset.state) this.setState(tile, tile.dataset.state);
  },

  tile(camera, siteName) {
    const tile = document.createElement("div");
    tile.className = "tile";
    tile.dataset.camera = camera.id;
    tile.tabIndex = 0;
    tile.setAttribute("role", "group");
    tile.innerHTML = `<video muted playsinline autoplay></video>
      <div class="caption"><span class="who"><span class="name"></span> <span class="site"></span></span>
      <span><span class="mode"></span> <span class="fps"></span> <span class="badge"></span></span></div>`;
    tile.querySelector(".name").textContent = camera.name;
    tile.querySelector(".site").textContent = siteName || camera.site;
    tile.setAttribute("aria-label", `${camera.name}, ${siteName || camera.site}`);
    const video = tile.querySelector("video");
    video.setAttribute("aria-label", camera.name);
    this.setState(tile, "connecting");
    this.start(camera.id, video, tile).catch(() => this.fallback(camera.id, tile, "webrtc_failed"));
    return tile;
  },

  // A fallback tile is "MJPEG pictures" only while its picture has arrived, else "no picture".
  measureFallback(tile) {
    const img = tile.querySelector("img");
    this.setState(tile, img && img.complete && img.naturalWidth > 0 ? "fallback" : "no_video");
  },

  measureAll() {
    Object.keys(this.sessions).forEach((id) => this.measure(id).catch(() => {}));
    document.querySelectorAll(".tile[data-fallback]").forEach((tile) => this.measureFallback(tile));
  },
};
window.Live = Live;
window.addEventListener("pagehide", () => Live.stopAll());
