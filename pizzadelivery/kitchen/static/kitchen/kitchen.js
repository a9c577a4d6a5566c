/* The kitchen screen's small client: htmx and its ws extension swap the fragments; this file
   ages the cards every few seconds, flashes (and, when switched on, chimes for) new orders,
   keeps a menu panel open across swaps, opens the cancel dialog, shows the connection and
   resyncs over HTTP after a reconnect (and polls every 5 s while sockets do not work). */
(function () {
  "use strict";
  var root = document.getElementById("kitchen");
  if (!root || !window.htmx) return;

  // The page's words, translated by the template (data-t-* on the root); "%s" takes a value.
  function t(key, value) {
    var text = root.dataset["t" + key] || "";
    return value === undefined ? text : text.replace("%s", value);
  }
  var AGING = 5, LATE = 10;  // minutes, as kitchen/fragments.py
  var POLL_MS = 5000;
  var known = {};            // order ids already on screen
  var openMenus = {};        // menu panels the cook opened
  var soundOn = localStorage.getItem("kt-sound") === "on";
  var audio = null;
  var pollTimer = null, socketOpen = false;

  htmx.config.wsReconnectDelay = function (retry) {
    return Math.min(5000, 500 * Math.pow(2, retry)) * (0.5 + Math.random() / 2);
  };

  function cards() { return root.querySelectorAll(".kt-card"); }

  function age() {
    var now = Date.now();
    cards().forEach(function (card) {
      var since = Date.parse(card.dataset.since);
      var label = card.querySelector(".kt-age");
      if (isNaN(since) || !label) return;
      var minutes = Math.max(0, Math.floor((now - since) / 60000));
      label.textContent = minutes + " min";
      label.setAttribute("aria-label", "waiting " + minutes + " minutes");
      if (card.classList.contains("tone-waiting")) return;
      card.classList.remove("tone-fresh", "tone-aging", "tone-late");
      card.classList.add(minutes >= LATE ? "tone-late" : minutes >= AGING ? "tone-aging" : "tone-fresh");
    });
  }

  function chime() {
    if (!soundOn) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.18].forEach(function (delay) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880; osc.connect(gain); gain.connect(audio.destination);
        gain.gain.setValueAtTime(0.2, audio.currentTime + delay);
        gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + delay + 0.15);
        osc.start(audio.currentTime + delay); osc.stop(audio.currentTime + delay + 0.16);
      });
    } catch (error) { /* no audio here: the flash still shows */ }
  }

  function noticeNew(first) {
    var fresh = false;
    cards().forEach(function (card) {
      var id = card.dataset.order;
      if (!known[id] && !first) {
        card.classList.add("is-new");
        if (card.dataset.column === "placed") fresh = true;
      }
      known[id] = true;
    });
    if (fresh) chime();
  }

  function restoreMenus() {
    root.querySelectorAll(".kt-menu").forEach(function (menu) {
      if (openMenus[menu.id]) menu.open = true;
      menu.addEventListener("toggle", function () { openMenus[menu.id] = menu.open; });
    });
  }

  function setConn(state, text) {
    var el = document.getElementById("kt-conn");
    el.dataset.state = state;
    el.textContent = text;
  }

  function resync() {
    htmx.ajax("GET", root.dataset.liveUrl, { swap: "none", source: root });
  }

  function poll(on) {
    if (on && !pollTimer) pollTimer = setInterval(resync, POLL_MS);
    if (!on && pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }

  var sound = document.getElementById("kt-sound");
  function showSound() {
    sound.setAttribute("aria-pressed", soundOn ? "true" : "false");
    sound.textContent = soundOn ? t("SoundOn") : t("SoundOff");
  }
  sound.addEventListener("click", function () {
    soundOn = !soundOn;
    localStorage.setItem("kt-sound", soundOn ? "on" : "off");
    showSound();
    if (soundOn) chime();  // the tap itself lets the browser play it
  });
  showSound();

  var dialog = document.getElementById("kt-cancel-dialog");
  var cancelForm = document.getElementById("kt-cancel-form");
  root.addEventListener("click", function (event) {
    var link = event.target.closest("[data-cancel]");
    if (!link || !dialog.showModal) return;
    event.preventDefault();
    cancelForm.action = link.dataset.cancel;
    cancelForm.reset();
    dialog.querySelector('[data-fill="code"]').textContent = link.dataset.code;
    dialog.showModal();
  });
  dialog.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });
  cancelForm.addEventListener("submit", function (event) {
    event.preventDefault();
    htmx.ajax("POST", cancelForm.action, { source: cancelForm, swap: "none" }).then(function () { dialog.close(); });
  });

  document.body.addEventListener("htmx:wsOpen", function () {
    if (socketOpen === false && Object.keys(known).length) resync();  // back after a gap: catch up
    socketOpen = true; poll(false); setConn("live", t("Live"));
  });
  document.body.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    socketOpen = false;
    if (code >= 4000) { setConn("refused", t("Refused")); return; }
    setConn("polling", t("Polling"));
    poll(true);
  });
  document.body.addEventListener("htmx:afterSettle", function () { noticeNew(false); restoreMenus(); age(); });
  document.body.addEventListener("htmx:oobAfterSwap", function () { noticeNew(false); restoreMenus(); age(); });

  noticeNew(true);
  restoreMenus();
  age();
  setInterval(age, 15000);
})();
