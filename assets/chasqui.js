/* Clientside helpers (no network). */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  chasqui: {
    /* Apply the theme to <html data-bs-theme> so Bootstrap restyles the page. */
    applyTheme: function (dark) {
      const theme = dark ? "dark" : "light";
      document.documentElement.setAttribute("data-bs-theme", theme);
      return theme;
    },
    /* Restore the switch from the stored theme on load. */
    restoreTheme: function (ts, stored, current) {
      const dark = stored === "dark";
      document.documentElement.setAttribute("data-bs-theme", dark ? "dark" : "light");
      if (Boolean(current) === dark) { return window.dash_clientside.no_update; }
      return dark;
    },
    /* Reload the page after the language cookie changed. */
    reload: function (lang) {
      if (lang) { window.location.reload(); }
      return "";
    },
    /* Write a page's state into the URL query string without reloading or re-rendering. */
    syncQuery: function (params) {
      if (!params || typeof params !== "object") { return window.dash_clientside.no_update; }
      const q = new URLSearchParams();
      Object.keys(params).sort().forEach(function (k) {
        const v = params[k];
        if (v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) { return; }
        q.set(k, Array.isArray(v) ? v.join(",") : String(v));
      });
      const s = q.toString();
      const url = window.location.pathname + (s ? "?" + s : "");
      if (url !== window.location.pathname + window.location.search) {
        window.history.replaceState(window.history.state, "", url);
      }
      return s;
    }
  }
});
