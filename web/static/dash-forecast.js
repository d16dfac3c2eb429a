/* foyer dashboard panel: the crowd forecast (GET /rooms/{room}/forecast), every 5 s for the room picked. */
(() => {
  'use strict';
  const d = document, boot = JSON.parse(d.getElementById('boot').textContent);
  const M = boot.msgs, L = boot.lang === 'ko' ? 'ko-KR' : 'en-US';
  const t = (k, a) => (M[k] || k).replace(/\{(\w+)\}/g, (_, n) => (a && n in a ? a[n] : ''));
  const nf = new Intl.NumberFormat(L), nf1 = new Intl.NumberFormat(L, {maximumFractionDigits: 1});
  const when = new Intl.DateTimeFormat(L, {dateStyle: 'medium', timeStyle: 'short'});
  const num = v => (v == null || isNaN(v) ? '–' : nf.format(Math.round(v)));
  const set = (el, v) => { if (el && el.textContent !== v) el.textContent = v; };
  const k = n => d.querySelector('#forecast [data-fc=' + n + ']');
  const range = s => (s.low === s.high ? num(s.low) : t('fc_range', {low: num(s.low), high: num(s.high)}));
  const dur = s => {
    const m = Math.max(1, Math.ceil(s / 60));
    return m < 60 ? t('dur_min', {n: num(m)}) : t('dur_h', {h: num(Math.floor(m / 60)), m: num(m % 60)});
  };
  let busy = false, room = '';
  // The room picked in dash.js's table (the row marked aria-current), by its name in the API.
  function picked() {
    const h = d.getElementById('h-room');
    if (!h || d.getElementById('room').hidden) return '';
    const m = h.textContent.match(/\(([a-z0-9-]+)\)$/);
    return m ? m[1] : h.textContent.trim();
  }
  function show(f) {
    set(k('line'), range(f.line_at_opening));
    set(k('prequeue'), range(f.prequeue_at_opening));
    set(k('spike'), f.opened ? '–' : range(f.opening_spike));
    set(k('joins'), f.opened ? '–' : t('fc_joins', {n: nf1.format(f.joins_per_minute.length ? f.flat_per_minute : 0), basis: t('fc_basis_' + f.basis)}));
    set(k('pace'), f.pace_per_minute > 0 ? t(f.limit === 'cap' ? 'fc_pace_cap' : 'fc_pace_rate', {n: num(f.pace_per_minute)}) : t('fc_pace_none'));
    set(k('clear'), f.pace_per_minute > 0 ? (f.clear_seconds.low === f.clear_seconds.high ? dur(f.clear_seconds.low) :
      t('fc_range', {low: dur(f.clear_seconds.low), high: dur(f.clear_seconds.high)})) : t('dur_stalled'));
    const note = d.getElementById('fc-note');
    if (f.opened) set(note, t('fc_opened', {n: num(f.prequeue_size)}));
    else if (!f.opens_at) set(note, t('fc_no_opening'));
    else set(note, t('fc_opens', {time: when.format(new Date(f.opens_at))}) + ' ' + t('fc_now', {n: num(f.joined)}));
  }
  function tick() {
    const name = picked();
    if (name !== room) { room = name; d.querySelectorAll('#forecast dd').forEach(e => set(e, '–')); set(d.getElementById('fc-note'), ''); }
    let token = '';
    try { token = sessionStorage.getItem('foyer_admin_token') || ''; } catch (e) { /* storage off */ }
    if (!name || !token || busy) return;
    busy = true;
    fetch(boot.api + '/rooms/' + encodeURIComponent(name) + '/forecast', {headers: {Accept: 'application/json', Authorization: 'Bearer ' + token}, cache: 'no-store'})
      .then(r => (r.ok ? r.json() : null)).then(f => { busy = false; if (f && f.room === room) show(f); }, () => { busy = false; });
  }
  setInterval(tick, 5000);
  d.addEventListener('click', () => setTimeout(tick, 200));
  tick();
})();
