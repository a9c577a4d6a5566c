/* Checkout's "Use my location": the Geolocation API fills the form's hidden lat/lng (the server
   checks them); the point shows on a Leaflet map with a draggable pin when map tiles are
   configured, else in words. Re-initialised whenever htmx swaps the checkout form in. */
(function () {
  "use strict";
  // The words come from the template (data-text-*), translated there.
  function fixed(value) { return Number(value).toFixed(5); }

  function setup(box) {
    if (box.dataset.ready) return;
    box.dataset.ready = "1";
    var form = box.closest("form");
    var lat = form.querySelector("input[name=lat]");
    var lng = form.querySelector("input[name=lng]");
    var locate = box.querySelector("[data-locate]");
    var clear = box.querySelector("[data-locate-clear]");
    var status = box.querySelector("[data-locate-status]");
    var mapBox = box.querySelector("[data-locate-map]");
    var map = null, pin = null;
    var tiles = box.dataset.tiles;
    var text = box.dataset;

    function show(latitude, longitude) {
      lat.value = fixed(latitude);
      lng.value = fixed(longitude);
      status.textContent = text.textChosen + " " + lat.value + ", " + lng.value;
      clear.hidden = false;
      if (!tiles || !window.L) return;
      mapBox.hidden = false;
      if (!map) {
        map = L.map(mapBox, { scrollWheelZoom: false }).setView([latitude, longitude], 16);
        L.tileLayer(tiles, { attribution: box.dataset.attribution, maxZoom: 19 }).addTo(map);
        pin = L.marker([latitude, longitude], {
          draggable: true, keyboard: true, title: mapBox.getAttribute("aria-label"),
          icon: L.divIcon({ className: "pd-pin pd-pin--home", iconSize: [22, 22] })
        }).addTo(map);
        pin.on("dragend", function () {
          var at = pin.getLatLng();
          show(at.lat, at.lng);
        });
      } else {
        pin.setLatLng([latitude, longitude]);
        map.panTo([latitude, longitude]);
      }
    }

    if (lat.value && lng.value) show(Number(lat.value), Number(lng.value));
    if (!("geolocation" in navigator)) return;
    locate.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = text.textLocating;
      navigator.geolocation.getCurrentPosition(function (position) {
        show(position.coords.latitude, position.coords.longitude);
      }, function (error) {
        status.textContent = error.code === 1 ? text.textDenied : text.textUnavailable;
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
    clear.addEventListener("click", function () {
      lat.value = lng.value = "";
      status.textContent = "";
      clear.hidden = true;
      mapBox.hidden = true;
    });
  }

  function scan(root) {
    var boxes = (root.querySelectorAll ? root : document).querySelectorAll("[data-checkout-location]");
    for (var i = 0; i < boxes.length; i++) setup(boxes[i]);
    if (root.matches && root.matches("[data-checkout-location]")) setup(root);
  }

  if (window.htmx) htmx.onLoad(scan);
  else document.addEventListener("DOMContentLoaded", function () { scan(document); });
})();
