"use strict";
// Incidents: the list (active first), one incident (state actions, SOP ticks, timeline, comment),
// and the shift handover (write a note, acknowledge the last one). Live through the dashboard
// WebSocket (messages of type "incident"). Its strings join the console's (vi by default).
I18N.extend({ vi: {
  tab_incidents: "Sự cố", inc_open: "Mới", inc_acknowledged: "Đã tiếp nhận", inc_in_progress: "Đang xử lý",
  inc_resolved: "Đã giải quyết", inc_closed: "Đã đóng", inc_do_acknowledged: "Tiếp nhận",
  inc_do_in_progress: "Bắt đầu xử lý", inc_do_resolved: "Đã giải quyết", inc_do_closed: "Đóng sự cố",
  inc_override: "Bỏ qua bước (nêu lý do)", inc_override_prompt: "Lý do đóng khi còn bước bắt buộc chưa làm:",
  inc_sop: "Quy trình xử lý", inc_required: "bắt buộc", inc_timeline: "Diễn biến", inc_comment: "Ghi chú",
  inc_send: "Gửi", inc_none: "Chưa có sự cố", inc_alerts: "Cảnh báo", inc_assignee: "Người xử lý",
  handover: "Bàn giao ca", handover_write: "Bàn giao", handover_text: "Nội dung bàn giao cho ca sau",
  handover_ack: "Nhận ca", handover_last: "Bàn giao gần nhất", handover_by: "bởi", handover_acked: "Đã nhận ca:",
  handover_open: "Sự cố đang mở của ca",
  tl_opened: "Mở sự cố", tl_alert: "Cảnh báo thay đổi", tl_linked: "Gắn cảnh báo", tl_unlinked: "Gỡ cảnh báo",
  tl_state: "Trạng thái", tl_assigned: "Giao việc", tl_severity: "Mức độ", tl_comment: "Ghi chú",
  tl_attachment: "Đính kèm", tl_step: "Bước quy trình", tl_override: "Bỏ qua quy trình", tl_escalation: "Báo tiếp",
  actor_system: "hệ thống",
}, en: {
  tab_incidents: "Incidents", inc_open: "Open", inc_acknowledged: "Acknowledged", inc_in_progress: "In progress",
  inc_resolved: "Resolved", inc_closed: "Closed", inc_do_acknowledged: "Acknowledge", inc_do_in_progress: "Start",
  inc_do_resolved: "Resolve", inc_do_closed: "Close", inc_override: "Override (give a reason)",
  inc_override_prompt: "Why close with required steps open?", inc_sop: "Procedure", inc_required: "required",
  inc_timeline: "Timeline", inc_comment: "Comment", inc_send: "Send", inc_none: "No incidents",
  inc_alerts: "Alerts", inc_assignee: "Assignee", handover: "Shift handover", handover_write: "Hand over",
  handover_text: "Notes for the next shift", handover_ack: "Take over", handover_last: "Last handover",
  handover_by: "by", handover_acked: "Taken over:", handover_open: "Open incidents of the shift",
  tl_opened: "Opened", tl_alert: "Alert changed", tl_linked: "Alert linked", tl_unlinked: "Alert unlinked",
  tl_state: "State", tl_assigned: "Assigned", tl_severity: "Severity", tl_comment: "Comment",
  tl_attachment: "Attachment", tl_step: "SOP step", tl_override: "SOP override", tl_escalation: "Escalation",
  actor_system: "system",
} });

const NEXT = { open: ["acknowledged", "in_progress", "resolved"], acknowledged: ["in_progress", "resolved"],
  in_progress: ["resolved"], resolved: ["closed", "in_progress"], closed: [] };

