"use strict";
// Evidence: a camera's timeline (recorded ranges, clips, events), clip playback (seekable MP4),
// review, cases and their export, and the audit log for admins. Self-contained: it fills
// #panel-evidence when its tab is opened and reads the camera list from /api/console/layout.
const Evidence = {
  ready: false, cameras: [], clips: [], reviewed: new Set(), role: "viewer",

  TEXT: {
    vi: {
      camera: "Camera", minutes: "Phút gần nhất", load: "Xem", timeline: "Dòng thời gian", clips: "Đoạn video",
      play: "Phát", reviewed: "Đã xem", mark_reviewed: "Đánh dấu đã xem", cases: "Hồ sơ", title: "Tiêu đề",
      reference: "Số hiệu", note: "Ghi chú", create_case: "Tạo hồ sơ từ đoạn đã chọn", export: "Xuất",
      audit: "Nhật ký truy cập", who: "Người", action: "Hành động", object: "Đối tượng", from: "Từ", when: "Lúc",
      recorded: "đã ghi", no_clips: "Không có đoạn video", request: "Yêu cầu đoạn ghi",
      unreviewed: "Chỉ đoạn chưa xem",
    },
    en: {
      camera: "Camera", minutes: "Last minutes", load: "Show", timeline: "Timeline", clips: "Clips",
      play: "Play", reviewed: "Reviewed", mark_reviewed: "Mark reviewed", cases: "Cases", title: "Title",
      reference: "Reference", note: "Note", create_case: "Create a case from the selected clips", export: "Export",
      audit: "Audit log", who: "Who", action: "Action", object: "Object", from: "From", when: "When",
      recorded: "recorded", no_clips: "No clips", request: "Request recording",
      unreviewed: "Only clips to review",
    },
  },

  t(key) {
    const lang = (typeof I18N !== "undefined" && I18N.lang) || "vi";
    return (this.TEXT[lang] || this.TEXT.vi)[key] || key;
  },

  async open() {
    const me = await API.get("/api/auth/me");
    this.role = me.role;
    if (!this.ready) {
      const layout = await API.get("/api/console/layout");
      this.cameras = layout.cameras || [];
      this.build();
      this.ready = true;
    }
    document.getElementById("ev-audit-box").classList.toggle("hidden", this.role !== "admin");
    await this.load();
  },

  el(tag, attrs = {}, text = "") {
    const node = document.createElement(tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    if (text) node.textContent = text;
    return node;
  },

  build() {
    const panel = document.getElementById("panel-evidence");
    panel.innerHTML = `
      <form id="ev-filter" class="filters">
        <select id="ev-camera"></select>
        <label>${this.t("minutes")} <input id="ev-minutes" type="number" min="1" value="60"></label>
        <label><input type="checkbox" id="ev-unreviewed"> ${this.t("unreviewed")}</label>
        <button type="submit" id="ev-load">${this.t("load")}</button>
      </form>
      <h3>${this.t("timeline")}</h3>
      <div id="ev-timeline" class="ev-timeline"></div>
      <ul id="ev-ranges" class="ev-ranges"></ul>
      <div class="ev-player"><video id="ev-video" controls muted playsinline preload="auto"></video></div>
      <h3>${this.t("clips")}</h3>
      <table id="ev-clips"><tbody></tbody></table>
      <h3>${this.t("cases")}</h3>
      <form id="ev-case-form" class="filters">
        <input id="ev-case-title" placeholder="${this.t("title")}" required>
        <input id="ev-case-ref" placeholder="${this.t("reference")}">
        <input id="ev-case-note" placeholder="${this.t("note")}">
        <button type="submit" id="ev-case-create">${this.t("create_case")}</button>
      </form>
      <p id="ev-error" class="error" role="alert"></p>
      <ul id="ev-cases"></ul>
      <div id="ev-audit-box" class="hidden">
        <h3>${this.t("audit")}</h3>
        <table id="ev-audit"><thead><tr><th>${this.t("when")}</th><th>${this.t("who")}</th>
          <th>${this.t("action")}</th><th>${this.t("object")}</th><th>${this.t("from")}</th></tr></thead><tbody></tbody></table>
      </div>`;
    const select = document.getElementById("ev-camera");
    this.cameras.forEach((c) => select.appendChild(this.el("option", { value: c.id }, c.name || c.id)));
    document.getElementById("ev-filter").addEventListener("submit", (e) => { e.preventDefault(); this.load(); });
    document.getElementById("ev-unreviewed").addEventListener("change", () => this.load());
    document.getElementById("ev-case-form").addEventListener("submit", (e) => { e.preventDefault(); this.createCase(); });
  },

  async load() {
    const camera = document.getElementById("ev-camera").value;
    if (!camera) return;
    const minutes = Number(document.getElementById("ev-minutes").value) || 60;
    const end = new Date(Date.now() + 60e3);
    const start = new Date(end - minutes * 60e3);
    const params = new URLSearchParams({ start: start.toISOString(), end: end.toISOString() });
    const timeline = await API.get(`/api/evidence/cameras/${encodeURIComponent(camera)}/timeline?${params}`);
    this.clips = timeline.clips;
    this.reviewed = new Set();
    if (document.getElementById("ev-unreviewed").checked) {
      const review = await API.get(`/api/evidence/review?${params}&camera=${encodeURIComponent(camera)}&limit=500`);
      review.filter((item) => item.reviewed).forEach((item) => this.reviewed.add(item.id));
    }
    this.drawTimeline(timeline, start, end);
    // "only clips to review": a clip whose events the caller has all reviewed is left out
    const toReview = (c) => !c.event_ids.length || c.event_ids.some((id) => !this.reviewed.has(id));
    this.listClips(timeline.clips.filter(toReview));
    await this.listCases();
    if (this.role === "admin") await this.listAudit();
  },

  drawTimeline(timeline, start, end) {
    const bar = document.getElementById("ev-timeline");
    const list = document.getElementById("ev-ranges");
    bar.innerHTML = "";
    list.innerHTML = "";
    const span = end - start;
    const place = (node, a, b) => {
      node.style.left = `${Math.max(0, (new Date(a) - start) / span) * 100}%`;
      node.style.width = `${Math.max(0.3, ((new Date(b) - new Date(a)) / span) * 100)}%`;
      bar.appendChild(node);
    };
    timeline.recorded.forEach((r) => {
      place(this.el("div", { class: "ev-rec", "data-start": r.start, "data-end": r.end, title: this.t("recorded") }), r.start, r.end);
      list.appendChild(this.el("li", { class: "ev-range" }, `${this.t("recorded")}: ${this.time(r.start)} – ${this.time(r.end)}`));
    });
    timeline.clips.forEach((c) => {
      const mark = this.el("div", { class: "ev-clip", "data-clip": c.id, "data-start": c.start_time, "data-end": c.end_time });
      mark.addEventListener("click", () => this.play(c));
      place(mark, c.start_time, c.end_time);
    });
    timeline.events.forEach((e) => place(this.el("div", { class: "ev-event", title: `${e.kind} ${e.label || ""}` }), e.time, e.time));
  },

  time(value) {
    return typeof I18N !== "undefined" && I18N.time ? I18N.time(value) : new Date(value).toLocaleString();
  },

  listClips(clips) {
    const body = document.querySelector("#ev-clips tbody");
    body.innerHTML = "";
    if (!clips.length) body.appendChild(this.el("tr")).appendChild(this.el("td", {}, this.t("no_clips")));
    clips.forEach((c) => {
      const row = this.el("tr", { "data-clip": c.id });
      const pick = this.el("input", { type: "checkbox", class: "ev-pick", value: c.id });
      row.appendChild(this.el("td")).appendChild(pick);
      row.appendChild(this.el("td", {}, `${this.time(c.start_time)} – ${this.time(c.end_time)}`));
      row.appendChild(this.el("td", {}, `${c.duration_s.toFixed(1)} s · ${c.kind}`));
      const play = this.el("button", { type: "button", class: "ev-play" }, this.t("play"));
      play.addEventListener("click", () => this.play(c));
      row.appendChild(this.el("td")).appendChild(play);
      const review = this.el("button", { type: "button", class: "ev-review" }, this.t("mark_reviewed"));
      review.addEventListener("click", () => this.review(c, review));
      row.appendChild(this.el("td")).appendChild(review);
      body.appendChild(row);
    });
  },

  play(clip) {
    const video = document.getElementById("ev-video");
    video.src = clip.url;
    video.dataset.clip = clip.id;
    video.play().catch(() => { /* autoplay refused: the controls are there */ });
  },

  async review(clip, button) {
    if (!clip.event_ids.length) return;
    try {
      await API.post("/api/evidence/reviews", { event_ids: clip.event_ids, reviewed: true });
      button.textContent = this.t("reviewed");
      button.disabled = true;
    } catch (e) { this.error(e); }
  },

  error(e) { document.getElementById("ev-error").textContent = e.message || String(e); },

  async createCase() {
    const clips = [...document.querySelectorAll(".ev-pick:checked")].map((i) => i.value);
    const body = {
      title: document.getElementById("ev-case-title").value.trim(),
      reference: document.getElementById("ev-case-ref").value.trim() || null,
      note: document.getElementById("ev-case-note").value.trim() || null,
      clips,
    };
    document.getElementById("ev-error").textContent = "";
    try {
      await API.post("/api/evidence/cases", body);
      await this.listCases();
    } catch (e) { this.error(e); }
  },

  async listCases() {
    const list = document.getElementById("ev-cases");
    list.innerHTML = "";
    let cases = [];
    try { cases = await API.get("/api/evidence/cases"); } catch (e) { if (e.status !== 403) this.error(e); return; }
    cases.forEach((c) => {
      const item = this.el("li", { "data-case": String(c.id) }, `${c.reference || "#" + c.id} · ${c.title} (${c.clips.length}) `);
      const link = this.el("a", { href: `/api/evidence/cases/${c.id}/export`, download: "", class: "ev-export" }, this.t("export"));
      item.appendChild(link);
      list.appendChild(item);
    });
  },

  async listAudit() {
    const body = document.querySelector("#ev-audit tbody");
    body.innerHTML = "";
    (await API.get("/api/evidence/audit?limit=200")).forEach((a) => {
      const row = this.el("tr", { "data-action": a.action });
      [this.time(a.time), a.actor, a.action, a.object, a.remote || ""].forEach((text) => row.appendChild(this.el("td", {}, text)));
      body.appendChild(row);
    });
  },
};

