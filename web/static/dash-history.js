/* foyer dashboard: the room's history charts (shared by every gateway: from Redis), its window
   (10 min, 1 h, the whole sale), refused joins and proof-of-work, why the line clears when it
   does, and the phone layout of the tables. Uses window.foyerDash from dash.js. */
(() => {
  'use strict';
  const F = window.foyerDash;
  if (!F) return;
  const d = document, $ = id => d.getElementById(id), t = F.t, num = F.num, set = F.set, esc = F.esc;
  const nf1 = new Intl.NumberFormat(F.L, {maximumFractionDigits: 1});
  const hm = new Intl.DateTimeFormat(F.L, {hour: 'numeric', minute: '2-digit'});
  const KEY = 'foyer_history_window', EVERY = {'10m': 1000, '1h': 5000, sale: 10000};
  let win = '10m', pts = [], step = 0, from = 0, to = 0, opens = 0, room = '', busy = false, timer = 0;
  try { win = sessionStorage.getItem(KEY) || win; } catch (e) { /* storage off */ }
  if (!EVERY[win]) win = '10m';

  const charts = [
    ['ch-waiting', [['waiting', 'c1']]],
    ['ch-flow', [['admitted_per_minute', 'c1'], ['rate_per_minute', 'c3 dash'], ['joins_per_minute', 'c2']]],
    ['ch-active', [['active', 'c1'], ['max_active', 'c3 dash']]],
    ['ch-skip', [['skipped', 'c4'], ['returned', 'c2']]],
    ['ch-latency', [['backend_p50_ms', 'c1'], ['backend_p95_ms', 'c4']]],
    ['ch-errors', [['backend_error_rate', 'c4', 100]]],
    ['ch-refused', [['rate_limited', 'c4'], ['busy', 'c3 dash'], ['other', 'c1']]],
    ['ch-pow', [['pow_issued_per_minute', 'c3'], ['pow_solved_per_minute', 'c2']]],
  ];
  // a refused-join series: by reason (busy counts the 503s: busy and reconnecting)
  const refused = {
    rate_limited: s => s.refused && s.refused.rate_limited,
    busy: s => s.refused && (s.refused.busy || 0) + (s.refused.reconnecting || 0),
    other: s => s.refused && (s.refused.room_closed || 0) + (s.refused.not_open_yet || 0) + (s.refused.other || 0),
  };
  const val = (s, k, m) => { const v = refused[k] ? refused[k](s) : s[k]; return v == null ? null : v * (m || 1); };

  function pressed() {
    d.querySelectorAll('#hist-window button').forEach(b => b.setAttribute('aria-pressed', String(b.dataset.window === win)));
  }
  d.querySelectorAll('#hist-window button').forEach(b => b.addEventListener('click', () => {
    if (win === b.dataset.window) return;
    win = b.dataset.window;
    try { sessionStorage.setItem(KEY, win); } catch (e) { /* storage off */ }
    pressed(); reset(); fetchNow();
  }));
  function reset() { pts = []; step = 0; from = 0; to = 0; draw(); }

  function fetchNow() {
    clearTimeout(timer);
    timer = setTimeout(fetchNow, EVERY[win]);
    if (busy || !room) return;
    busy = true;
    const name = room, w = win, since = pts.length ? pts[pts.length - 1].t : 0;
    F.req('GET', '/rooms/' + encodeURIComponent(name) + '/history?window=' + w + (since ? '&since=' + since : '')).then(r => {
      busy = false;
      if (name !== room || w !== win || r.s !== 200 || !r.j) return;
      const j = r.j;
      if (j.step !== step) pts = []; // a longer sale thins to a wider step: start over
      step = j.step; from = j.from; to = j.to;
      opens = j.opens_at ? Math.floor(new Date(j.opens_at) / 1000) : 0;
      (j.samples || []).forEach(s => { if (!pts.length || s.t > pts[pts.length - 1].t) pts.push(s); });
      while (pts.length && pts[0].t < from) pts.shift();
      $('hist-note').hidden = j.source !== 'replica';
      set($('hist-note'), j.source === 'replica' ? t('replica_only') : '');
      draw(); facts();
    }, () => { busy = false; });
  }

  const nice = v => { if (!(v > 0)) return 1; const p = Math.pow(10, Math.floor(Math.log10(v))); return [1, 2, 2.5, 5, 10].map(m => m * p).find(m => m >= v); };
  const short = v => (v >= 1e6 ? nf1.format(v / 1e6) + 'M' : v >= 1e4 ? nf1.format(v / 1e3) + 'k' : nf1.format(v));
  function draw() {
    const W = 320, H = 120, P = {l: 36, r: 6, t: 8, b: 16};
    const now = to || Math.floor(Date.now() / 1000), start = from || now - 600;
    // the whole sale of a room not open yet runs to its opening, so the marker is in view
    const end = win === 'sale' && opens > now ? opens + 60 : now, span = Math.max(1, end - start);
    const last = pts[pts.length - 1] || {};
    const x = tt => (P.l + (tt - start) / span * (W - P.l - P.r)).toFixed(1);
    charts.forEach(([id, series]) => {
      const svg = $(id);
      if (!svg) return;
      let max = 0;
      series.forEach(([k, , m]) => pts.forEach(s => { const v = val(s, k, m); if (v > max) max = v; }));
      max = nice(max);
      const y = v => (H - P.b - v / max * (H - P.t - P.b)).toFixed(1);
      let out = '';
      [0, 0.5, 1].forEach(f => { const yy = y(max * f); out += '<line class="g" x1="' + P.l + '" x2="' + (W - P.r) + '" y1="' + yy + '" y2="' + yy + '"/><text x="' + (P.l - 4) + '" y="' + (+yy + 3) + '" text-anchor="end">' + esc(short(max * f)) + '</text>'; });
      out += '<text x="' + P.l + '" y="' + (H - 3) + '">' + esc(hm.format(new Date(start * 1000))) + '</text><text x="' + (W - P.r) + '" y="' + (H - 3) + '" text-anchor="end">' + esc(end > now ? hm.format(new Date(end * 1000)) : t('now')) + '</text>';
      if (opens >= start && opens <= end) {
        const ox = x(opens);
        out += '<line class="open" data-opens="' + opens + '" x1="' + ox + '" x2="' + ox + '" y1="' + P.t + '" y2="' + (H - P.b) + '"/><text class="open" x="' + (+ox + 2) + '" y="' + (P.t + 1) + '">' + esc(t('opens')) + '</text>';
      }
      // the newest values hold until now (an unchanged room stores no new sample)
      const line = pts.length && last.t < now ? pts.concat([Object.assign({}, last, {t: now})]) : pts; // flat to now, never into the future
      series.forEach(([k, cls, m]) => {
        const p = line.filter(s => val(s, k, m) != null).map(s => x(s.t) + ',' + y(val(s, k, m))).join(' ');
        out += '<polyline class="' + cls + '" data-k="' + k + '" points="' + p + '"/>';
      });
      svg.innerHTML = out;
      const cap = svg.previousElementSibling.textContent.replace(/\s+/g, ' ').trim();
      svg.setAttribute('aria-label', cap + ': ' + series.map(([k, , m]) => num(val(last, k, m))).join(', '));
    });
  }

  function facts() {
    const s = pts[pts.length - 1], k = n => d.querySelector('#room [data-k=' + n + ']');
    if (!s) { set(k('refused'), '–'); set(k('pow'), '–'); return; }
    set(k('refused'), nf1.format(s.refused_per_minute || 0));
    set(k('pow'), s.pow_difficulty > 0 ? t('pow_bits', {bits: num(s.pow_difficulty)}) : t('pow_none'));
  }

  // Why the line clears when it does: the limit that binds, in words (the queue decides it).
  const dur = sec => (sec < 120 ? t('secs', {n: num(sec)}) : t('mins', {n: num(sec / 60)}));
  const pace = v => (v >= 10 ? num(v) : nf1.format(v));
  function why() {
    const r = F.cur(), el = $('clear-why');
    if (!el) return;
    const c = r && r.clear;
    if (!c || !c.limit) { set(el, ''); return; }
    const a = {max: num(r.settings.max_active), rate: num(c.rate_per_minute), per: pace(c.per_minute),
      cap: c.cap_per_minute == null ? '–' : pace(c.cap_per_minute), session: dur(c.session_seconds),
      how: t(c.session_measured ? 'how_measured' : 'how_configured')};
    let s = t('why_' + c.limit, a);
    if (c.measured_per_minute != null && (c.limit === 'cap' || c.limit === 'rate')) s += ' ' + t('why_measured', {n: pace(c.measured_per_minute)});
    set(el, s);
  }

  // Phone layout: each table cell carries its column's name, shown when the rows stack.
  function labels() {
    d.querySelectorAll('table').forEach(tb => {
      const heads = Array.from(tb.querySelectorAll('thead th')).map(th => th.textContent.trim());
      tb.querySelectorAll('tbody tr').forEach(tr => Array.from(tr.children).forEach((td, i) => {
        if (heads[i] && td.dataset.label !== heads[i]) td.dataset.label = heads[i];
      }));
    });
  }
  const mo = new MutationObserver(labels);
  d.querySelectorAll('#main table').forEach(tb => mo.observe(tb, {childList: true, subtree: true}));

  d.addEventListener('foyer:pick', e => { room = e.detail || ''; reset(); facts(); why(); fetchNow(); });
  d.addEventListener('foyer:rooms', () => { why(); labels(); });
  pressed();
})();
