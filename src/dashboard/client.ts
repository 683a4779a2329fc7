/**
 * The dashboard page's script: plain browser JavaScript (no build step, no framework), inlined
 * into the page under a CSP nonce. It subscribes to `/api/events` (EventSource) and redraws
 * from each `status` snapshot; `coord` events go to the event log. Every string from the run
 * reaches the DOM through `textContent` or `setAttribute`, never as markup.
 */
export const CLIENT_SCRIPT = String.raw`(function () {
  'use strict';
  var token = new URLSearchParams(location.search).get('token') || '';
  var query = '?token=' + encodeURIComponent(token);
  var MAX_LOG = 5000;
  var status = null;
  var streamRows = new Map();
  var queue = [];
  var total = 0;
  var flushing = false;

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { if (attrs[k] != null) e.setAttribute(k, String(attrs[k])); });
    if (text != null) e.textContent = String(text);
    return e;
  }
  function td(content) {
    var cell = h('td');
    if (content instanceof Node) cell.append(content); else cell.textContent = content == null ? '-' : String(content);
    return cell;
  }
  function pad(n, w) { var s = String(n); while (s.length < (w || 2)) s = '0' + s; return s; }
  function at(t) { return t ? Date.parse(t) : NaN; }
  function dur(ms) {
    if (!(ms >= 0)) return '-';
    if (ms < 1000) return Math.round(ms) + 'ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + 's';
    var s = Math.round(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + 'm' + pad(s % 60) + 's';
    return Math.floor(s / 3600) + 'h' + pad(Math.floor((s % 3600) / 60)) + 'm';
  }
  function clock(t, millis) {
    var d = new Date(t);
    if (isNaN(d.getTime())) return '-';
    var s = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    return millis ? s + '.' + pad(d.getMilliseconds(), 3) : s;
  }
  function badge(state, note) {
    var b = h('span', { 'class': 'badge', 'data-state': state }, state);
    if (!note) return b;
    var wrap = h('span');
    wrap.append(b, h('span', { 'class': 'note' }, ' ' + note));
    return wrap;
  }
  function fill(tbody, items, columns, make) {
    tbody.replaceChildren();
    if (items.length === 0) {
      var tr = h('tr', { 'class': 'none' });
      tr.append(h('td', { colspan: columns }, 'none'));
      tbody.append(tr);
      return;
    }
    items.forEach(function (x) { tbody.append(make(x)); });
  }
  function row(attrs, cells) {
    var tr = h('tr', attrs);
    cells.forEach(function (c) { tr.append(td(c)); });
    return tr;
  }
  /** A verify: point's checks, one line each (what it checked, its search round, how it ended), and who was left out. */
  function checks(p) {
    var all = p.checks || [];
    if (all.length === 0) return '-';
    var ul = h('ul', { 'class': 'plain checks' });
    all.forEach(function (c) {
      var what = c.streams.length ? c.streams.join(', ') : 'the base alone';
      var li = h('li', { 'data-check': c.check, 'data-outcome': c.outcome }, '#' + c.check + (c.round > 0 ? ' (round ' + c.round + ')' : '') + ' ' + what + ': ');
      li.append(badge(c.outcome, c.tries > 1 ? c.tries + ' tries' : ''));
      ul.append(li);
    });
    if (p.excluded && p.excluded.length) ul.append(h('li', { 'class': 'excluded' }, 'left out: ' + p.excluded.join(', ') + ' (the check fails with ' + (p.excluded.length > 1 ? 'their' : 'its') + ' changes)'));
    return ul;
  }

  function list(items) {
    if (items.length === 0) return 'none';
    var ul = h('ul', { 'class': 'plain' });
    items.forEach(function (x) { ul.append(h('li', null, x)); });
    return ul;
  }

  function renderRun(now) {
    var r = status.run;
    $('run').setAttribute('data-state', r.state);
    $('run-name').textContent = r.name;
    $('run-id').textContent = r.id;
    $('run-state').replaceChildren(badge(r.state));
    $('run-plan').textContent = r.plan;
    $('run-started').textContent = clock(r.startedAt);
    $('run-elapsed').textContent = dur((r.endedAt ? at(r.endedAt) : now) - at(r.startedAt));
    document.title = 'coord ' + r.id + ' — ' + r.state;
  }

  function makeStreamRow(id) {
    var tr = h('tr', { 'data-stream': id });
    var th = h('th', { scope: 'row' }, id);
    var r = { tr: tr, state: h('td'), attempt: h('td', { 'class': 'num' }), beat: h('td'), progress: h('td'), bar: h('div', { 'class': 'bar' }) };
    var lane = h('div', { 'class': 'lane' });
    lane.append(r.bar);
    var tl = h('td', { 'class': 'timeline' });
    tl.append(lane);
    tr.append(th, r.state, r.attempt, r.beat, r.progress, tl);
    return r;
  }

  function renderStreams(now) {
    var run = status.run;
    var t0 = at(run.startedAt);
    var span = Math.max((run.endedAt ? at(run.endedAt) : now) - t0, 1000);
    $('timeline-scale').textContent = '0 – ' + dur(span);
    var tbody = $('streams').tBodies[0];
    var seen = new Set();
    var counts = {};
    if (status.streams.length === 0) fill(tbody, [], 6, null);
    else if (tbody.querySelector('tr.none')) tbody.replaceChildren();
    status.streams.forEach(function (s, i) {
      seen.add(s.id);
      counts[s.state] = (counts[s.state] || 0) + 1;
      var r = streamRows.get(s.id);
      if (!r) { r = makeStreamRow(s.id); streamRows.set(s.id, r); }
      if (tbody.children[i] !== r.tr) tbody.insertBefore(r.tr, tbody.children[i] || null);
      r.tr.setAttribute('data-state', s.state);
      var note = [s.reason, s.killed ? 'killed' : null, s.exitCode != null && s.exitCode !== 0 ? 'exit ' + s.exitCode : null].filter(Boolean).join(', ');
      r.state.replaceChildren(badge(s.state, note));
      r.attempt.textContent = String(s.attempt);
      var live = s.state === 'running' || s.state === 'stalled' || s.state === 'recovering';
      r.beat.textContent = !s.lastHeartbeat ? '-' : live ? dur(now - at(s.lastHeartbeat)) + ' ago' : 'at ' + clock(s.lastHeartbeat);
      r.progress.replaceChildren();
      if (s.progress != null) r.progress.append(h('progress', { max: 100, value: s.progress }), h('span', { 'class': 'pct' }, ' ' + s.progress + '%'));
      if (s.message) r.progress.append(h('span', { 'class': 'msg' }, ' ' + s.message));
      if (s.progress == null && !s.message) r.progress.textContent = '-';
      if (s.startedAt) {
        var start = at(s.startedAt);
        var end = s.endedAt ? at(s.endedAt) : now;
        r.bar.hidden = false;
        r.bar.style.left = Math.max(0, ((start - t0) / span) * 100) + '%';
        r.bar.style.width = Math.max(0.5, ((end - start) / span) * 100) + '%';
        r.bar.title = s.id + ': ' + s.state + ', started ' + clock(s.startedAt) + ', ' + dur(end - start);
      } else {
        r.bar.hidden = true;
      }
    });
    streamRows.forEach(function (r, id) { if (!seen.has(id)) { r.tr.remove(); streamRows.delete(id); } });
    $('stream-counts').textContent = Object.keys(counts).map(function (k) { return counts[k] + ' ' + k; }).join(' · ');
  }

  function renderTables() {
    fill($('points').tBodies[0], status.convergence, 6, function (p) {
      return row({ 'data-point': p.name, 'data-state': p.state }, [
        p.name, p.type, badge(p.state, p.reason), p.merged.length ? p.merged.join(', ') : 'none', list(p.conflicts), checks(p),
      ]);
    });
    fill($('resources').tBodies[0], status.resources, 4, function (p) {
      var cell = h('span');
      cell.append(h('meter', { min: 0, max: p.capacity, value: p.inUse }), h('span', null, ' ' + p.inUse + ' / ' + p.capacity));
      var who = function (x) {
        return [x.stream || x.owner, x.units + (x.units === 1 ? ' unit' : ' units'), x.kind === 'acquire' ? 'acquire' : null, x.pid != null ? 'pid ' + x.pid : null, x.priority ? 'priority ' + x.priority : null, 'since ' + clock(x.since)].filter(Boolean).join(' ');
      };
      return row({ 'data-resource': p.name }, [p.name, cell, list(p.holders.map(who)), list(p.waiters.map(who))]);
    });
    fill($('proposals').tBodies[0], status.proposals, 4, function (p) {
      return row({ 'data-proposal': p.name, 'data-state': p.state }, [
        p.name, p.kind, badge(p.state, p.reason), p.yes + ' yes, ' + p.no + ' no, ' + p.needed + ' of ' + p.voters.length + ' needed (' + p.voters.join(', ') + ')',
      ]);
    });
    fill($('locks').tBodies[0], status.locks, 4, function (l) {
      var who = function (x) {
        return [x.owner || '?', x.pid != null ? 'pid ' + x.pid : null, x.mode, x.token != null ? 'token ' + x.token : null, x.since ? 'since ' + clock(x.since) : null].filter(Boolean).join(' ');
      };
      return row({ 'data-lock': l.path }, [l.path, l.mode || '-', list(l.holders.map(who)), list(l.waiters.map(who))]);
    });
    fill($('state').tBodies[0], status.stateVersions.slice().reverse(), 4, function (v) {
      return row({ 'data-version': v.version }, [String(v.version), v.stream || '-', v.time ? clock(v.time, true) : '-', v.op + (v.keys.length ? ' ' + v.keys.join(', ') : '')]);
    });
  }

  function render() {
    if (!status) return;
    var now = Date.now();
    renderRun(now);
    renderStreams(now);
    renderTables();
  }

  function flush() {
    flushing = false;
    var log = $('event-log');
    var body = $('events');
    var atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    var frag = document.createDocumentFragment();
    queue.splice(0).forEach(function (d) {
      var e = d.event;
      frag.append(row({ 'data-type': e.type, 'data-event-stream': e.stream, 'data-event-point': e.point }, [clock(e.time, true), e.type, d.text]));
    });
    body.append(frag);
    while (body.rows.length > MAX_LOG) body.deleteRow(0);
    $('event-count').textContent = total > MAX_LOG ? total + ' (the last ' + MAX_LOG + ' shown)' : String(total);
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  function feed(state, text) {
    var f = $('feed');
    f.setAttribute('data-feed', state);
    f.textContent = text;
  }

  var source = new EventSource('/api/events' + query);
  source.onopen = function () { feed('live', 'live'); };
  source.onerror = function () { feed('down', source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…'); };
  source.addEventListener('coord', function (m) {
    queue.push(JSON.parse(m.data));
    total++;
    if (!flushing) { flushing = true; setTimeout(flush, 30); }
  });
  source.addEventListener('status', function (m) {
    status = JSON.parse(m.data);
    $('problem').hidden = true;
    render();
  });
  source.addEventListener('problem', function (m) {
    var p = $('problem');
    p.textContent = JSON.parse(m.data);
    p.hidden = false;
  });
  setInterval(function () {
    if (status && status.run.state === 'running') { renderRun(Date.now()); renderStreams(Date.now()); }
  }, 1000);
})();
`;
