"use strict";
// Live camera tiles: WebRTC (H.264 from the server, receive only), with a JPEG fallback.
const Live = {
  sessions: {},          // cameraId -> {pc, viewerId}; read by the browser tests through window.Live
  FALLBACK_AFTER_MS: 12000,

  async waitGathering(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  },

  async start(cameraId, video) {
    this.stop(cameraId);
    const pc = new RTCPeerConnection({ iceServers: [] });
    const session = { pc, viewerId: null };
    this.sessions[cameraId] = session;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (event) => {
      video.srcObject = event.streams[0] || new MediaStream([event.track]);
      video.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (["failed", "closed"].includes(pc.connectionState) && this.sessions[cameraId] === session) {
        setTimeout(() => { if (this.sessions[cameraId] === session) this.start(cameraId, video); }, 3000);
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await this.waitGathering(pc, 2000);
    const answer = await API.post(`/api/live/${encodeURIComponent(cameraId)}/offer`, { sdp: pc.localDescription.sdp, type: "offer" });
    session.viewerId = answer.viewer_id;
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

  fallback(cameraId, tile) {
    this.stop(cameraId);
    const img = document.createElement("img");
    img.alt = cameraId;
    img.src = `/api/live/${encodeURIComponent(cameraId)}/mjpeg`;
    tile.querySelector("video").replaceWith(img);
    tile.querySelector(".mode").textContent = I18N.t("fallback");
  },

  tile(camera) {
    const tile = document.createElement("div");
    tile.className = "tile";
    tile.dataset.camera = camera.id;
    tile.innerHTML = `<video muted playsinline autoplay></video>
      <div class="caption"><span class="name"></span><span><span class="mode"></span>
      <span class="fps"></span> <span class="badge unknown"></span></span></div>`;
    tile.querySelector(".name").textContent = camera.name;
    const video = tile.querySelector("video");
    this.start(camera.id, video).catch(() => this.fallback(camera.id, tile));
    setTimeout(() => { if (video.isConnected && !video.videoWidth) this.fallback(camera.id, tile); }, this.FALLBACK_AFTER_MS);
    tile.addEventListener("click", () => this.zoom(tile));
    return tile;
  },

  zoom(tile) {
    const zoom = document.getElementById("zoom");
    if (tile.parentElement === zoom) {
      document.getElementById("wall").insertBefore(tile, document.getElementById("wall").children[Number(tile.dataset.index)] || null);
      zoom.classList.add("hidden");
    } else {
      tile.dataset.index = [...tile.parentElement.children].indexOf(tile);
      zoom.appendChild(tile);
      zoom.classList.remove("hidden");
    }
    const video = tile.querySelector("video");
    if (video) video.play().catch(() => {});
  },
};
window.Live = Live;
window.addEventListener("pagehide", () => Live.stopAll());
