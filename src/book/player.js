// ctrace's step-through player: walks a recorded trace phase by phase. Each player element
// (`.ctrace-player`) carries its steps as JSON (a <script type="application/json"> child, made
// by `ctrace book build` from the trace, with the host changes the simulator replayed from the
// trace's kernel events). No framework, no network: it works from file:// and offline.
(function () {
  "use strict";

  var SECTIONS = ["processes", "mounts", "cgroups", "network", "iptables"];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function setup(root) {
    var data = JSON.parse(root.querySelector("script[type='application/json']").textContent);
    var steps = data.steps;
    var t = data.labels;
    var total = data.total_ms || 1;
    var at = 0;

    root.setAttribute("tabindex", "0");
    root.setAttribute("role", "group");
    root.setAttribute("aria-roledescription", "trace player");
    root.setAttribute("aria-label", t.title);

    var bar = el("div", "ctp-controls");
    var prev = el("button", "ctp-prev", t.prev);
    prev.setAttribute("aria-label", "Previous");
    prev.type = "button";
    var next = el("button", "ctp-next", t.next);
    next.setAttribute("aria-label", "Next");
    next.type = "button";
    var count = el("span", "ctp-count");
    count.setAttribute("aria-live", "polite");
    bar.appendChild(prev);
    bar.appendChild(next);
    bar.appendChild(count);

    var head = el("div", "ctp-head");
    var phase = el("div", "ctp-phase");
    var meta = el("div", "ctp-meta");
    var lesson = el("div", "ctp-lesson");
    var docker = el("div", "ctp-docker");
    var note = el("div", "ctp-note");
    var events = el("div", "ctp-events");
    head.appendChild(phase);
    head.appendChild(meta);

    var timeline = el("div", "ctp-timeline");
    timeline.setAttribute("aria-label", t.timeline);
    var host = el("div", "ctp-host");

    var view = el("div", "ctp-view");
    view.appendChild(head);
    view.appendChild(lesson);
    view.appendChild(docker);
    view.appendChild(note);
    view.appendChild(events);
    var cols = el("div", "ctp-cols");
    var left = el("div", "ctp-col");
    left.appendChild(el("h4", null, t.timeline));
    left.appendChild(timeline);
    var right = el("div", "ctp-col");
    right.appendChild(el("h4", null, t.host));
    right.appendChild(host);
    cols.appendChild(left);
    cols.appendChild(right);
    view.appendChild(cols);

    root.appendChild(bar);
    root.appendChild(view);

    // The host state after step i: the replayed changes applied in order.
    function stateAt(i) {
      var state = {};
      SECTIONS.forEach(function (s) { state[s] = []; });
      for (var k = 0; k <= i; k++) {
        var st = steps[k];
        SECTIONS.forEach(function (s) {
          var del = (st.removed[s] || []);
          if (del.length) state[s] = state[s].filter(function (l) { return del.indexOf(l) < 0; });
          (st.added[s] || []).forEach(function (l) { state[s].push(l); });
        });
      }
      return state;
    }

    function render() {
      var s = steps[at];
      root.setAttribute("data-phase", s.name);
      root.setAttribute("data-step", String(at));
      count.textContent = (at + 1) + " / " + steps.length;
      prev.disabled = at === 0;
      next.disabled = at === steps.length - 1;
      phase.textContent = s.name;
      meta.textContent = s.process + " · " + t.at + " " + s.start_ms.toFixed(2) + " ms · " +
        s.duration_ms.toFixed(2) + " ms" + (s.status === "error" ? " · " + t.failed : "");
      lesson.textContent = s.summary || "";
      docker.textContent = s.docker ? (t.docker + ": " + s.docker) : "";
      note.textContent = s.note ? (t.note + ": " + s.note) : "";
      events.textContent = s.events.length ? (t.events + ": " + s.events.join(" · ")) : "";

      timeline.textContent = "";
      for (var k = 0; k <= at; k++) {
        var st = steps[k];
        var row = el("div", "ctp-row" + (k === at ? " ctp-current" : ""));
        var name = el("span", "ctp-name", st.name);
        var track = el("span", "ctp-track");
        var b = el("span", "ctp-bar");
        b.style.marginLeft = (100 * st.start_ms / total).toFixed(2) + "%";
        b.style.width = Math.max(0.5, 100 * st.duration_ms / total).toFixed(2) + "%";
        track.appendChild(b);
        row.appendChild(name);
        row.appendChild(track);
        timeline.appendChild(row);
      }

      var state = stateAt(at);
      host.textContent = "";
      var changed = false;
      SECTIONS.forEach(function (sec) {
        var added = s.added[sec] || [];
        var removed = s.removed[sec] || [];
        if (!state[sec].length && !removed.length) return;
        var box = el("div", "ctp-section");
        box.setAttribute("data-section", sec);
        box.appendChild(el("h5", null, t.sections[sec]));
        var pre = el("pre", "ctp-lines");
        state[sec].forEach(function (l) {
          var isNew = added.indexOf(l) >= 0;
          if (isNew) changed = true;
          pre.appendChild(el("div", isNew ? "ctp-added" : "ctp-line", (isNew ? "+ " : "  ") + l));
        });
        removed.forEach(function (l) {
          changed = true;
          pre.appendChild(el("div", "ctp-removed", "- " + l));
        });
        box.appendChild(pre);
        host.appendChild(box);
      });
      root.setAttribute("data-host-changed", changed ? "yes" : "no");
    }

    function go(d) {
      var n = Math.min(steps.length - 1, Math.max(0, at + d));
      if (n !== at) {
        at = n;
        render();
      }
    }

    prev.addEventListener("click", function () { go(-1); });
    next.addEventListener("click", function () { go(1); });
    // Arrow keys inside the player move through the trace (and not, as elsewhere in mdBook, to
    // the next chapter).
    root.addEventListener("keydown", function (e) {
      var handled = true;
      if (e.key === "ArrowRight" || e.key === "ArrowDown") go(1);
      else if (e.key === "ArrowLeft" || e.key === "ArrowUp") go(-1);
      else if (e.key === "Home") { at = 0; render(); }
      else if (e.key === "End") { at = steps.length - 1; render(); }
      else handled = false;
      if (handled) { e.preventDefault(); e.stopPropagation(); }
    });
    render();
  }

  function init() {
    var players = document.querySelectorAll(".ctrace-player");
    for (var i = 0; i < players.length; i++) setup(players[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
