/* Routes on a Leaflet map over the configured tiles (MAP_TILES_URL): the pizzeria, the driver, the
   customer's door, the way driven and the way still to go. The server sends the points with
   every live update (the tracker's #trk-geo, the dashboard's delivery rows, as data-geo JSON);
   this only draws them: markers move, lines follow. Leaflet ships in static/vendor/leaflet. */
(function () {
  "use strict";
  if (!window.L) return;

  function icon(kind) {
    return L.divIcon({ className: "pd-pin pd-pin--" + kind, iconSize: [18, 18] });
  }

  function RouteMap(el) {
    this.el = el;
    this.map = L.map(el, { scrollWheelZoom: false });
    L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || "", maxZoom: 19 }).addTo(this.map);
    this.routes = {};
    this.shownKeys = "";
  }

  RouteMap.prototype.marker = function (route, name, kind, at, title) {
    if (!at) {
      if (route[name]) { this.map.removeLayer(route[name]); route[name] = null; }
      return;
    }
    if (route[name]) route[name].setLatLng(at);
    else route[name] = L.marker(at, { icon: icon(kind), title: title, alt: title, keyboard: false }).addTo(this.map);
  };

  RouteMap.prototype.line = function (route, name, cls, points) {
    if (route[name]) route[name].setLatLngs(points);
    else route[name] = L.polyline(points, { className: cls, interactive: false }).addTo(this.map);
  };

  /* routes: {key: {restaurant, destination, driver, travelled, remaining}} */
  RouteMap.prototype.draw = function (routes) {
    var self = this, bounds = [];
    Object.keys(self.routes).forEach(function (key) {
      if (routes[key]) return;
      var gone = self.routes[key];
      Object.keys(gone).forEach(function (name) { if (gone[name]) self.map.removeLayer(gone[name]); });
      delete self.routes[key];
    });
    Object.keys(routes).forEach(function (key) {
      var geo = routes[key], route = self.routes[key] || (self.routes[key] = {});
      self.line(route, "done", "pd-route pd-route--done", geo.travelled || []);
      self.line(route, "todo", "pd-route pd-route--todo", geo.remaining || []);
      self.marker(route, "shop", "shop", geo.restaurant, self.el.dataset.shopLabel || "Pizzeria");
      self.marker(route, "home", "home", geo.destination, self.el.dataset.homeLabel || "Destination");
      self.marker(route, "driver", "driver", geo.driver, self.el.dataset.driverLabel || "Driver");
      [geo.restaurant, geo.destination, geo.driver].forEach(function (p) { if (p) bounds.push(p); });
    });
    var keys = Object.keys(routes).sort().join(",");
    if (keys !== self.shownKeys && bounds.length) {  // a new set of routes: show them all
      self.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
      self.shownKeys = keys;
    } else if (!bounds.length && !self.shownKeys) {
      self.map.setView([Number(self.el.dataset.lat) || 52.52, Number(self.el.dataset.lng) || 13.405], 12);
    }
  };

  function parse(el) {
    try { return JSON.parse(el.dataset.geo); } catch (e) { return null; }
  }

  // The tracker: one route, from #trk-geo inside the live map fragment.
  var tracker = document.getElementById("trk-leaflet");
  if (tracker) {
    var one = new RouteMap(tracker);
    var drawTracker = function () {
      var geo = document.getElementById("trk-geo");
      var route = geo && parse(geo);
      if (route) one.draw({ order: route });
    };
    drawTracker();
    document.body.addEventListener("htmx:oobAfterSwap", function (event) {
      if (event.detail.target.id === "trk-map") drawTracker();
    });
    window.pdTrackerMap = one;
  }

  // The dashboard: every active delivery, from the rows of the live deliveries fragment.
  var fleet = document.getElementById("dash-leaflet");
  if (fleet) {
    var many = new RouteMap(fleet);
    var drawFleet = function () {
      var routes = {};
      var rows = document.querySelectorAll("[data-delivery-geo]");
      for (var i = 0; i < rows.length; i++) {
        var route = parse({ dataset: { geo: rows[i].dataset.deliveryGeo } });
        if (route) routes[rows[i].dataset.order] = route;
      }
      many.draw(routes);
    };
    drawFleet();
    document.body.addEventListener("htmx:afterSettle", drawFleet);
    document.body.addEventListener("htmx:oobAfterSwap", drawFleet);
    window.pdFleetMap = many;
  }
})();
