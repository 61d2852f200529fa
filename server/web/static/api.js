"use strict";
// Fetch helpers: the session cookie is sent automatically; a 401 shows the login form again.
const API = {
  async call(method, path, body) {
    const init = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    const response = await fetch(path, init);
    if (response.status === 401 && !path.startsWith("/api/auth/login")) document.dispatchEvent(new CustomEvent("ioc:logged-out"));
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
      if (Array.isArray(detail)) detail = detail.map((item) => item.msg || JSON.stringify(item)).join("; ");
      const error = new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
      error.status = response.status;
      throw error;
    }
    return response.status === 204 ? null : response.json();
  },
  get(path) { return this.call("GET", path); },
  post(path, body) { return this.call("POST", path, body === undefined ? {} : body); },
};