const Incidents = {
  items: new Map(), sops: {}, selected: null, socket: null, built: false,

  el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  },

  build() {
    if (this.built) return;
    this.built = true;
    const panel = document.getElementById("panel-incidents");
    panel.innerHTML = `
      <div class="incidents">
        <ul id="incident-list" class="incident-list"></ul>
        <div id="incident-detail" class="incident-detail"></div>
      </div>
      <section id="handover" class="handover">
        <h2 data-i18n="handover"></h2>
        <div id="handover-note"></div>
        <textarea id="handover-text" rows="3" data-i18n-placeholder="handover_text"></textarea>
        <button id="handover-write" data-i18n="handover_write"></button>
      </section>`;
    document.getElementById("handover-write").addEventListener("click", () => this.writeHandover());
    document.addEventListener("ioc:lang", () => this.render());
    I18N.apply(panel);
  },

  async show() {
    this.build();
    const [list, sops] = await Promise.all([API.get("/api/incidents?limit=200"), API.get("/api/sops")]);
    this.sops = Object.fromEntries(sops.map((sop) => [sop.id, sop]));
    this.items = new Map(list.map((incident) => [incident.id, incident]));
    if (!this.selected && list.length) this.selected = list[0].id;
    this.connect();
    await Promise.all([this.render(), this.loadHandover()]);
  },

  connect() {
    if (this.socket) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/alerts/stream`);
    this.socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "incident") return;
      const known = this.items.get(message.incident.id);
      if (known && known.updated_at === message.incident.updated_at) return;  // our own change, shown already
      this.items.set(message.incident.id, message.incident);
      if (!this.selected) this.selected = message.incident.id;
      this.render();
    };
    socket.onclose = () => { this.socket = null; };
  },

  label(state) { return I18N.t(`inc_${state}`); },

  text(step) { return step.text[I18N.lang] || step.text.vi; },

  // A step of the incident's SOP by its text in the console's language (its id if the SOP changed).
  stepText(incident, stepId) {
    const sop = this.sops[incident.sop_id];
    const step = sop && sop.steps.find((s) => s.id === stepId);
    return step ? this.text(step) : stepId;
  },

  async render() {
    if (!this.built) return;
    const list = document.getElementById("incident-list");
    list.innerHTML = "";
    const ordered = [...this.items.values()].sort((a, b) => (a.state === "closed") - (b.state === "closed")
      || b.opened_at.localeCompare(a.opened_at));
    if (!ordered.length) list.appendChild(this.el("li", { class: "empty" }, I18N.t("inc_none")));
    ordered.forEach((incident) => {
      const item = this.el("li", { "data-id": incident.id, class: `sev-${incident.severity} state-${incident.state}` });
      item.appendChild(this.el("b", {}, Alerts.named(incident.title)));
      item.appendChild(this.el("span", { class: "badge" }, this.label(incident.state)));
      item.appendChild(this.el("small", {}, `${Alerts.siteName(incident.site)} · ${I18N.time(incident.opened_at)}`));
      if (incident.id === this.selected) item.classList.add("selected");
      item.addEventListener("click", () => { this.selected = incident.id; this.render(); });
      list.appendChild(item);
    });
    await this.renderDetail();
  },

  async renderDetail() {
    const detail = document.getElementById("incident-detail");
    const incident = this.items.get(this.selected);
    const typing = document.getElementById("incident-comment");
    const draft = typing && typing.value;  // a re-render (a live update) keeps what is being typed
    detail.innerHTML = "";
    if (!incident) return;
    detail.appendChild(this.el("h2", { id: "incident-title" }, Alerts.named(incident.title)));
    const facts = this.el("p");
    facts.appendChild(this.el("span", { id: "incident-state", class: "badge", "data-state": incident.state }, this.label(incident.state)));
    facts.appendChild(this.el("span", { class: `sev-${incident.severity}` }, ` ${I18N.t(`sev_${incident.severity}`)} · ${Alerts.siteName(incident.site)}`));
    facts.appendChild(this.el("span", {}, ` · ${I18N.t("inc_alerts")}: ${incident.alerts.length}`));
    detail.appendChild(facts);
    const actions = this.el("div", { class: "incident-actions" });
    NEXT[incident.state].forEach((to) => {
      const button = this.el("button", { "data-to": to }, I18N.t(`inc_do_${to}`));
      button.addEventListener("click", () => this.act(`transition`, { to }));
      actions.appendChild(button);
    });
    if (incident.state === "resolved") {
      const override = this.el("button", { id: "incident-override" }, I18N.t("inc_override"));
      override.addEventListener("click", () => {
        const reason = prompt(I18N.t("inc_override_prompt"));
        if (reason) this.act("override", { reason });
      });
      actions.appendChild(override);
    }
    detail.appendChild(actions);
    detail.appendChild(this.el("p", { id: "incident-error", class: "error", role: "alert" }));
    this.renderSop(detail, incident);
    await this.renderTimeline(detail, incident, draft);
  },

  renderSop(detail, incident) {
    const sop = this.sops[incident.sop_id];
    if (!sop) return;
    const box = this.el("div", { class: "sop" });
    box.appendChild(this.el("h3", {}, `${I18N.t("inc_sop")}: ${sop.title[I18N.lang] || sop.title.vi}`));
    const steps = this.el("ol", { id: "sop-steps" });
    sop.steps.forEach((step) => {
      const row = this.el("li", { class: "sop-step" });
      const tick = this.el("input", { type: "checkbox", "data-step": step.id });
      tick.checked = step.id in incident.steps_done;
      tick.disabled = incident.state === "closed";
      tick.addEventListener("change", () => this.act(`steps/${step.id}`, { done: tick.checked }));
      const text = this.el("label", {}, ` ${this.text(step)}`);
      text.prepend(tick);
      if (step.required) text.appendChild(this.el("em", {}, ` (${I18N.t("inc_required")})`));
      row.appendChild(text);
      steps.appendChild(row);
    });
    box.appendChild(steps);
    detail.appendChild(box);
  },

  async renderTimeline(detail, incident, draft) {
    detail.appendChild(this.el("h3", {}, I18N.t("inc_timeline")));
    const list = this.el("ol", { id: "incident-timeline", class: "timeline" });
    detail.appendChild(list);
    const form = this.el("form", { id: "incident-comment-form" });
    const input = this.el("input", { id: "incident-comment", placeholder: I18N.t("inc_comment") });
    if (draft) input.value = draft;
    form.appendChild(input);
    form.appendChild(this.el("button", { type: "submit" }, I18N.t("inc_send")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value.trim();
      input.value = "";
      if (text) this.act("comments", { text });
    });
    detail.appendChild(form);
    const entries = await API.get(`/api/incidents/${incident.id}/timeline`);
    entries.forEach((entry) => {
      const what = entry.kind === "state" ? `${I18N.t("tl_state")}: ${this.label(entry.data.to)}`
        : entry.kind === "step" ? `${I18N.t("tl_step")}: ${this.stepText(incident, entry.data.step)}${entry.data.done ? " ✓" : " ✗"}`
        : `${I18N.t(`tl_${entry.kind}`)}${entry.text ? `: ${entry.kind === "comment" ? entry.text : Alerts.named(entry.text)}` : ""}`;
      const row = this.el("li", { "data-kind": entry.kind });
      row.appendChild(this.el("time", {}, I18N.time(entry.at)));
      row.appendChild(this.el("span", {}, ` ${what}`));
      const actor = entry.actor === "system" ? I18N.t("actor_system") : entry.actor;
      if (actor) row.appendChild(this.el("small", {}, ` — ${actor}`));
      list.appendChild(row);
    });
  },

  async act(path, body) {
    try {
      const incident = await API.post(`/api/incidents/${this.selected}/${path}`, body);
      this.items.set(incident.id, incident);
      await Promise.all([this.render(), this.loadHandover()]);
    } catch (e) {
      await this.render();
      document.getElementById("incident-error").textContent = e.message;
    }
  },

  async loadHandover() {
    const current = await API.get("/api/handover/current");
    const box = document.getElementById("handover-note");
    box.innerHTML = "";
    box.appendChild(this.el("p", {}, `${I18N.t("handover_open")}: ${current.open.length}`));
    const open = this.el("ul", { id: "handover-open" });
    current.open.forEach((item) => {
      const row = this.el("li", { "data-id": item.id }, `${Alerts.named(item.title)} — ${this.label(item.state)}`);
      if (item.assignee) row.appendChild(this.el("small", {}, ` · ${I18N.t("inc_assignee")}: ${item.assignee}`));
      open.appendChild(row);
    });
    box.appendChild(open);
    const note = current.note;
    if (!note) return;
    const card = this.el("div", { class: "handover-card", "data-id": note.id });
    card.appendChild(this.el("h3", {}, `${I18N.t("handover_last")} ${I18N.t("handover_by")} ${note.author} · ${I18N.time(note.created_at)}`));
    card.appendChild(this.el("p", { class: "handover-text" }, note.text));
    const items = this.el("ul");
    note.items.forEach((item) => items.appendChild(this.el("li", {}, `${Alerts.named(item.title)} — ${this.label(item.state)} (${item.done.length})`)));
    card.appendChild(items);
    if (note.acknowledged_by) {
      card.appendChild(this.el("p", { id: "handover-acked" }, `${I18N.t("handover_acked")} ${note.acknowledged_by} · ${I18N.time(note.acknowledged_at)}`));
    } else {
      const ack = this.el("button", { id: "handover-ack" }, I18N.t("handover_ack"));
      ack.addEventListener("click", async () => { await API.post(`/api/handover/${note.id}/acknowledge`); await this.loadHandover(); });
      card.appendChild(ack);
    }
    box.appendChild(card);
  },

  async writeHandover() {
    const text = document.getElementById("handover-text");
    await API.post("/api/handover", { text: text.value });
    text.value = "";
    await this.loadHandover();
  },
};
