"use strict";
// The streams.yaml banner: shown while the running server refused the last edit (it keeps the old
// config); lists every `file:line: key.path: message` line; gone once a valid edit is loaded.
const ConfigBanner = {
  POLL_MS: 2000,
  error: null,
  errorAt: null,

  async poll() {
    try {
      const status = await API.get("/api/config/status");
      this.error = status.error || null;
      this.errorAt = status.error_at || null;
    } catch (_) { return; /* keep what is shown until the server answers again */ }
    this.render();
  },

  render() {
    const banner = document.getElementById("config-error");
    if (!this.error) {
      banner.classList.add("hidden");
      banner.querySelector(".lines").textContent = "";
      return;
    }
    banner.querySelector(".title").textContent = `${I18N.t("config_refused")} (${I18N.time(this.errorAt)})`;
    banner.querySelector(".lines").textContent = this.error;
    banner.classList.remove("hidden");
  },

  clear() { this.error = null; this.render(); },
};
window.ConfigBanner = ConfigBanner;
