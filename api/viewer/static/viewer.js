/* gaitlake viewer: the sessions list and one session's page. Plain JS + SVG, no dependencies.
   Data: GET /app/api/sessions and /app/api/sessions/{id} (docs/viewer.md). */
(function () {
  "use strict";

  var SVGNS = "http://www.w3.org/2000/svg";
  var body = document.body;
  var system = localStorage.getItem("gaitlake.units") === "imperial" ? "imperial" : "metric";
  var unitListeners = [];

  // -- DOM helpers (text is always set as text, never parsed as HTML) ---------------------------
  function h(tag, attrs) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function s(tag, attrs) {
    var el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function setAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    });
  }
  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { location.href = "/app/?next=" + encodeURIComponent(location.pathname); throw new Error("signed out"); }
      return r.json().then(function (doc) { if (!r.ok) throw new Error(doc.error || ("HTTP " + r.status)); return doc; });
    });
  }

  // -- units ------------------------------------------------------------------------------
  function mmss(minutes) {
    var total = Math.round(minutes * 60), m = Math.floor(total / 60), sec = total % 60;
    return m + ":" + (sec < 10 ? "0" : "") + sec;
  }
  var UNITS = {
    cadence: { metric: [1, "spm", 0], imperial: [1, "spm", 0] },
    time: { metric: [1000, "ms", 0], imperial: [1000, "ms", 0] },
    ratio: { metric: [1, "", 2], imperial: [1, "", 2] },
    length: { metric: [1, "m", 2], imperial: [3.28084, "ft", 2] },
    short_length: { metric: [100, "cm", 1], imperial: [39.3701, "in", 1] },
    speed: { metric: [1, "m/s", 2], imperial: [2.236936, "mph", 2] },
    pace: { metric: [1, "min/km", 2], imperial: [1.609344, "min/mi", 2] },
    power: { metric: [1, "W", 0], imperial: [1, "W", 0] },
    power_per_kg: { metric: [1, "W/kg", 1], imperial: [1 / 2.204623, "W/lb", 2] },
    percent: { metric: [1, "%", 1], imperial: [1, "%", 1] },
    angle: { metric: [1, "°", 1], imperial: [1, "°", 1] },
    duration: { metric: [1, "s", 1], imperial: [1, "s", 1] }
  };
  function conv(v, unit) { var u = UNITS[unit]; return u && v !== null && v !== undefined ? v * u[system][0] : v; }
  function unitLabel(unit) { var u = UNITS[unit]; return u ? u[system][1] : ""; }
  function fmt(v, unit) {
    if (v === null || v === undefined) return "—";
    if (unit === "text") return String(v);
    var u = UNITS[unit];
    if (!u) return String(v);
    var x = v * u[system][0];
    if (unit === "pace") return mmss(x) + (system === "metric" ? " /km" : " /mi");
    var label = u[system][1];
    return x.toFixed(u[system][2]) + (label === "°" || label === "%" ? label : label ? " " + label : "");
  }
  /* A normal range "160–180 spm" (both ends in the unit system shown, the unit once). */
  function fmtRange(lo, hi, unit) {
    var u = UNITS[unit];
    if (!u || unit === "pace") return fmt(lo, unit) + " – " + fmt(hi, unit);
    var label = u[system][1], digits = u[system][2];
    return (lo * u[system][0]).toFixed(digits) + "–" + (hi * u[system][0]).toFixed(digits) +
      (label === "°" || label === "%" ? label : label ? " " + label : "");
  }
  /* The catalogue's reference range of a card or chart: "normal 160–180 spm", with where the value sits. */
  function referenceText(ref, unit) {
    return "normal " + fmtRange(ref.low, ref.high, unit) + (ref.position ? " · " + ref.position : "");
  }
  function setSystem(next) {
    system = next;
    localStorage.setItem("gaitlake.units", system);
    unitListeners.forEach(function (f) { f(); });
  }
  function unitToggle() {
    var btn = h("button", { type: "button", id: "units", class: "toggle", "aria-pressed": String(system === "imperial") });
    function label() { btn.textContent = system === "metric" ? "Units: metric" : "Units: imperial"; btn.setAttribute("aria-pressed", String(system === "imperial")); }
    btn.addEventListener("click", function () { setSystem(system === "metric" ? "imperial" : "metric"); });
    unitListeners.push(label);
    label();
    return btn;
  }
  function pretty(name) { return String(name).replace(/_/g, " ").replace(/^./, function (c) { return c.toUpperCase(); }); }
  function dateText(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" }) + " " +
      d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  // -- nav ----------------------------------------------------------------------------------
  function renderNav() {
    var nav = document.getElementById("nav");
    if (!nav || !body.dataset.user) return;
    append(nav, [h("span", { class: "who", text: body.dataset.user }),
      h("form", { method: "post", action: "/app/sign-out", class: "inline" }, h("button", { type: "submit", class: "link", text: "Sign out" }))]);
  }

  // -- charts -------------------------------------------------------------------------------
  /* Time charts are drawn in a viewBox this wide (px of text stay legible on a phone); the plot spans L..W-R. */
  function chartWidth() { return window.innerWidth < 640 ? 420 : 800; }
  /* A time chart: series [{name, color, values, dash}], x = t (s). Returns {setCursor(t), update()}. */
  function timeChart(opts) {
    var W = chartWidth(), H = opts.height || 200, L = 52, R = 12, T = 22, B = 26;
    var root = s("svg", { viewBox: "0 0 " + W + " " + H, class: "chart", role: "img", "aria-label": opts.label, preserveAspectRatio: "xMidYMid meet" });
    var plot = s("g"), cursor = s("line", { class: "cursor", y1: T, y2: H - B, x1: L, x2: L });
    var hit = s("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "hit" });
    root.appendChild(plot); root.appendChild(cursor); root.appendChild(hit);
    var t = opts.t, t0 = t.length ? t[0] : 0, t1 = t.length ? t[t.length - 1] : 1;
    if (t1 <= t0) t1 = t0 + 1;
    function X(v) { return L + (v - t0) / (t1 - t0) * (W - L - R); }
    function update() {
      clear(plot);
      var series = opts.series(), band = opts.band ? opts.band() : null;
      var lo = Infinity, hi = -Infinity;
      series.forEach(function (sr) { sr.values.forEach(function (v) { if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
      // the normal range stays in view, so the chart shows where the runner sits against it
      if (band && isFinite(lo)) { lo = Math.min(lo, band.low); hi = Math.max(hi, band.high); }
      if (!isFinite(lo)) { lo = 0; hi = 1; }
      if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
      var pad = (hi - lo) * 0.08; lo -= pad; hi += pad;
      function Y(v) { return T + (hi - v) / (hi - lo) * (H - T - B); }
      for (var k = 0; k <= 4; k++) {
        var v = lo + (hi - lo) * k / 4, y = Y(v);
        plot.appendChild(s("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }));
        plot.appendChild(s("text", { x: L - 6, y: y + 4, class: "tick", "text-anchor": "end", text: Math.abs(hi - lo) < 5 ? v.toFixed(2) : v.toFixed(0) }));
      }
      var step = Math.max(0.5, Math.ceil((t1 - t0) / 8 * 2) / 2);
      for (var x = Math.ceil(t0 / step) * step; x <= t1 + 1e-9; x += step) {
        plot.appendChild(s("text", { x: X(x), y: H - 8, class: "tick", "text-anchor": "middle", text: x.toFixed(1) + " s" }));
      }
      if (band) {
        plot.appendChild(s("rect", { x: L, width: W - L - R, y: Y(band.high), height: Math.max(0, Y(band.low) - Y(band.high)),
          class: "ref-band" }, s("title", { text: band.title })));
      }
      plot.appendChild(s("text", { x: 4, y: 13, class: "axis", text: opts.yLabel ? opts.yLabel() : "" }));
      series.forEach(function (sr) {
        var d = "", pen = false;
        for (var i = 0; i < t.length; i++) {
          var val = sr.values[i];
          if (val === null || val === undefined || !isFinite(val)) { pen = false; continue; }
          d += (pen ? "L" : "M") + X(t[i]).toFixed(1) + " " + Y(val).toFixed(1);
          pen = true;
        }
        plot.appendChild(s("path", { d: d, class: "line", stroke: sr.color, "stroke-dasharray": sr.dash || null }));
      });
    }
    hit.addEventListener("click", function (ev) {
      var box = root.getBoundingClientRect();
      var x = (ev.clientX - box.left) / box.width * W;
      var time = t0 + (x - L) / (W - L - R) * (t1 - t0);
      opts.onSeek(Math.max(t0, Math.min(t1, time)));
    });
    update();
    return {
      el: root, update: update,
      setCursor: function (time) { var x = X(Math.max(t0, Math.min(t1, time))); cursor.setAttribute("x1", x); cursor.setAttribute("x2", x); }
    };
  }

  /* The contact timeline: one row per side, a bar while the foot is on the ground. */
  function contactStrip(t, contact, onSeek) {
    var W = chartWidth(), H = 46, L = 52, R = 12;
    var root = s("svg", { viewBox: "0 0 " + W + " " + H, class: "strip", role: "img", "aria-label": "Contact timeline" });
    var t0 = t.length ? t[0] : 0, t1 = t.length ? t[t.length - 1] : 1;
    if (t1 <= t0) t1 = t0 + 1;
    function X(v) { return L + (v - t0) / (t1 - t0) * (W - L - R); }
    [["left", 4, "L"], ["right", 25, "R"]].forEach(function (row) {
      var runs = contact[row[0]] || [];   // [[start_s, end_s], ...]
      root.appendChild(s("text", { x: L - 8, y: row[1] + 13, class: "tick", "text-anchor": "end", text: row[2] }));
      root.appendChild(s("rect", { x: L, y: row[1], width: W - L - R, height: 17, class: "track" }));
      runs.forEach(function (run) {
        var a = Math.max(t0, run[0]), b = Math.min(t1, run[1]);
        if (b > a) root.appendChild(s("rect", { x: X(a), y: row[1], width: Math.max(1, X(b) - X(a)), height: 17, class: "contact " + row[0] }));
      });
    });
    var cursor = s("line", { class: "cursor", x1: L, x2: L, y1: 0, y2: H });
    root.appendChild(cursor);
    var hit = s("rect", { x: L, y: 0, width: W - L - R, height: H, class: "hit" });
    root.appendChild(hit);
    hit.addEventListener("click", function (ev) {
      var box = root.getBoundingClientRect();
      onSeek(Math.max(t0, Math.min(t1, t0 + ((ev.clientX - box.left) / box.width * W - L) / (W - L - R) * (t1 - t0))));
    });
    return { el: root, setCursor: function (time) { var x = X(Math.max(t0, Math.min(t1, time))); cursor.setAttribute("x1", x); cursor.setAttribute("x2", x); } };
  }

  /* Mean ± SD over the normalised stride (0..100 %), both sides, phase markers. */
  function strideChart(title, curves, phases) {
    var W = 320, H = 170, L = 36, R = 16, T = 18, B = 22;
    var root = s("svg", { viewBox: "0 0 " + W + " " + H, class: "chart small", role: "img", "aria-label": title + " over the stride" });
    var lo = Infinity, hi = -Infinity;
    curves.forEach(function (c) {
      c.mean.forEach(function (m, i) { var sd = c.sd[i] || 0; if (m !== null) { lo = Math.min(lo, m - sd); hi = Math.max(hi, m + sd); } });
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-6) { lo -= 1; hi += 1; }
    function X(p) { return L + p / 100 * (W - L - R); }
    function Y(v) { return T + (hi - v) / (hi - lo) * (H - T - B); }
    root.appendChild(s("text", { x: L, y: 12, class: "axis", text: title + " (°)" }));
    [lo, (lo + hi) / 2, hi].forEach(function (v) {
      root.appendChild(s("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }));
      root.appendChild(s("text", { x: L - 4, y: Y(v) + 4, class: "tick", "text-anchor": "end", text: v.toFixed(0) }));
    });
    [0, 50, 100].forEach(function (p) { root.appendChild(s("text", { x: X(p), y: H - 6, class: "tick", "text-anchor": "middle", text: p + "%" })); });
    (phases || []).forEach(function (ph) {
      root.appendChild(s("line", { x1: X(ph.graph_phase), x2: X(ph.graph_phase), y1: T, y2: H - B, class: "phase" }));
    });
    curves.forEach(function (c) {
      var n = c.mean.length, up = "", down = "", d = "";
      for (var i = 0; i < n; i++) {
        var p = i / (n - 1) * 100, m = c.mean[i], sd = c.sd[i] || 0;
        if (m === null) continue;
        d += (d ? "L" : "M") + X(p).toFixed(1) + " " + Y(m).toFixed(1);
        up += (up ? "L" : "M") + X(p).toFixed(1) + " " + Y(m + sd).toFixed(1);
        down = "L" + X(p).toFixed(1) + " " + Y(m - sd).toFixed(1) + down;
      }
      root.appendChild(s("path", { d: up + down + "Z", class: "band", fill: c.color }));
      root.appendChild(s("path", { d: d, class: "line", stroke: c.color }));
    });
    return root;
  }

  /* A small trend over sessions: points at each session, the current one highlighted. */
  function trendChart(title, items, key, unit) {
    var W = 260, H = 130, L = 44, R = 10, T = 20, B = 18;
    var root = s("svg", { viewBox: "0 0 " + W + " " + H, class: "chart small trend", role: "img", "aria-label": title + " trend" });
    function draw() {
      clear(root);
      var pts = items.map(function (it, i) { return { i: i, v: conv(it[key], unit), cur: it.current }; }).filter(function (p) { return p.v !== null && p.v !== undefined; });
      root.appendChild(s("text", { x: 4, y: 13, class: "axis", text: title + (unitLabel(unit) ? " (" + unitLabel(unit) + ")" : "") }));
      if (!pts.length) { root.appendChild(s("text", { x: W / 2, y: H / 2, class: "tick", "text-anchor": "middle", text: "no data" })); return; }
      var lo = Math.min.apply(null, pts.map(function (p) { return p.v; })), hi = Math.max.apply(null, pts.map(function (p) { return p.v; }));
      if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
      var pad = (hi - lo) * 0.15; lo -= pad; hi += pad;
      var n = Math.max(1, items.length - 1);
      function X(i) { return items.length === 1 ? (L + W - R) / 2 : L + i / n * (W - L - R); }
      function Y(v) { return T + (hi - v) / (hi - lo) * (H - T - B); }
      [lo, hi].forEach(function (v) {
        root.appendChild(s("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }));
        root.appendChild(s("text", { x: L - 4, y: Y(v) + 4, class: "tick", "text-anchor": "end", text: Math.abs(hi - lo) < 5 ? v.toFixed(2) : v.toFixed(0) }));
      });
      root.appendChild(s("path", { d: pts.map(function (p, j) { return (j ? "L" : "M") + X(p.i).toFixed(1) + " " + Y(p.v).toFixed(1); }).join(""), class: "line", stroke: "#3b5bdb" }));
      pts.forEach(function (p) { root.appendChild(s("circle", { cx: X(p.i), cy: Y(p.v), r: p.cur ? 5 : 3, class: p.cur ? "dot current" : "dot" })); });
    }
    draw();
    unitListeners.push(draw);
    return root;
  }

  // -- pages ----------------------------------------------------------------------------------
  function sessionsPage() {
    var box = document.getElementById("sessions");
    getJSON("/app/api/sessions").then(function (doc) {
      clear(box);
      if (!doc.sessions.length) { append(box, h("p", { text: "No sessions yet." })); return; }
      var tbody = h("tbody");
      doc.sessions.forEach(function (it) {
        tbody.appendChild(h("tr", { class: "status-" + it.status },
          h("td", null, h("span", { class: "badge " + it.status, text: it.status, title: it.status === "damaged" ? it.error : null })),
          h("td", null, h("a", { href: "/app/sessions/" + encodeURIComponent(it.id), text: it.title })),
          h("td", { text: it.runner }),
          h("td", { text: dateText(it.date) }),
          h("td", { class: "num", text: fmt(it.cadence_spm, "cadence") }),
          h("td", { class: "num", text: fmt(it.contact_time_s, "time") })));
      });
      append(box, h("div", { class: "scroll" }, h("table", { class: "list" },
        h("thead", null, h("tr", null, ["Status", "Title", "Runner", "Date", "Cadence", "Contact"].map(function (c, i) { return h("th", { text: c, class: i > 3 ? "num" : null }); }))),
        tbody)));
    }).catch(function (e) { clear(box); append(box, h("p", { class: "error", text: e.message })); });
  }

  function sessionPage() {
    var id = body.dataset.sessionId, box = document.getElementById("session"), timer = null;
    function load() {
      getJSON("/app/api/sessions/" + encodeURIComponent(id)).then(function (doc) {
        if (doc.status === "done") { render(box, doc); return; }
        clear(box);
        var head = h("section", { class: "card state " + doc.status },
          h("h1", { text: doc.title }),
          h("p", { class: "meta", text: doc.runner.name + " · " + dateText(doc.date) }));
        if (doc.status === "failed" || doc.status === "damaged") {
          append(head, [h("p", { class: "state-line" }, h("span", { class: "badge " + doc.status, text: doc.status }),
            doc.status === "failed" ? " Processing failed." : " The stored results of this session are damaged."),
            h("p", { class: "reason", id: "reason", text: doc.error || "unknown reason" })]);
        } else {
          append(head, [h("p", { class: "state-line" }, h("span", { class: "badge " + doc.status, text: doc.status }),
            " This session is being processed; this page updates itself.")]);
          timer = setTimeout(load, (doc.refresh_s || 2) * 1000);
        }
        append(box, head);
      }).catch(function (e) { clear(box); append(box, h("p", { class: "card error", text: e.message })); });
    }
    load();
  }

  var ANGLE_GROUPS = [["knee", "kne"], ["hip", "hip"], ["ankle", "ank"], ["trunk", "posture"], ["elbow", "elb"], ["shoulder", "sho"]];
  var LEFT = "#2a6fdb", RIGHT = "#e8590c", CENTER = "#2b8a3e";

  function render(box, doc) {
    clear(box);
    var fps = doc.video.fps || 30, t = doc.series.time_s, charts = [];
    var video = h("video", { id: "video", preload: "auto", playsinline: true, muted: true, src: doc.video.url || null });
    video.muted = true;
    video.addEventListener("error", function () {
      if (document.getElementById("video-note")) return;
      video.insertAdjacentElement("afterend", h("p", { id: "video-note", class: "note", text: doc.video.analysed
        ? "This browser cannot play the analysed video; download it from the API (analyzed_video_url)."
        : "This browser cannot play the source video; the analysed video (H.264) appears here once it is rendered." }));
    });
    function seek(time) { video.currentTime = Math.max(0, time); sync(); }
    function sync() {
      var now = video.currentTime || 0;
      charts.forEach(function (c) { c.setCursor(now); });
      readout.textContent = "frame " + frameAt(now) + " · " + now.toFixed(2) + " s";
      playBtn.textContent = video.paused ? "▶ Play" : "❚❚ Pause";
      playBtn.setAttribute("aria-label", video.paused ? "Play" : "Pause");
    }
    function loop() { sync(); if (!video.paused) requestAnimationFrame(loop); }
    ["timeupdate", "seeked", "pause", "loadedmetadata"].forEach(function (e) { video.addEventListener(e, sync); });
    video.addEventListener("play", function () { requestAnimationFrame(loop); });
    function frameAt(time) { return Math.floor(time * fps + 1e-3); }
    function seekFrame(i) { seek((Math.max(0, i) + 0.5) / fps); }
    function step(n) { video.pause(); seekFrame(frameAt(video.currentTime || 0) + n); }
    var playBtn = h("button", { type: "button", id: "play", onclick: function () { if (video.paused) video.play(); else video.pause(); } }, "▶ Play");
    var rate = h("select", { id: "rate", "aria-label": "Playback rate", onchange: function () { video.playbackRate = parseFloat(rate.value); } },
      [0.1, 0.25, 0.5, 1, 1.5, 2].map(function (r) { return h("option", { value: r, selected: r === 1, text: r + "×" }); }));
    var readout = h("span", { class: "readout", id: "readout" });
    var strip = contactStrip(t, doc.series.contact, seek);
    charts.push(strip);

    // header
    var header = h("section", { class: "card head" },
      h("div", { class: "title-row" }, h("h1", { text: doc.title }), unitToggle()),
      h("p", { class: "meta", text: doc.runner.name + " · " + dateText(doc.date) + (doc.incline_deg ? " · incline " + doc.incline_deg + "°" : "") }));

    // video
    var videoCard = h("section", { class: "card videocard" },
      doc.video.url ? video : h("p", { class: "muted", text: "No video is stored for this session." }),
      h("div", { class: "controls" }, playBtn,
        h("button", { type: "button", id: "prev", title: "Previous frame", "aria-label": "Previous frame", onclick: function () { step(-1); } }, "◀︎ frame"),
        h("button", { type: "button", id: "next", title: "Next frame", "aria-label": "Next frame", onclick: function () { step(1); } }, "frame ▶︎"),
        h("label", null, "Speed ", rate), readout),
      h("div", { class: "strip-wrap" }, h("div", { class: "legend" }, h("span", { class: "key left" }, "left contact"), h("span", { class: "key right" }, "right contact")), strip.el),
      doc.video.analysed ? null : h("p", { class: "muted", text: "The analysed overlay is not rendered yet: showing the source video." }));

    // charts
    var angles = doc.series.angles, metrics = doc.series.metrics;
    var near = doc.near_leg === "left" || doc.near_leg === "right" ? doc.near_leg : null;
    var far = near ? (near === "left" ? "right" : "left") : null;
    var groups = ANGLE_GROUPS.filter(function (g) { return g[1] === "posture" ? angles.posture_angle : angles["l" + g[1] + "_angle"] || angles["r" + g[1] + "_angle"]; });
    var angleSel = h("select", { id: "angle-select", "aria-label": "Joint" }, groups.map(function (g) { return h("option", { value: g[1], text: pretty(g[0]) }); }));
    var angleChart = timeChart({
      t: t, label: "Joint angles over time", onSeek: seek, yLabel: function () { return "degrees"; },
      series: function () {
        var g = angleSel.value || "kne";
        if (g === "posture") return [{ name: "trunk", color: CENTER, values: angles.posture_angle || [] }];
        // the far leg is drawn dashed, as its points are less reliable (doc.near_leg)
        return [{ name: "left", color: LEFT, values: angles["l" + g + "_angle"] || [], dash: far === "left" ? "6 4" : null },
                { name: "right", color: RIGHT, values: angles["r" + g + "_angle"] || [], dash: far === "right" ? "6 4" : null }];
      }
    });
    angleChart.el.id = "angle-chart";
    angleSel.addEventListener("change", function () { angleChart.update(); sync(); });
    charts.push(angleChart);
    var metricKeys = Object.keys(metrics).filter(function (k) { return metrics[k].some(function (v) { return v !== null; }); });
    var metricSel = h("select", { id: "metric-select", "aria-label": "Metric" }, metricKeys.map(function (k) { return h("option", { value: k, selected: k === "cadence", text: pretty(k) }); }));
    var references = doc.series.references || {};
    var seriesUnits = doc.series.units || {};  // the catalogue's unit kind per series (view.series_units)
    var metricRef = h("span", { class: "ref-key", id: "metric-reference" });
    /* The selected series' normal range (the catalogue's, where one holds at this speed) as a band. */
    function metricBand() {
      var k = metricSel.value, unit = seriesUnits[k], ref = references[k];
      metricRef.textContent = ref ? "shaded: normal " + fmtRange(ref.low, ref.high, unit) + " (" + ref.source + ")" : "";
      if (!ref) return null;
      return { low: conv(ref.low, unit), high: conv(ref.high, unit), title: "normal " + fmtRange(ref.low, ref.high, unit) + ": " + ref.source + "; " + ref.conditions };
    }
    var metricChart = timeChart({
      t: t, label: "Metric over time", onSeek: seek, height: 170, band: metricBand,
      yLabel: function () { return unitLabel(seriesUnits[metricSel.value]); },
      series: function () {
        var k = metricSel.value, unit = seriesUnits[k];
        return [{ name: k, color: "#5f3dc4", values: (metrics[k] || []).map(function (v) { return conv(v, unit); }) }];
      }
    });
    metricChart.el.id = "metric-chart";
    metricSel.addEventListener("change", function () { metricChart.update(); sync(); });
    unitListeners.push(function () { metricChart.update(); sync(); });
    charts.push(metricChart);
    var chartCard = h("section", { class: "card charts" },
      h("div", { class: "chart-head" }, h("h2", { text: "Joint angles" }), angleSel,
        h("span", { class: "legend" }, h("span", { class: "key left" }, near ? "left (" + (near === "left" ? "near" : "far") + ")" : "left"),
          h("span", { class: "key right" }, near ? "right (" + (near === "right" ? "near" : "far") + ")" : "right"))),
      angleChart.el,
      h("p", { class: "muted", id: "angle-note", text: (far ? "Dashed: the " + far + " leg, farther from the camera and partly hidden, so less reliable. " : "")
        + "Gaps: frames whose keypoints were unreliable are left out, not drawn." }),
      h("div", { class: "chart-head" }, h("h2", { text: "Metrics" }), metricSel, metricRef), metricChart.el,
      h("p", { class: "hint", text: "Click a chart to move the video there." }));

    // cards and notes
    var notes = doc.notes || [];
    var cardGrid = h("div", { class: "cards", id: "cards" });
    function drawCards() {
      clear(cardGrid);
      doc.cards.forEach(function (c) {
        var el = h("div", { class: "metric" + (c.value === null ? " missing" : ""), "data-key": c.key },
          h("div", { class: "label", text: c.label }),
          h("div", { class: "value", text: c.value === null ? "not measured" : fmt(c.value, c.unit) }),
          c.range && c.unit !== "text" ? h("div", { class: "range", text: "strides " + fmt(c.range[0], c.unit) + " – " + fmt(c.range[1], c.unit) }) : null,
          c.detail ? h("div", { class: "range detail", text: c.detail }) : null,
          c.reference ? h("div", { class: "reference " + (c.reference.position || ""), title: c.reference.conditions, text: referenceText(c.reference, c.unit) }) : null,
          c.reference ? h("div", { class: "ref-source", text: c.reference.source }) : null,
          c.resolution ? h("div", { class: "resolution", text: c.resolution }) : null,
          // a card points at its notes; each note's full text is written once, in the list below
          c.notes.length ? h("div", { class: "note-refs" }, c.notes.map(function (i) {
            return h("a", { class: "note-ref " + notes[i].kind, href: "#note-" + (i + 1), text: "⚠ note " + (i + 1) });
          })) : null);
        cardGrid.appendChild(el);
      });
    }
    drawCards();
    unitListeners.push(drawCards);
    var labelOf = {};
    doc.cards.forEach(function (c) { labelOf[c.key] = c.label; });
    var cardsCard = h("section", { class: "card metrics" }, h("h2", { text: "Metrics" }), cardGrid,
      notes.length ? h("div", { class: "notes" }, h("h3", { text: "Quality notes" }), h("ol", null, notes.map(function (n, i) {
        var applies = n.applies_to.map(function (k) { return labelOf[k]; }).filter(Boolean);
        return h("li", { class: "note " + n.kind, id: "note-" + (i + 1) }, h("span", { class: "text", text: n.text }),
          applies.length ? h("span", { class: "applies", text: " Applies to: " + applies.join(", ") + "." }) : null);
      }))) : null);

    // gait phases
    var gaitCard = h("section", { class: "card gait" }, h("h2", { text: "Gait phases" }));
    ["left", "right"].forEach(function (side) {
      var g = doc.gait[side];
      if (!g || !g.phases.length) { append(gaitCard, h("p", { class: "muted", text: pretty(side) + ": too few strides for a phase report." })); return; }
      var shots = h("div", { class: "phases" }, g.phases.map(function (ph) {
        return h("figure", { class: "phase", tabindex: 0, role: "button", "aria-label": pretty(side) + " " + pretty(ph.name) + ": show in the video",
          onclick: function () { video.pause(); seekFrame(ph.frame); }, onkeydown: function (e) { if (e.key === "Enter") { video.pause(); seekFrame(ph.frame); } } },
          ph.image_url ? h("img", { src: ph.image_url, alt: pretty(side) + " " + pretty(ph.name) }) : h("div", { class: "noimg", text: "no snapshot" }),
          h("figcaption", { text: pretty(ph.name) + " · " + (ph.time_s !== null ? ph.time_s.toFixed(2) + " s" : "") }));
      }));
      var keys = Object.keys(g.curves);
      var order = ["posture_angle", side[0] + "hip_angle", side[0] + "kne_angle", side[0] + "ank_angle", side[0] + "sho_angle", side[0] + "elb_angle"];
      var curves = h("div", { class: "curves" }, order.filter(function (k) { return keys.indexOf(k) >= 0; }).map(function (k) {
        var name = k === "posture_angle" ? "Trunk" : pretty({ hip: "hip", kne: "knee", ank: "ankle", sho: "shoulder", elb: "elbow" }[k.slice(1, 4)]);
        return strideChart(name, [{ mean: g.curves[k].mean, sd: g.curves[k].sd, color: side === "left" ? LEFT : RIGHT }], g.phases);
      }));
      append(gaitCard, h("div", { class: "side " + side },
        h("h3", { text: pretty(side) + " side" + (g.stride_ms ? " · median stride " + Math.round(g.stride_ms) + " ms" : "") }), shots,
        h("p", { class: "hint", text: "Angle curves over the stride: mean ± SD across strides; grey lines mark the phases." }), curves));
    });

    // commentary
    var kinds = [["summary", "Summary"], ["form", "Form"], ["recommendation", "Gait recommendations"]];
    var commentCard = h("section", { class: "card commentary", id: "commentary" }, h("h2", { text: "Commentary" }));
    var commentBox = h("div");
    function drawComments() {
      clear(commentBox);
      kinds.forEach(function (k) {
        var items = doc.commentary[k[0]] || [];
        append(commentBox, h("details", { class: "kind", open: k[0] === "summary", "data-kind": k[0] },
          h("summary", { text: k[1] + " (" + items.length + ")" }),
          items.map(function (it) {
            return h("div", { class: "comment" }, h("h4", null, pretty(it.block), h("span", { class: "src", text: it.saved ? "saved thread" : "rule engine" })),
              h("p", { text: it[system] }));
          })));
      });
    }
    drawComments();
    unitListeners.push(drawComments);
    append(commentCard, commentBox);

    // history
    var hist = doc.history || [];
    var histCard = h("section", { class: "card history" }, h("h2", { text: "Runner's sessions" }),
      hist.length > 1 ? h("div", { class: "trends" }, trendChart("Cadence", hist, "cadence_spm", "cadence"), trendChart("Contact time", hist, "contact_time_s", "time"),
        trendChart("Speed", hist, "speed_mps", "speed")) : h("p", { class: "muted", id: "no-trend", text: "No earlier processed session of this runner yet: the trends of cadence, contact time and speed start with the second." }),
      h("ol", { class: "hist", reversed: true }, hist.slice().reverse().map(function (it) {
        var label = dateText(it.date) + " · " + it.title;
        return h("li", { class: it.current ? "current" : "" }, it.current ? h("strong", { text: label + " (this session)" }) : h("a", { href: "/app/sessions/" + encodeURIComponent(it.id), text: label }));
      })));

    // downloads
    var dl = h("section", { class: "card downloads" }, h("h2", { text: "Downloads" }),
      h("ul", null, doc.downloads.map(function (d) { return h("li", null, h("a", { href: d.url, download: "", "data-name": d.name, text: d.label }), h("span", { class: "muted", text: " " + d.name })); })));

    // without a paid plan the server sends no metrics, phases or commentary (the API's plan gate): say so once
    var planCard = doc.plan_required ? h("section", { class: "card plan", id: "plan-required" }, h("h2", { text: "Metrics, gait phases and commentary" }),
      h("p", { class: "note", text: doc.plan_required })) : null;
    append(box, [header, h("div", { class: "layout" }, h("div", { class: "col main-col" }, videoCard, chartCard), h("div", { class: "col side-col" }, planCard || cardsCard, histCard)),
      planCard ? null : gaitCard, planCard ? null : commentCard, dl]);
    document.addEventListener("keydown", function (e) {
      if (e.target && /INPUT|SELECT|TEXTAREA|BUTTON/.test(e.target.tagName)) return;
      if (e.key === " ") { e.preventDefault(); if (video.paused) video.play(); else video.pause(); }
      if (e.key === "ArrowRight") step(1);
      if (e.key === "ArrowLeft") step(-1);
    });
    sync();
  }

  renderNav();
  if (body.dataset.page === "sessions") sessionsPage();
  if (body.dataset.page === "session") sessionPage();
  if (body.dataset.page === "signin") { var k = document.getElementById("api_key"); if (k) k.focus(); }
})();
