/* The tracker's small client. htmx and its ws extension do the swapping; this file only
   ticks the countdown and "updated N s ago" every second, shows the connection state,
   resyncs over HTTP after a reconnect or after a long quiet spell on an open socket, and
   polls every 5 s while sockets do not work. */
(function () {
  "use strict";
  var root = document.getElementById("tracker");
  if (!root || !window.htmx) return;

  var POLL_MS = 5000;
  var CLOSES_BEFORE_POLLING = 2;     // socket attempts that failed in a row before we poll
  var LATE_OPEN_RESYNC_MS = 3000;    // a first socket opening this late may have missed a push
  // Pushes are at most once: an open socket can miss some (Redis restarting under the channel
  // layer, a backlog published too late to push). After this long without a word, resync.
  var QUIET_RESYNC_MS = 15000;
  var TERMINAL = { delivered: true, cancelled: true };

  // The page's words, translated by the template (data-t-* on #tracker); "%s" takes a value.
  function t(key, value) {
    var text = root.dataset["t" + key] || "";
    return value === undefined ? text : text.replace("%s", value);
  }

  var conn = document.getElementById("trk-conn");
  var connLabel = conn.querySelector(".trk-conn-label");
  var countdown = document.getElementById("trk-countdown");
  var countdownValue = countdown.querySelector(".trk-countdown-value");
  var countdownLabel = countdown.querySelector(".trk-countdown-label");
  var updated = document.getElementById("trk-updated");
  var resync = document.getElementById("trk-resync");
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  var shownVersion = 0;   // data-version of the fragments on screen: older ones are dropped
  var skewMs = 0;         // server clock minus ours, so the countdown agrees with the server
  var opened = false;     // the socket was open at least once
  var failedCloses = 0;
  var pollTimer = null;
  var linkGone = false;
  var driverPinFrom = null;
  var lastHeard = Date.now();  // last push or resync answer on an open socket

  // A socket the server cannot take now (Redis down: closed 1013 right after it opens) is a
  // failed attempt, not a live socket: it counts as live only once it stayed open this long.
  var SETTLE_MS = 1000;
  var settleTimer = null;

  // Reconnect within seconds, not the extension's default back-off of up to a minute. The
  // extension restarts its count whenever a socket opens, so refusals that open and close at
  // once count here (failedCloses) to back off all the same.
  htmx.config.wsReconnectDelay = function (retry) {
    var attempts = Math.max(retry, failedCloses);
    return Math.min(5000, 500 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
  };

  function syncData() {
    var el = document.getElementById("trk-sync");
    return el ? el.dataset : {};
  }

  function versionIn(html) {
    var match = /data-version="(\d+)"/.exec(html || "");
    return match ? Number(match[1]) : null;
  }

  // Browser notifications: after the customer allows them, "arriving" and "delivered" pop up
  // while this tab is hidden (on screen, the page itself says so). Each at most once per page.
  var notify = document.getElementById("trk-notify");
  var notified = {};
  var lastMoment = null;

  function notifyLabel() {
    var permission = window.Notification.permission;
    var on = permission === "granted" && notify.dataset.enabled === "1";
    notify.textContent = permission === "denied" ? notify.dataset.labelBlocked
      : on ? notify.dataset.labelOn : notify.dataset.labelOff;
    notify.setAttribute("aria-pressed", on ? "true" : "false");
    notify.disabled = permission === "denied";
  }

  function momentOf(data) {
    if (data.status === "delivered") return "delivered";
    if (data.arriving === "1") return "arriving";
    return null;
  }

  function maybeNotify(data) {
    var moment = momentOf(data);
    var changed = moment !== lastMoment;
    lastMoment = moment;
    if (!notify || !moment || !changed || notified[moment]) return;
    if (notify.dataset.enabled !== "1" || window.Notification.permission !== "granted") return;
    if (document.visibilityState !== "hidden") return;
    notified[moment] = true;
    try {
      new window.Notification(notify.dataset["title" + moment.charAt(0).toUpperCase() + moment.slice(1)], {
        body: notify.dataset["body" + moment.charAt(0).toUpperCase() + moment.slice(1)],
        tag: notify.dataset.order + "-" + moment, icon: "/static/favicon.svg"
      });
    } catch (e) {
      // Some mobile browsers only notify from a service worker: the page still says it.
    }
  }

  if (notify && "Notification" in window) {
    notify.hidden = false;
    notify.dataset.enabled = window.Notification.permission === "granted" &&
      sessionStorage.getItem("trk-notify") === "1" ? "1" : "";
    notifyLabel();
    notify.addEventListener("click", function () {
      if (notify.dataset.enabled === "1") {  // a second press turns them off again
        notify.dataset.enabled = "";
        sessionStorage.removeItem("trk-notify");
        notifyLabel();
        return;
      }
      var asked = window.Notification.requestPermission(function () {});
      Promise.resolve(asked).then(function (permission) {
        permission = permission || window.Notification.permission;
        if (permission === "granted") {
          notify.dataset.enabled = "1";
          sessionStorage.setItem("trk-notify", "1");
        }
        notifyLabel();
      });
    });
  }

  function adoptSync() {
    var data = syncData();
    maybeNotify(data);
    shownVersion = Math.max(shownVersion, Number(data.version) || 0);
    var serverNow = Date.parse(data.serverNow);
    if (!isNaN(serverNow)) skewMs = serverNow - Date.now();
    if (data.title) document.title = data.title;  // the tab tells the stage too
    tick();
  }

  function minSec(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    var m = Math.floor(s / 60), rest = s % 60;
    return (m ? m + "m " : "") + (rest < 10 && m ? "0" : "") + rest + "s";
  }

  function ago(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 3) return t("JustNow");
    if (s < 60) return t("SecondsAgo", s);
    var m = Math.floor(s / 60);
    if (m < 60) return t("MinutesAgo", m);
    return t("HoursAgo", Math.floor(m / 60));
  }

  function tick() {
    var data = syncData();
    var now = Date.now() + skewMs;
    var eta = Date.parse(data.eta || "");
    if (isNaN(eta) || TERMINAL[data.status]) {
      countdown.hidden = true;
    } else {
      countdown.hidden = false;
      var left = eta - now;
      countdownValue.textContent = left > 0 ? minSec(left) : t("AnyMoment");
      countdownLabel.textContent = left > 0 ? t("ToGo") : "";
    }
    var changed = Date.parse(data.updatedAt || "");
    if (!isNaN(changed)) updated.textContent = t("Updated", ago(now - changed));
    if (conn.dataset.state === "connected" && !TERMINAL[data.status] && Date.now() - lastHeard > QUIET_RESYNC_MS) {
      lastHeard = Date.now();
      requestResync();
    }
  }

  function setConnection(state, label) {
    conn.dataset.state = state;
    connLabel.textContent = label;
  }

  function requestResync() {
    if (!linkGone) htmx.trigger(resync, "trk-resync");
  }

  function startPolling() {
    if (linkGone) return;
    setConnection("polling", t("Polling"));
    if (pollTimer) return;
    requestResync();
    pollTimer = setInterval(requestResync, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  root.addEventListener("htmx:wsOpen", function () {
    lastHeard = Date.now();
    var late = opened || performance.now() > LATE_OPEN_RESYNC_MS;
    settleTimer = setTimeout(function () {
      settleTimer = null;
      failedCloses = 0;
      stopPolling();
      setConnection("connected", t("Live"));
      // After a gap (a reconnect, or a slow first connect) fetch what the pushes missed.
      if (late) requestResync();
      opened = true;
    }, SETTLE_MS);
  });

  root.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail.event.code;
    if (settleTimer) {  // closed before it settled: a failed attempt (1013: try again later)
      clearTimeout(settleTimer);
      settleTimer = null;
    }
    if (code >= 4000) {
      // Refused (4001 bad or expired link, 4003 origin, 4004 no such order): the extension
      // will not retry; polling keeps the page current or finds out the link is gone.
      startPolling();
      return;
    }
    failedCloses += 1;
    if (failedCloses >= CLOSES_BEFORE_POLLING) startPolling();
    else setConnection("reconnecting", t("Reconnecting"));
  });

  // A push older than what is on screen (a slow resync raced it) is dropped, and vice versa.
  root.addEventListener("htmx:wsBeforeMessage", function (event) {
    lastHeard = Date.now();
    var version = versionIn(event.detail.message);
    if (version !== null && version < shownVersion) event.preventDefault();
  });
  resync.addEventListener("htmx:beforeSwap", function (event) {
    lastHeard = Date.now();
    var version = versionIn(event.detail.serverResponse);
    if (version !== null && version < shownVersion) event.detail.shouldSwap = false;
  });
  resync.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status === 404) {
      linkGone = true;
      stopPolling();
      setConnection("gone", t("Expired"));
    }
  });

  // The pin's position is an SVG attribute (no inline style: the page's CSP allows none); its
  // CSS form, for the animation between two positions, comes in data-translate.
  function pinTransform(pin) {
    return "translate(" + pin.dataset.translate + ")";
  }

  document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target.id === "trk-eta" && event.detail.fragment.textContent.trim() === target.textContent.trim()) {
      // Same words: leave the live region alone so screen readers do not hear it again.
      event.detail.shouldSwap = false;
    } else if (target.id === "trk-map") {
      var pin = document.getElementById("trk-driver-pin");
      driverPinFrom = pin ? pinTransform(pin) : null;
    }
  });

  document.body.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail.target;
    if (target.id === "trk-sync") adoptSync();
    if (target.id === "trk-map" && driverPinFrom && !reduceMotion) {
      var pin = document.getElementById("trk-driver-pin");
      if (pin && pin.animate && pinTransform(pin) !== driverPinFrom) {
        pin.animate([{ transform: driverPinFrom }, { transform: pinTransform(pin) }],
                    { duration: 900, easing: "ease-out" });
      }
      driverPinFrom = null;
    }
  });

  // Cancelling (while placed): the link opens a confirmation dialog instead of the page. A modal
  // <dialog> keeps the keyboard inside it, starts on "Keep my order" and closes on Escape.
  var cancelDialog = document.getElementById("trk-cancel-dialog");
  var cancelOpener = null;
  if (cancelDialog && cancelDialog.showModal) {
    document.addEventListener("click", function (event) {
      var opener = event.target.closest && event.target.closest("[data-cancel-open]");
      if (!opener) return;
      event.preventDefault();
      cancelOpener = opener;
      cancelDialog.showModal();
    });
    cancelDialog.querySelector("[data-cancel-close]").addEventListener("click", function () {
      cancelDialog.close();
    });
    cancelDialog.addEventListener("close", function () {
      if (cancelOpener && document.contains(cancelOpener)) cancelOpener.focus();
    });
  }

  if (!("WebSocket" in window)) startPolling();

  // "Copy link": the Clipboard API where the page may use it, else the link is selected for
  // the customer to copy.
  var copy = document.getElementById("trk-copy");
  var copyStatus = document.getElementById("trk-copy-status");
  if (copy) {
    copy.addEventListener("click", function () {
      var field = document.querySelector(copy.dataset.copy);
      function failed() { field.focus(); field.select(); copyStatus.textContent = copy.dataset.failed; }
      if (!navigator.clipboard || !window.isSecureContext) { failed(); return; }
      navigator.clipboard.writeText(field.value).then(function () {
        copyStatus.textContent = copy.dataset.copied;
      }, failed);
    });
  }
  adoptSync();
  setInterval(tick, 1000);
})();
