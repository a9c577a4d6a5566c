// The dashboard's little client side: "updated N s ago", the connection indicator, and
// keeping the live feed short and free of rows that arrived twice (push and poll can race).
(function () {
  "use strict";
  var FEED_MAX = 60;
  var STALE_S = 15, VERY_STALE_S = 30;
  var socketOpen = false, refused = false;
  var skewMs = 0;  // server clock minus this browser's, from the poll's Date header

  // The page's words, translated by the template (data-t-* on #dash); "%s" takes a value.
  function t(key, value) {
    var root = document.getElementById("dash");
    var text = (root && root.dataset["t" + key]) || "";
    return value === undefined ? text : text.replace("%s", value);
  }

  function setConnection(state, text) {
    var el = document.getElementById("dash-conn");
    if (!el) return;
    el.className = "conn conn-" + state;
    el.setAttribute("data-state", state);
    el.querySelector(".conn-text").textContent = text;
  }

  function tick() {
    var el = document.getElementById("dash-updated");
    if (!el) return;
    var at = Date.parse(el.getAttribute("datetime"));
    if (isNaN(at)) return;
    var seconds = Math.max(0, Math.round((Date.now() + skewMs - at) / 1000));
    el.textContent = seconds < 2 ? t("UpdatedJustNow") : t("UpdatedAgo", seconds);
    el.classList.toggle("is-stale", seconds >= STALE_S && seconds < VERY_STALE_S);
    el.classList.toggle("is-very-stale", seconds >= VERY_STALE_S);
  }

  function tidyFeed() {
    var list = document.getElementById("feed-list");
    if (!list) return;
    var seen = {};
    Array.prototype.slice.call(list.children).forEach(function (row, index) {
      if (seen[row.id] || index >= FEED_MAX) { row.remove(); return; }
      seen[row.id] = true;
    });
  }

  function showSocket() {
    if (refused) setConnection("refused", t("Refused"));
    else if (socketOpen) setConnection("live", t("Live"));
    else setConnection("polling", t("Polling"));
  }

  document.addEventListener("htmx:wsConnecting", function () {
    if (!socketOpen) setConnection("connecting", t("Connecting"));
  });
  document.addEventListener("htmx:wsOpen", function () { socketOpen = true; refused = false; showSocket(); });
  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    socketOpen = false;
    refused = code >= 4000;  // 4001/4003: htmx will not retry, and neither should we
    showSocket();
  });
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    // Flag rows that arrive after the page loaded, so the eye catches them.
    var fragment = event.detail.fragment;
    if (event.detail.target && event.detail.target.id === "feed-list" && fragment && fragment.querySelectorAll) {
      fragment.querySelectorAll(".feed-item").forEach(function (row) {
        if (!document.getElementById(row.id)) row.classList.add("is-new");
      });
    }
  });
  document.addEventListener("htmx:wsAfterMessage", function () { tidyFeed(); tick(); });
  // A batch's detail closes here, not in an hx-on attribute: the page's CSP allows no eval.
  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest(".batch-close");
    if (close) close.closest("#batch-detail").innerHTML = "";
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var poll = document.getElementById("dash-poll");
    if (!poll || event.detail.elt !== poll) return;
    var date = event.detail.xhr && Date.parse(event.detail.xhr.getResponseHeader("Date") || "");
    if (date) skewMs = date - Date.now();  // whole seconds: enough for "N s ago"
    tidyFeed();
    tick();
    if (!event.detail.successful) setConnection("offline", t("Offline"));
    else showSocket();
  });
  setInterval(tick, 1000);
  tick();

  // --- the order panel and the keyboard -------------------------------------------------------
  var panel = document.getElementById("order-panel");

  function openOrderId() {
    var section = panel && panel.querySelector("[data-order-id]");
    return section ? section.getAttribute("data-order-id") : null;
  }

  function closePanel() {
    var id = openOrderId();
    if (!id) return;
    panel.innerHTML = "";
    history.pushState({}, "", panel.dataset.dashboardUrl);
    var back = document.querySelector('.order-link[data-order-id="' + id + '"]');
    if (back) back.focus();
  }

  function orderLinks() {
    var seen = {};
    return Array.prototype.filter.call(document.querySelectorAll("#dash .order-link"), function (link) {
      if (panel.contains(link) || seen[link.dataset.orderId]) return false;
      seen[link.dataset.orderId] = true;
      return link.offsetParent !== null;  // visible
    });
  }

  function step(by) {
    var links = orderLinks();
    if (!links.length) return;
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? (by > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + by));
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "Escape") { closePanel(); return; }
    if (typing) return;
    if (event.key === "j") { step(1); event.preventDefault(); }
    else if (event.key === "k") { step(-1); event.preventDefault(); }
    else if (event.key === "d") {
      var dispatch = panel.querySelector('[data-action="dispatch"] button[type="submit"]');
      if (dispatch) { dispatch.click(); event.preventDefault(); }
    }
  });

  panel.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-panel]")) { event.preventDefault(); closePanel(); }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === panel) {
      var section = panel.querySelector("[data-order-id]");
      if (section && !panel.contains(document.activeElement)) {
        section.focus({ preventScroll: true });
        section.scrollIntoView({ block: "nearest" });
      }
    }
  });
  window.addEventListener("popstate", function () {
    if (!/\/orders\//.test(location.pathname)) panel.innerHTML = "";
  });
  // What other dashboards did shows here too: the open order's panel and the auto-dispatch switch.
  document.addEventListener("htmx:wsAfterMessage", function (event) {
    var message = String(event.detail.message || "");
    var id = openOrderId();
    var editing = panel.contains(document.activeElement) && document.activeElement.matches("input, textarea, select");
    if (id && message.indexOf('data-order-id="' + id + '"') >= 0 && !editing) {
      htmx.ajax("GET", "/dashboard/orders/" + id + "/", { target: panel, swap: "innerHTML" });
    }
    if (message.indexOf('data-type="fleet.auto_dispatch_changed"') >= 0) {
      htmx.ajax("GET", panel.dataset.fleetUrl, { target: "#auto-dispatch", swap: "outerHTML" });
    }
  });
})();
