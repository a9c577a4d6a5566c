/* The driver app's client: while on shift it sends the phone's position (watchPosition) to
   POST /api/drivers/{id}/location, at most every few seconds and only when the phone moved;
   it shows the connection and resyncs over HTTP after a reconnect (polls while sockets fail).
   htmx and its ws extension do the swapping. */
(function () {
  "use strict";
  var root = document.getElementById("driver");
  if (!root || !window.htmx) return;

  // The page's words, translated by the template (data-t-* on the root); "%s" takes a value.
  function t(key, value) {
    var text = root.dataset["t" + key] || "";
    return value === undefined ? text : text.replace("%s", value);
  }
  var MIN_INTERVAL_MS = 5000;   // not more often than this
  var MIN_MOVE_M = 15;          // and only when it moved this far (or a minute passed)
  var HEARTBEAT_MS = 60000;
  var POLL_MS = 5000;
  var watchId = null, last = null, lastSent = 0, pollTimer = null, socketOpen = false;
  var pending = null, pendingTimer = null;  // the latest position, when it came too soon to send

  htmx.config.wsReconnectDelay = function (retry) {
    return Math.min(5000, 500 * Math.pow(2, retry)) * (0.5 + Math.random() / 2);
  };

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function shift() {
    var app = document.getElementById("driver-app");
    return app ? app.dataset.shift : "offline";
  }

  function say(state, text) {
    var el = document.getElementById("dr-location");
    el.dataset.state = state;
    el.textContent = text;
  }

  function metres(a, b) {
    var rad = Math.PI / 180, dLat = (b.lat - a.lat) * rad, dLng = (b.lng - a.lng) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
            Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) * Math.sin(dLng / 2);
    return 12742000 * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function send(position) {
    var c = position.coords, now = Date.now();
    var here = { lat: c.latitude, lng: c.longitude };
    if (last && metres(last, here) < MIN_MOVE_M && now - lastSent < HEARTBEAT_MS) return;
    if (now - lastSent < MIN_INTERVAL_MS) {
      // Too soon: keep the newest and send it once the interval is over (a phone standing at
      // a red light reports nothing new, so this one must not be dropped).
      pending = position;
      if (!pendingTimer) pendingTimer = setTimeout(function () {
        pendingTimer = null;
        var latest = pending;
        pending = null;
        if (latest && shift() !== "offline") send(latest);
      }, MIN_INTERVAL_MS - (now - lastSent));
      return;
    }
    var body = { lat: Math.round(here.lat * 1e6) / 1e6, lng: Math.round(here.lng * 1e6) / 1e6 };
    if (typeof c.heading === "number" && isFinite(c.heading) && c.heading >= 0 && c.heading < 360) body.heading = c.heading;
    if (typeof c.speed === "number" && isFinite(c.speed) && c.speed >= 0) body.speed_kmh = Math.min(250, c.speed * 3.6);
    lastSent = now;
    last = here;
    fetch(root.dataset.locationUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) say("sharing", t("Shared", new Date().toLocaleTimeString(document.documentElement.lang || [], { hour: "2-digit", minute: "2-digit", second: "2-digit" })));
      else say("error", t("NotAccepted", response.status));
    }).catch(function () { say("error", t("NotSent")); });
  }

  function track() {
    var on = shift() !== "offline";
    if (on && watchId === null) {
      if (!navigator.geolocation) { say("error", t("NoGeolocation")); return; }
      say("waiting", t("Finding"));
      watchId = navigator.geolocation.watchPosition(send, function (error) {
        say("error", error.code === 1 ? t("Blocked") : t("Unavailable"));
      }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 });
    } else if (!on && watchId !== null) {
      navigator.geolocation.clearWatch(watchId);
      watchId = null; last = null;
      say("idle", t("Idle"));
    }
  }

  function setConn(state, text) {
    var el = document.getElementById("dr-conn");
    el.dataset.state = state;
    el.textContent = text;
  }

  function resync() { htmx.ajax("GET", root.dataset.liveUrl, { swap: "none", source: root }); }

  function poll(on) {
    if (on && !pollTimer) pollTimer = setInterval(resync, POLL_MS);
    if (!on && pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }

  document.body.addEventListener("htmx:wsOpen", function () {
    if (!socketOpen) resync();
    socketOpen = true; poll(false); setConn("live", t("Live"));
  });
  document.body.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    socketOpen = false;
    if (code >= 4000) { setConn("refused", t("Refused")); return; }
    setConn("polling", t("Reconnecting"));
    poll(true);
  });
  document.body.addEventListener("htmx:oobAfterSwap", track);
  document.body.addEventListener("htmx:afterSettle", track);
  track();
})();
