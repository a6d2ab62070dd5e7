// cairn web UI: refreshes the page in place from the /api/ endpoints.
// No framework and no build step: the server renders every page, and
// this script only updates values and rebuilds tables.
(function () {
  "use strict";
  var INTERVAL = 2000;
  var page = document.body.dataset.page;

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function bytes(n) {
    if (n < 1024 && n > -1024) return n + " B";
    var units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], u = -1;
    while (Math.abs(n) >= 1024 && u < units.length - 1) { n /= 1024; u++; }
    return n.toFixed(1) + " " + units[u];
  }
  function age(s) {
    if (s < 10) return s.toFixed(1) + "s";
    if (s < 120) return s.toFixed(0) + "s";
    if (s < 7200) return (s / 60).toFixed(0) + "m";
    if (s < 172800) return (s / 3600).toFixed(0) + "h";
    return (s / 86400).toFixed(0) + "d";
  }
  function time(t) {
    if (!t || t.indexOf("0001-01-01") === 0) return "never";
    var d = new Date(t), p = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
      p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  function qs(name) { return new URLSearchParams(location.search).get(name) || "/"; }
  function pathURL(p) { return "/browse?path=" + encodeURIComponent(p); }

  // fill updates every [data-field] element from obj, formatting by
  // data-fmt.
  function fill(obj) {
    document.querySelectorAll("[data-field]").forEach(function (el) {
      var v = obj[el.dataset.field];
      if (v === undefined) return;
      switch (el.dataset.fmt) {
        case "bytes": el.textContent = bytes(v); break;
        case "age": el.textContent = age(v); break;
        case "time": el.textContent = time(v); break;
        case "pct": el.textContent = v.toFixed(1) + "%"; break;
        case "bar": el.style.width = Math.min(100, v).toFixed(1) + "%"; break;
        case "warn": el.textContent = v; el.classList.toggle("warn", v > 0); break;
        case "bad": el.textContent = v; el.classList.toggle("bad", v > 0); break;
        case "open": el.textContent = v ? "being written" : "closed"; break;
        case "safemode":
          el.textContent = v ? "safe mode" : "writable";
          el.className = "badge " + (v ? "bad" : "good"); break;
        case "raft":
          el.textContent = v; el.className = "badge " + (v === "Leader" ? "good" : "warn"); break;
        case "registered":
          el.textContent = v; el.className = "badge " + (v === "registered" ? "good" : "warn"); break;
        default: el.textContent = v;
      }
      if (el.dataset.field === "safeModeReason") {
        el.hidden = !obj.safeMode;
      }
    });
  }

  // The DataNodes table sorts by the column clicked; the choice
  // survives refreshes.
  var sortKey = "id", sortDir = 1, lastNodes = null;
  function sortNodes(nodes) {
    return nodes.slice().sort(function (a, b) {
      var x = a[sortKey], y = b[sortKey];
      if (Array.isArray(x)) { x = x.length; y = y.length; }
      if (x < y) return -sortDir;
      if (x > y) return sortDir;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
  }
  function renderNodes(nodes) {
    lastNodes = nodes;
    var tb = document.querySelector("#datanodes tbody");
    if (!nodes.length) {
      tb.innerHTML = '<tr class="empty"><td colspan="9">No DataNode has registered yet.</td></tr>';
    } else {
      tb.innerHTML = sortNodes(nodes).map(function (d) {
        var id = d.httpAddr ? '<a href="//' + esc(d.httpAddr) + '/">' + esc(d.id) + "</a>" : esc(d.id);
        return '<tr class="state-' + esc(d.state) + '" data-id="' + esc(d.id) + '">' +
          '<td class="mono id" title="' + esc(d.id) + '">' + id + "</td>" +
          '<td class="mono">' + esc(d.addr) + "</td>" +
          '<td><span class="pill ' + esc(d.state) + '">' + esc(d.state) + "</span></td>" +
          '<td class="num">' + age(d.heartbeatAgeSeconds) + " ago</td>" +
          '<td class="num">' + bytes(d.capacityBytes) + "</td>" +
          '<td class="num">' + bytes(d.usedBytes) + "</td>" +
          '<td class="num">' + bytes(d.remainingBytes) + "</td>" +
          '<td class="num">' + d.blocks + "</td>" +
          '<td class="num">' + (d.failedVolumes || []).length + "</td></tr>";
      }).join("");
    }
    document.getElementById("dn-count").textContent = nodes.length + " known";
    document.querySelectorAll("#datanodes th").forEach(function (th) {
      th.classList.toggle("asc", th.dataset.key === sortKey && sortDir > 0);
      th.classList.toggle("desc", th.dataset.key === sortKey && sortDir < 0);
    });
  }
  function setupSort() {
    document.querySelectorAll("#datanodes th[data-key]").forEach(function (th) {
      th.tabIndex = 0;
      var go = function () {
        if (sortKey === th.dataset.key) sortDir = -sortDir; else { sortKey = th.dataset.key; sortDir = 1; }
        if (lastNodes) renderNodes(lastNodes);
      };
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
    });
  }

  function renderListing(l) {
    var tb = document.querySelector("#listing tbody");
    if (!l.entries.length) {
      tb.innerHTML = '<tr class="empty"><td colspan="7">This directory is empty.</td></tr>';
    } else {
      tb.innerHTML = l.entries.map(function (e) {
        return '<tr class="' + (e.isDir ? "dir" : "file") + '">' +
          '<td><a href="' + pathURL(e.path) + '">' + esc(e.name) + (e.isDir ? "/" : "") + "</a>" +
          (e.underConstruction ? ' <span class="pill stale">open</span>' : "") + "</td>" +
          '<td class="num">' + (e.isDir ? e.children + (e.children === 1 ? " entry" : " entries") : bytes(e.size)) + "</td>" +
          '<td class="num">' + (e.isDir ? "–" : e.replication) + "</td>" +
          "<td>" + esc(e.owner) + "</td><td>" + esc(e.group) + "</td>" +
          '<td class="mono">' + esc(e.mode) + "</td>" +
          "<td>" + time(e.modTime) + "</td></tr>";
      }).join("");
    }
    document.getElementById("truncated").hidden = !l.truncated;
    document.getElementById("entry-count").textContent = l.entries.length + (l.entries.length === 1 ? " entry" : " entries");
  }

  function renderFile(f) {
    fill(f);
    var tb = document.querySelector("#blocks tbody");
    if (!f.blocks.length) {
      tb.innerHTML = '<tr class="empty"><td colspan="5">This file has no blocks.</td></tr>';
      return;
    }
    tb.innerHTML = f.blocks.map(function (b, i) {
      var locs = b.locations.length ? b.locations.map(function (l) {
        var a = l.httpAddr ? '<a href="//' + esc(l.httpAddr) + '/">' + esc(l.addr) + "</a>" : esc(l.addr);
        return '<span class="loc mono">' + a + "</span>";
      }).join(" ") : '<span class="pill dead">no live replica</span>';
      return '<tr><td class="num">' + i + '</td><td class="mono">blk_' + b.id + "_" + b.genStamp + "</td>" +
        '<td class="num">' + bytes(b.offset) + '</td><td class="num">' + bytes(b.length) + "</td>" +
        "<td>" + locs + "</td></tr>";
    }).join("");
  }

  // renderGroup rebuilds the NameNode group's table of the overview.
  function renderGroup(g) {
    var tb = document.querySelector("#group tbody");
    if (!g || !tb) return;
    document.querySelector('[data-group="leader"]').textContent = g.leader || "none known";
    document.querySelector('[data-group="term"]').textContent = g.term;
    tb.innerHTML = g.members.map(function (m) {
      var addr = m.httpAddr ? '<a href="//' + esc(m.httpAddr) + '/">' + esc(m.address) + "</a>" : esc(m.address);
      var known = m.state !== "unreachable";
      var contact = m.state === "leader" || m.lastContactMs < 0 ? "–" :
        (m.lastContactMs < 1000 ? m.lastContactMs + "ms" : age(m.lastContactMs / 1000)) + " ago";
      return '<tr class="state-' + esc(m.state) + '" data-member="' + esc(m.address) + '">' +
        '<td class="mono">' + addr + (m.address === g.self ? " (this)" : "") + "</td>" +
        '<td><span class="pill ' + esc(m.state) + '">' + esc(m.state) + "</span></td>" +
        "<td>" + (m.voter ? "yes" : "no") + "</td>" +
        '<td class="num">' + (known ? m.lastIndex : "–") + "</td>" +
        '<td class="num">' + (known ? m.appliedIndex : "–") + "</td>" +
        '<td class="num">' + (m.lag < 0 ? "–" : m.lag) + "</td>" +
        '<td class="num">' + contact + "</td></tr>";
    }).join("");
  }

  function renderStatus(s) {
    fill(s);
    document.querySelector("#volumes tbody").innerHTML = s.volumes.map(function (v) {
      var used = v.capacityBytes > 0 ? 100 * (v.capacityBytes - v.remainingBytes) / v.capacityBytes : 0;
      return '<tr class="' + (v.failed ? "state-dead" : "") + '"><td class="mono">' + esc(v.dir) + "</td>" +
        "<td>" + (v.failed ? '<span class="pill dead">failed</span>' : '<span class="pill live">healthy</span>') + "</td>" +
        '<td class="num">' + bytes(v.capacityBytes) + '</td><td class="num">' + bytes(v.remainingBytes) + "</td>" +
        '<td><div class="bar small"><div class="fill" style="width: ' + used.toFixed(1) + '%"></div></div></td></tr>';
    }).join("");
  }

  var views = {
    overview: { api: function () { return "/api/overview"; }, update: function (o) {
      o.usedPercent = o.capacityBytes > 0 ? 100 * o.usedBytes / o.capacityBytes : 0;
      fill(o);
      renderGroup(o.group);
    } },
    datanodes: { api: function () { return "/api/datanodes"; }, update: function (r) { renderNodes(r.datanodes); } },
    browse: { api: function () { return "/api/list?path=" + encodeURIComponent(qs("path")); }, update: renderListing },
    file: { api: function () { return "/api/file?path=" + encodeURIComponent(qs("path")); }, update: renderFile },
    datanode: { api: function () { return "/api/status"; }, update: renderStatus }
  };
  var view = views[page];
  if (!view) return;
  if (page === "datanodes") setupSort();

  var indicator = document.getElementById("refresh");
  function refresh() {
    fetch(view.api(), { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (data) {
      view.update(data);
      indicator.textContent = "live";
      indicator.className = "refresh";
      document.body.dataset.updated = String(Date.now());
    }).catch(function () {
      indicator.textContent = "offline";
      indicator.className = "refresh offline";
    }).finally(function () {
      setTimeout(refresh, INTERVAL);
    });
  }
  refresh();
})();
