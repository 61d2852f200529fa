"use strict";
// The video wall: layouts 1 / 4 / 9 / 16 / 1+5, camera groups per site, pages, a tour that cycles
// them, a tile double-clicked (or Enter) goes full screen. The choice is saved per user. Only the
// tiles shown hold a live session; the others are closed on the server.
const Wall = {
  LAYOUTS: { "1": { cols: 1, slots: 1 }, "4": { cols: 2, slots: 4 }, "9": { cols: 3, slots: 9 },
    "16": { cols: 4, slots: 16 }, "1+5": { cols: 3, slots: 6, big: true } },
  TOUR_MS: 15000,
  prefs: { layout: "9", group: "", page: 0 },
  layout: null, user: null, touring: null, timer: null,

  key() { return `ioc.wall.${this.user ? this.user.name : "anonymous"}`; },

  init(layout, user) {
    this.layout = layout;
    this.user = user;
    const saved = JSON.parse(localStorage.getItem(this.key()) || "{}");
    const count = layout.cameras.length;  // no saved choice: the smallest grid that shows every camera
    const fitting = count <= 1 ? "1" : count <= 4 ? "4" : count <= 9 ? "9" : "16";
    this.prefs = { layout: fitting, group: "", page: 0, ...saved };
    if (!this.LAYOUTS[this.prefs.layout]) this.prefs.layout = "9";
    const group = document.getElementById("wall-group");
    group.querySelectorAll("option:not(:first-child)").forEach((o) => o.remove());
    layout.sites.forEach((site) => {
      const option = document.createElement("option");
      option.value = site.id; option.textContent = site.name; group.appendChild(option);
    });
    group.value = this.prefs.group;
    if (!this.bound) this.bind();
    clearInterval(this.timer);
    this.timer = setInterval(() => Live.measureAll(), 1000);
    this.render();
  },

  bind() {
    this.bound = true;
    document.querySelectorAll("#wall-layouts button").forEach((b) => b.addEventListener("click", () => this.set({ layout: b.dataset.layout, page: 0 })));
    document.getElementById("wall-group").addEventListener("change", (e) => this.set({ group: e.target.value, page: 0 }));
    document.getElementById("wall-prev").addEventListener("click", () => this.turn(-1));
    document.getElementById("wall-next").addEventListener("click", () => this.turn(1));
    document.getElementById("wall-tour").addEventListener("click", () => this.tour(!this.touring));
    document.addEventListener("visibilitychange", () => {
      // A hidden console watches nothing: its viewers are closed on the server, and come back when seen.
      if (document.hidden) { Live.stopAll(); Overlay.stopAll(); } else if (this.layout) this.render();
    });
  },

  set(change) {
    Object.assign(this.prefs, change);
    localStorage.setItem(this.key(), JSON.stringify(this.prefs));
    this.render();
  },

  cameras() {
    return this.layout.cameras.filter((c) => !this.prefs.group || c.site === this.prefs.group);
  },

  pages() { return Math.max(1, Math.ceil(this.cameras().length / this.LAYOUTS[this.prefs.layout].slots)); },

  turn(step) {
    const pages = this.pages();
    this.set({ page: (this.prefs.page + step + pages) % pages });
  },

  tour(on) {
    clearInterval(this.touring);
    this.touring = on ? setInterval(() => this.advance(), this.TOUR_MS) : null;
    const button = document.getElementById("wall-tour");
    button.setAttribute("aria-pressed", String(Boolean(on)));
    button.classList.toggle("active", Boolean(on));
  },

  // The tour: the next page of the group; after its last page, the next site's group (when one is chosen).
  advance() {
    if (this.prefs.page + 1 < this.pages()) return this.turn(1);
    if (!this.prefs.group) return this.set({ page: 0 });
    const sites = this.layout.sites.map((s) => s.id).filter((id) => this.layout.cameras.some((c) => c.site === id));
    const next = sites[(sites.indexOf(this.prefs.group) + 1) % sites.length];
    document.getElementById("wall-group").value = next;
    return this.set({ group: next, page: 0 });
  },

  render() {
    const spec = this.LAYOUTS[this.prefs.layout];
    const cameras = this.cameras();
    this.prefs.page = Math.min(this.prefs.page, this.pages() - 1);
    const shown = cameras.slice(this.prefs.page * spec.slots, (this.prefs.page + 1) * spec.slots);
    const wall = document.getElementById("wall");
    Live.stopAll();
    Overlay.stopAll();
    wall.innerHTML = "";
    wall.dataset.layout = this.prefs.layout;
    wall.style.gridTemplateColumns = `repeat(${spec.cols}, minmax(0, 1fr))`;
    wall.style.gridTemplateRows = `repeat(${spec.big ? 3 : Math.ceil(spec.slots / spec.cols)}, minmax(0, 1fr))`;
    const sites = Object.fromEntries(this.layout.sites.map((s) => [s.id, s.name]));
    shown.forEach((camera, index) => {
      const tile = Live.tile(camera, sites[camera.site]);
      if (spec.big && index === 0) tile.classList.add("big");
      tile.addEventListener("dblclick", () => this.fullscreen(tile));
      tile.addEventListener("keydown", (e) => { if (e.key === "Enter") this.fullscreen(tile); });
      wall.appendChild(tile);
      Overlay.attach(tile, camera);
    });
    if (!shown.length) {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = I18N.t("no_cameras");
      wall.appendChild(empty);
    }
    document.querySelectorAll("#wall-layouts button").forEach((b) => {
      b.classList.toggle("active", b.dataset.layout === this.prefs.layout);
      b.setAttribute("aria-pressed", String(b.dataset.layout === this.prefs.layout));
    });
    document.getElementById("wall-page").textContent = `${this.prefs.page + 1} / ${this.pages()}`;
    document.dispatchEvent(new CustomEvent("ioc:wall"));
  },

  // One camera alone (from the map), without changing the saved choice.
  focus(cameraId) {
    const index = this.layout.cameras.findIndex((c) => c.id === cameraId);
    if (index < 0) return;
    this.prefs = { ...this.prefs, layout: "1", group: "", page: index };
    document.getElementById("wall-group").value = "";
    this.render();
  },

  fullscreen(tile) {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else tile.requestFullscreen().catch(() => tile.classList.toggle("zoomed"));
  },
};
window.Wall = Wall;
