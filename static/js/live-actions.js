/* Actions on a live page (the kitchen screen, the driver's app, the dispatcher's console) answer
   with out-of-band fragments, and the same change is pushed over the socket as it commits, so the
   push usually arrives first. Swapped in first, it would replace the part of the page holding the
   button while its request is still out, and htmx would then look for the answer's targets in
   the detached old copy, find none and drop the answer, its message with it. So pushes that
   arrive while an action is out are held, and swapped in after its answer. */
(function () {
  "use strict";
  var MAX_HOLD_MS = 10000;  // a request that never ends does not freeze the page
  var inFlight = 0, held = [], holdTimer = null;

  function isAction(event) {
    var config = event.detail && event.detail.requestConfig;
    return config && String(config.verb).toLowerCase() !== "get";
  }

  function release() {
    clearTimeout(holdTimer);
    holdTimer = null;
    inFlight = 0;
    held.splice(0).forEach(function (message) {
      window.htmx.swap(document.body, message, { swapStyle: "none" });
    });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!isAction(event)) return;
    inFlight += 1;
    clearTimeout(holdTimer);
    holdTimer = setTimeout(release, MAX_HOLD_MS);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!isAction(event)) return;
    inFlight = Math.max(0, inFlight - 1);
    if (!inFlight) setTimeout(release, 0);  // after htmx has swapped the answer
  });
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    if (!inFlight) return;
    held.push(event.detail.message);
    event.preventDefault();
  });
})();
