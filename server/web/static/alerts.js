"use strict";
// The live alert feed: a WebSocket snapshot then every change; acknowledge / resolve / assign / silence.
const Alerts = {
  items: new Map(),   // id -> alert payload
  socket: null,
  user: null,
  sites: {},

  connect(user, sites) {
    this.user = user;
    this.sites = sites;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/alerts/stream`);
    this.socket = socket;
    socket.onopen = () => document.getElementById("alert-conn").classList.add("up");
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = () => {
      document.getElementById("alert-conn").classList.remove("up");
      if (this.socket === socket && this.user) setTimeout(() => this.connect(this.user, this.sites), 2000);
    };
  },

  disconnect() { this.user = null; if (this.socket) this.socket.close(); this.items.clear(); this.render(); },

  receive(message) {
    if (message.type === "snapshot") {
      this.items.clear();
      message.alerts.forEach((alert) => this.items.set(alert.id, alert));
    } else if (message.type === "alert") {
      const fresh = !this.items.has(message.alert.id) || message.action === "firing";
      this.items.set(message.alert.id, message.alert);
      if (fresh && message.alert.severity === "critical" && message.action === "firing") this.beep();
    }
    this.render();
  },

  async loadHistory() {
    const history = await API.get("/api/alerts?limit=200");
    history.forEach((alert) => { if (!this.items.has(alert.id)) this.items.set(alert.id, alert); });
    this.render();
  },

  beep() {
    try {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.4);
    } catch (_) { /* no audio device */ }
  },

  visible() {
    const site = document.getElementById("alert-site").value;
    const severity = document.getElementById("alert-severity").value;
    const history = document.getElementById("alert-history").checked;
    return [...this.items.values()]
      .filter((a) => (!site || a.site === site) && (!severity || a.severity === severity))
      .filter((a) => history || a.state !== "resolved")
      .sort((a, b) => (b.updated_at > a.updated_at ? 1 : -1));
  },

  render() {
    const feed = document.getElementById("alert-feed");
    feed.innerHTML = "";
    for (const alert of this.visible()) feed.appendChild(this.card(alert));
  },

  card(alert) {
    const li = document.createElement("li");
    li.className = `alert sev-${alert.severity} state-${alert.state}`;
    li.dataset.id = alert.id;
    li.dataset.state = alert.state;
    const summary = document.createElement("div");
    summary.className = "summary";
    summary.textContent = alert.summary;
    const meta = document.createElement("div");
    meta.className = "meta";
    const parts = [I18N.t(`sev_${alert.severity}`), I18N.t(`state_${alert.state}`), I18N.time(alert.started_at)];
    if (alert.value !== null && alert.value !== undefined) parts.push(String(alert.value));
    if (alert.site) parts.push(this.sites[alert.site] || alert.site);
    if (alert.acknowledged_by) parts.push(`${I18N.t("acked_by")} ${alert.acknowledged_by}`);
    if (alert.assignee) parts.push(`${I18N.t("assigned_to")} ${alert.assignee}`);
    meta.textContent = parts.join(" · ");
    li.append(summary, meta);
    if (alert.state !== "resolved") li.appendChild(this.actions(alert));
    return li;
  },

  actions(alert) {
    const box = document.createElement("div");
    box.className = "actions";
    const role = this.user ? this.user.role : "viewer";
    const rank = { viewer: 0, responder: 1, operator: 2, admin: 3 }[role] || 0;
    const add = (key, handler, need) => {
      if (rank < need) return;
      const button = document.createElement("button");
      button.dataset.action = key;
      button.textContent = I18N.t(key);
      button.addEventListener("click", () => handler().catch((error) => alert_error(error)));
      box.appendChild(button);
    };
    // The server records the logged-in user as the actor; the body carries only a note or assignee.
    const alert_error = (error) => window.alert(error.message);
    // A responder acknowledges only the alerts assigned to them; operators and admins any.
    const mine = rank >= 2 || (this.user && alert.assignee === this.user.name);
    if (alert.state !== "acknowledged" && mine) add("ack", () => API.post(`/api/alerts/${alert.id}/acknowledge`, {}).then((a) => this.update(a)), 1);
    add("resolve", () => API.post(`/api/alerts/${alert.id}/resolve`, {}).then((a) => this.update(a)), 2);
    add("assign", async () => {
      const assignee = window.prompt(I18N.t("assign_prompt"), alert.assignee || "");
      if (assignee) this.update(await API.post(`/api/alerts/${alert.id}/assign`, { assignee }));
    }, 2);
    add("silence", async () => {
      const minutes = Number(window.prompt(I18N.t("silence_prompt"), "60"));
      if (!minutes) return;
      const matchers = {};
      ["rule", "subject"].forEach((key) => { if (alert.labels && alert.labels[key]) matchers[key] = alert.labels[key]; });
      if (!Object.keys(matchers).length) matchers.rule = alert.rule_id;
      await API.post("/api/silences", { matchers, duration_s: minutes * 60, reason: I18N.t("silence_reason") });
    }, 2);
    return box;
  },

  update(alert) { this.items.set(alert.id, alert); this.render(); },
};
