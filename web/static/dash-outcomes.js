/* foyer dashboard panel: outcomes over time (GET /rooms/{room}/outcomes/per-minute), every 15 s for the room picked. */
(() => {
  'use strict';
  const d = document, boot = JSON.parse(d.getElementById('boot').textContent);
  const M = boot.msgs, L = boot.lang === 'ko' ? 'ko-KR' : 'en-US';
  const t = (k, a) => (M[k] || k).replace(/\{(\w+)\}/g, (_, n) => (a && n in a ? a[n] : ''));
  const nf = new Intl.NumberFormat(L), nf1 = new Intl.NumberFormat(L, {maximumFractionDigits: 1});
  const num = v => (v == null || isNaN(v) ? '–' : nf.format(Math.round(v)));
  const esc = s => String(s).replace(/[&<>"]/g, c => '&#' + c.charCodeAt(0) + ';');
  const SPAN = 60, series = [['booked', 'c2'], ['failed', 'c4'], ['abandoned', 'c3'], ['expired', 'c1'], ['flagged', 'c4 dash']];
  let busy = false, room = '', mins = [];
  function picked() {
    const h = d.getElementById('h-room');
    if (!h || d.getElementById('room').hidden) return '';
    const m = h.textContent.match(/\(([a-z0-9-]+)\)$/);
    return m ? m[1] : h.textContent.trim();
  }
  const nice = v => { if (!(v > 0)) return 1; const p = Math.pow(10, Math.floor(Math.log10(v))); return [1, 2, 2.5, 5, 10].map(m => m * p).find(m => m >= v); };
  function draw() {
    const svg = d.getElementById('ch-outcomes'), W = 320, H = 120, P = {l: 36, r: 6, t: 6, b: 16};
    const end = Math.floor(Date.now() / 60000) * 60, start = end - SPAN * 60;
    let max = 0;
    mins.forEach(m => series.forEach(([s]) => { if (m[s] > max) max = m[s]; }));
    max = nice(max);
    const x = tt => (P.l + (tt - start) / (SPAN * 60) * (W - P.l - P.r)).toFixed(1);
    const y = v => (H - P.b - v / max * (H - P.t - P.b)).toFixed(1);
    let out = '';
    [0, 0.5, 1].forEach(f => { const yy = y(max * f); out += '<line class="g" x1="' + P.l + '" x2="' + (W - P.r) + '" y1="' + yy + '" y2="' + yy + '"/><text x="' + (P.l - 4) + '" y="' + (+yy + 3) + '" text-anchor="end">' + esc(nf1.format(max * f)) + '</text>'; });
    out += '<text x="' + P.l + '" y="' + (H - 3) + '">' + esc(t('ago', {n: SPAN})) + '</text><text x="' + (W - P.r) + '" y="' + (H - 3) + '" text-anchor="end">' + esc(t('now')) + '</text>';
    series.forEach(([s, cls]) => {
      const pts = mins.filter(m => m.t >= start).map(m => x(m.t + 30) + ',' + y(m[s])).join(' ');
      out += '<polyline class="' + cls + '" data-k="' + s + '" points="' + pts + '"/>';
    });
    svg.innerHTML = out;
    const last = mins[mins.length - 1], note = d.getElementById('oc-note');
    const txt = last ? t('oc_last', {booked: num(last.booked), failed: num(last.failed), abandoned: num(last.abandoned), expired: num(last.expired), flagged: num(last.flagged)}) : t('oc_none');
    if (note.textContent !== txt) note.textContent = txt;
    svg.setAttribute('aria-label', svg.previousElementSibling.textContent.replace(/\s+/g, ' ').trim() + ': ' + txt);
  }
  function tick() {
    const name = picked();
    if (name !== room) { room = name; mins = []; if (name) draw(); }
    let token = '';
    try { token = sessionStorage.getItem('foyer_admin_token') || ''; } catch (e) { /* storage off */ }
    if (!name || !token || busy) return;
    busy = true;
    fetch(boot.api + '/rooms/' + encodeURIComponent(name) + '/outcomes/per-minute?minutes=' + SPAN, {headers: {Accept: 'application/json', Authorization: 'Bearer ' + token}, cache: 'no-store'})
      .then(r => (r.ok ? r.json() : null)).then(j => { busy = false; if (j && name === room) { mins = j.minutes || []; draw(); } }, () => { busy = false; });
  }
  // second chances (issue 14): from the room's live figures, after each refresh of the list
  function reentry() {
    const fd = window.foyerDash, el = d.getElementById('oc-reentry');
    const r = fd && fd.cur ? fd.cur() : null, re = r && r.live && r.live.reentry;
    const txt = re ? t('oc_reentry', {backend: num(re.granted && re.granted.backend), evidence: num(re.granted && re.granted.evidence),
      used: num(re.used), waiting: num(re.waiting), share: r.settings && r.settings.reentry_share > 0 ? nf.format(Math.round(r.settings.reentry_share * 100)) + '%' : t('oc_reentry_off')}) : '';
    if (el && el.textContent !== txt) el.textContent = txt;
  }
  d.addEventListener('foyer:rooms', reentry);
  d.addEventListener('foyer:pick', reentry);
  setInterval(tick, 15000);
  d.addEventListener('click', () => setTimeout(tick, 200));
  tick();
})();
