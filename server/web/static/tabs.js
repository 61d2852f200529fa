"use strict";
// The tab registry: every view is a `<button role="tab" data-tab="NAME">` in #tabs and a
// `<section id="panel-NAME" role="tabpanel">`; a module that owns a view registers what to do when
// it is shown: `Tabs.register("incidents", () => Incidents.show())`. Arrow keys move between tabs.
const Tabs = {
  handlers: {},
  current: "wall",

  register(name, onShow) { this.handlers[name] = onShow; },

  buttons() { return [...document.querySelectorAll("#tabs [role=tab]")]; },

  bind() {
    this.buttons().forEach((button) => {
      const panel = document.getElementById(`panel-${button.dataset.tab}`);
      button.id = button.id || `tab-${button.dataset.tab}`;
      button.setAttribute("aria-controls", panel.id);
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", button.id);
      button.addEventListener("click", () => this.show(button.dataset.tab));
      button.addEventListener("keydown", (e) => this.key(e, button));
    });
    this.mark(this.current);
  },

  key(event, button) {
    const all = this.buttons(), index = all.indexOf(button);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    let next = null;
    if (step) next = all[(index + step + all.length) % all.length];
    if (event.key === "Home") next = all[0];
    if (event.key === "End") next = all[all.length - 1];
    if (!next) return;
    event.preventDefault();
    next.focus();
    this.show(next.dataset.tab);
  },

  mark(name) {
    this.buttons().forEach((b) => {
      const selected = b.dataset.tab === name;
      b.classList.toggle("active", selected);
      b.setAttribute("aria-selected", String(selected));
      b.tabIndex = selected ? 0 : -1;
    });
    document.querySelectorAll("[role=tabpanel]").forEach((p) => {
      const shown = p.id === `panel-${name}`;
      p.classList.toggle("active", shown);
      p.hidden = !shown;
    });
  },

  show(name) {
    this.current = name;
    this.mark(name);
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
    const handler = this.handlers[name];
    if (handler) handler();
  },

  isShown(name) { return this.current === name; },
};
window.Tabs = Tabs;
