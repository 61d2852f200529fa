"use strict";
// The console: login, tabs, camera wall, sensors and charts, map, events; vi/en; site time zone.
const RANGES = { "1h": 1, "6h": 6, "24h": 24, "7d": 168, "30d": 720 };

const App = {
  user: null, layout: null, sensors: {}, cameras: {}, selected: null, range: "24h", timers: [],

  async boot() {
    I18N.apply();
    this.bind();
    try {
      await this.enter(await API.get("/api/auth/me"));
    } catch (_) {
      this.showLogin();
    }
  },

  bind() {
    document.getElementById("login-form").addEventListener("submit", (e) => { e.preventDefault(); this.login(); });
    document.querySelectorAll("[data-lang]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); I18N.set(a.dataset.lang); }));
    document.getElementById("lang-toggle").addEventListener("click", () => I18N.set(I18N.lang === "vi" ? "en" : "vi"));
    document.getElementById("logout").addEventListener("click", () => this.logout());
    Tabs.register("overview", () => Overview.show());
    Tabs.register("map", () => this.drawMap());
    Tabs.register("events", () => this.searchEvents());
    Tabs.register("sensors", () => { if (this.selected) this.drawChart(); });
    Tabs.register("incidents", () => Incidents.show());
    Tabs.register("evidence", () => Evidence.open());
    Tabs.bind();
    document.querySelectorAll("#ranges button").forEach((b) => b.addEventListener("click", () => this.setRange(b.dataset.range)));
    ["alert-site", "alert-severity"].forEach((id) => document.getElementById(id).addEventListener("change", () => Alerts.render()));
    document.getElementById("alert-history").addEventListener("change", (e) => { if (e.target.checked) Alerts.loadHistory(); else Alerts.render(); });
    document.getElementById("event-filter").addEventListener("submit", (e) => { e.preventDefault(); this.searchEvents(); });
    document.getElementById("event-raw").addEventListener("change", (e) => { Events.raw = e.target.checked; Events.render(); });
    document.addEventListener("ioc:lang", () => this.rerender());
    document.addEventListener("ioc:logged-out", () => this.showLogin());
  },

  showLogin() {
    this.stopTimers();
    ConfigBanner.clear();
    Overlay.stopAll();
    Live.stopAll();
    Alerts.disconnect();
    document.getElementById("login").classList.remove("hidden");
    document.getElementById("login").style.display = "";
  },

  async login() {
    const error = document.getElementById("login-error");
    error.textContent = "";
    try {
      const result = await API.post("/api/auth/login", {
        username: document.getElementById("login-user").value.trim().toLowerCase(),
        password: document.getElementById("login-pass").value,
      });
      document.getElementById("login-pass").value = "";
      await this.enter(result.user);
    } catch (e) {
      error.textContent = e.status === 429 ? I18N.t("too_many") : I18N.t("bad_login");
    }
  },

  async logout() {
    try { await API.post("/api/auth/logout"); } catch (_) { /* already logged out */ }
    this.user = null;
    this.showLogin();
  },

  async enter(user) {
    this.user = user;
    document.getElementById("login").style.display = "none";
    document.getElementById("whoami").textContent = `${user.display_name || user.name} (${user.role})`;
    this.layout = await API.get("/api/console/layout");
    I18N.timeZone = this.layout.timezone;
    I18N.deployment = this.layout.title;
    Chart.setBands(this.layout.bands);
    I18N.apply();
    this.fillSelects();
    this.buildWall();
    const names = Object.fromEntries([...this.layout.sensors, ...this.layout.cameras].map((x) => [x.id, x.name]));
    Alerts.connect(user, Object.fromEntries(this.layout.sites.map((s) => [s.id, s.name])), names);
    await this.refresh();
    if (!this.selected && this.layout.sensors.length) this.select(this.layout.sensors[0].id);
    this.timers.push(setInterval(() => this.refresh(), 5000), setInterval(() => this.clock(), 1000));
    this.timers.push(setTimeout(() => this.refresh(), 2500));
    ConfigBanner.poll();
    this.timers.push(setInterval(() => ConfigBanner.poll(), ConfigBanner.POLL_MS));
    this.clock();
    const first = location.hash.slice(1);  // a second screen opens on its view: /#overview, /#map
    if (first && document.getElementById(`panel-${first}`)) Tabs.show(first);
  },

  stopTimers() { this.timers.forEach(clearInterval); this.timers = []; },

  clock() { document.getElementById("clock").textContent = I18N.time(Date.now()); },

  tab(name) { Tabs.show(name); },

  fillSelects() {
    const fill = (id, items) => {
      const select = document.getElementById(id);
      select.querySelectorAll("option:not(:first-child)").forEach((o) => o.remove());
      items.forEach((item) => { const o = document.createElement("option"); o.value = item.id; o.textContent = item.name; select.appendChild(o); });
    };
    fill("alert-site", this.layout.sites);
    fill("event-camera", this.layout.cameras);
  },

  buildWall() { Wall.init(this.layout, this.user); },

  async refresh() {
    const [sensors, cameras, live] = await Promise.all([
      API.get("/api/sensors"), API.get("/api/cameras"), API.get("/api/live/status").catch(() => ({})),
    ]);
    this.sensors = Object.fromEntries(sensors.map((s) => [s.id, s]));
    this.cameras = Object.fromEntries(cameras.map((c) => [c.id, { ...c, live: live[c.id] }]));
    this.renderCameraStatus();
    this.renderSensorList();
    if (Tabs.isShown("map")) this.drawMap();
    if (Tabs.isShown("overview")) Overview.show();
  },

  // What the operator sees: the tile's own picture when it is on the wall, else the edge's report.
  cameraState(id) {
    const tile = document.querySelector(`.tile[data-camera="${CSS.escape(id)}"]`);
    if (tile && ["live", "fallback"].includes(tile.dataset.state)) return "online";
    const camera = this.cameras[id];
    if (!camera || !camera.state || camera.state === "unknown") return "unknown";
    return camera.state === "online" ? "online" : "offline";
  },

  renderCameraStatus() {
    document.querySelectorAll(".tile").forEach((tile) => {
      const camera = this.cameras[tile.dataset.camera];
      tile.dataset.edge = camera && camera.state ? camera.state : "unknown";
      Live.relabel(tile);
    });
  },

  renderSensorList() {
    const list = document.getElementById("sensor-list");
    list.innerHTML = "";
    for (const sensor of this.layout.sensors) {
      const current = this.sensors[sensor.id];
      const li = document.createElement("li");
      li.dataset.sensor = sensor.id;
      li.classList.toggle("active", sensor.id === this.selected);
      const name = document.createElement("span");
      name.textContent = sensor.name;
      const value = document.createElement("span");
      value.className = "value";
      const last = current && current.last ? current.last.value : null;
      const band = Chart.bandOf(sensor.kind, last);
      value.style.background = band ? band.color : "#8b949e";
      value.textContent = last === null ? "–" : `${I18N.number(last)} ${sensor.unit}${sensor.kind === "pm25" ? ` · VN_AQI ${Chart.vnAqi(last)}` : ""}`;
      const quality = current && current.last ? current.last.quality || "normal" : "normal";
      li.dataset.quality = quality;
      if (quality !== "normal") {  // the station is calibrating, or its instrument reports an error
        const flag = document.createElement("span");
        flag.className = `badge quality ${quality}`;
        flag.textContent = I18N.t(`quality_${quality}`);
        name.append(" ", flag);
      }
      li.append(name, value);
      li.addEventListener("click", () => this.select(sensor.id));
      list.appendChild(li);
    }
  },

  select(id) { this.selected = id; this.renderSensorList(); this.drawChart(); },

  setRange(range) {
    this.range = range;
    document.querySelectorAll("#ranges button").forEach((b) => b.classList.toggle("active", b.dataset.range === range));
    this.drawChart();
  },

  async drawChart() {
    const sensor = this.layout.sensors.find((s) => s.id === this.selected);
    if (!sensor) return;
    document.getElementById("chart-title").textContent = `${sensor.name} (${sensor.unit})`;
    document.getElementById("chart").setAttribute("aria-label", `${I18N.t("chart_label")}: ${sensor.name}`);
    const end = new Date(), start = new Date(end - RANGES[this.range] * 3600e3);
    const params = new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), max_points: "600" });
    const data = await API.get(`/api/sensors/${encodeURIComponent(sensor.id)}/readings?${params}`);
    Chart.draw(document.getElementById("chart"), sensor, data);
    Chart.legend(document.getElementById("chart-legend"), sensor.kind);
  },

  drawMap() {
    const status = { cameras: {}, sensors: {}, levels: {} };
    this.layout.cameras.forEach((c) => { status.cameras[c.id] = this.cameraState(c.id); });
    this.layout.sensors.forEach((s) => {
      const current = this.sensors[s.id] || {};
      status.sensors[s.id] = current.status || "unknown";
      const band = Chart.bandOf(s.kind, current.last ? current.last.value : null);
      status.levels[s.id] = band ? band.color : null;
    });
    MapView.draw(document.getElementById("map"), this.layout, status);
  },

  // From the map: a camera opens live, alone on the wall; a sensor opens its chart.
  watch(cameraId) { Tabs.show("wall"); Wall.focus(cameraId); },

  openSensor(sensorId) { Tabs.show("sensors"); this.select(sensorId); },

  // From an alert: the map flies to its sensor or camera (or its site).
  showOnMap(alert) {
    Tabs.show("map");
    const subject = alert.subject || (alert.labels || {}).subject;
    if (!MapView.flyTo(subject)) MapView.flyTo(alert.site);
  },

  searchEvents() {
    const names = Object.fromEntries(this.layout.cameras.map((c) => [c.id, c.name]));
    Events.search(names).catch((e) => console.warn("event search failed", e.message));
  },

  rerender() {
    if (!this.layout) return;
    this.renderCameraStatus();
    this.renderSensorList();
    Alerts.render();
    Events.render();
    ConfigBanner.render();
    if (this.selected) this.drawChart();
    if (Tabs.isShown("map")) this.drawMap();
    if (Tabs.isShown("overview")) Overview.render();
    this.clock();
  },
};

App.boot();
