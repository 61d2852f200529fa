"use strict";
// The live alert feed: a WebSocket snapshot then every change; acknowledge / resolve / assign / silence
// (dialogs). A firing critical alert sounds every few seconds and raises a browser notification (with
// the operator's consent) until it is acknowledged or resolved. Titles name sensors and cameras.
const Alerts = {
  items: new Map(),   // id -> alert payload
  socket: null,
  user: null,
  sites: {},
  names: {},          // sensor / camera id -> name
  RING_MS: 5000,
  ringing: null,
  notified: new Set(),

  connect(user, sites, names = {}) {
    this.user = user;
    this.sites = sites;
    this.names = names;
    this.offerNotifications();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/alerts/stream`);
    this.socket = socket;
    socket.onopen = () => document.getElementById("alert-conn").classList.add("up");
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = () => {
      document.getElementById("alert-conn").classList.remove("up");
      if (this.socket === socket && this.user) setTimeout(() => this.connect(this.user, this.sites, this.names), 2000);
    };
  },

  disconnect() { this.user = null; if (this.socket) this.socket.close(); this.items.clear(); this.render(); },

  // The alert's title with names instead of ids ("Xâm nhập mặn 4‰: Độ mặn Đại Ngãi = 5.2‰").
  title(alert) {
    let text = alert.summary || "";
    const subject = alert.subject || (alert.labels || {}).subject;
    if (subject && this.names[subject]) text = text.split(subject).join(this.names[subject]);
    return text;
  },

  // Names instead of ids in any text (incident titles, timeline entries): each known sensor or
  // camera id that stands as a word of its own ("sal-lp = 5.4‰" -> "Độ mặn Long Phú = 5.4‰").
  named(text) {
    return Object.entries(this.names).reduce((out, [id, name]) => (name ? out.replace(
      new RegExp(`(?<![\\w-])${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-])`, "g"), () => name) : out), text || "");
  },

  siteName(site) { return (site && this.sites[site]) || site || ""; },

  unacknowledgedCritical() {
    return [...this.items.values()].filter((a) => a.severity === "critical" && ["firing", "pending"].includes(a.state));
  },

  // Attention: ring while a critical alert waits for someone; notify once per alert.
  attend() {
    const waiting = this.unacknowledgedCritical();
    if (waiting.length && !this.ringing) { this.beep(); this.ringing = setInterval(() => this.beep(), this.RING_MS); }
    if (!waiting.length && this.ringing) { clearInterval(this.ringing); this.ringing = null; }
    document.body.classList.toggle("critical-waiting", waiting.length > 0);
    for (const alert of waiting) {
      if (this.notified.has(alert.id)) continue;
      this.notified.add(alert.id);
      document.getElementById("alert-announcer").textContent = `${I18N.t("new_critical")}: ${this.title(alert)}`;
      if (window.Notification && Notification.permission === "granted") {
        const note = new Notification(I18N.t("new_critical"), { body: this.title(alert), tag: alert.id, requireInteraction: true });
        note.onclick = () => { window.focus(); note.close(); };
        alert._note = note;
      }
    }
  },

  offerNotifications() {
    const button = document.getElementById("alert-notify");
    const ask = window.Notification && Notification.permission === "default";
    button.classList.toggle("hidden", !ask);
    button.onclick = () => Notification.requestPermission().then(() => button.classList.add("hidden"));
  },

  receive(message) {
    if (message.type === "snapshot") {
      this.items.clear();
      message.alerts.forEach((alert) => this.items.set(alert.id, alert));
    } else if (message.type === "alert") {
      const previous = this.items.get(message.alert.id);
      if (previous && previous._note && message.alert.state !== "firing") previous._note.close();
      this.items.set(message.alert.id, message.alert);
    }
    this.render();
    this.attend();
    if (window.Tabs && Tabs.isShown("overview")) Overview.render();
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
    summary.textContent = this.title(alert);
    const meta = document.createElement("div");
    meta.className = "meta";
    const parts = [I18N.t(`sev_${alert.severity}`), I18N.t(`state_${alert.state}`), I18N.time(alert.started_at)];
    if (alert.value !== null && alert.value !== undefined) parts.push(I18N.number(alert.value));
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
    const alert_error = (error) => { document.getElementById("alert-announcer").textContent = `${I18N.t("error")}: ${error.message}`; };
    // A responder acknowledges only the alerts assigned to them; operators and admins any.
    const mine = rank >= 2 || (this.user && alert.assignee === this.user.name);
    add("on_map", async () => App.showOnMap(alert), 0);
    if (alert.state !== "acknowledged" && mine) add("ack", () => API.post(`/api/alerts/${alert.id}/acknowledge`, {}).then((a) => this.update(a)), 1);
    add("resolve", () => API.post(`/api/alerts/${alert.id}/resolve`, {}).then((a) => this.update(a)), 2);
    add("assign", () => Dialogs.ask("assign-dialog", this.title(alert), { assignee: alert.assignee || "" }, async (values) => {
      this.update(await API.post(`/api/alerts/${alert.id}/assign`, { assignee: values.assignee.trim() }));
    }), 2);
    add("silence", () => Dialogs.ask("silence-dialog", this.title(alert), { minutes: "60", reason: "" }, async (values) => {
      const matchers = {};
      ["rule", "subject"].forEach((key) => { if (alert.labels && alert.labels[key]) matchers[key] = alert.labels[key]; });
      if (!Object.keys(matchers).length) matchers.rule = alert.rule_id;
      const reason = values.reason.trim() || I18N.t("silence_reason");
      await API.post("/api/silences", { matchers, duration_s: Number(values.minutes) * 60, reason });
    }), 2);
    return box;
  },

  update(alert) { this.items.set(alert.id, alert); this.render(); },
};
