/* foyer queue page: polls the status endpoint and shows it. No framework, no third-party requests. */
(() => {
  'use strict';
  const d = document, boot = JSON.parse(d.getElementById('boot').textContent);
  const M = boot.msgs, L = boot.lang === 'ko' ? 'ko-KR' : 'en-US', tz = boot.tz;
  const $ = id => d.getElementById(id);
  const nf = new Intl.NumberFormat(L);
  const dtf = o => { try { return new Intl.DateTimeFormat(L, Object.assign({timeZone: tz}, o)); } catch (e) { return new Intl.DateTimeFormat(L, o); } };
  const fDate = dtf({dateStyle: 'full', timeStyle: 'short'});
  const fClock = dtf({hour: 'numeric', minute: '2-digit', second: '2-digit'});
  const t = (k, a) => (M[k] || k).replace(/\{(\w+)\}/g, (_, n) => (a && n in a ? a[n] : ''));
  const num = n => nf.format(n || 0);
  const pad = n => String(n).padStart(2, '0');
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const set = (f, v, dt) => d.querySelectorAll('[data-f="' + f + '"]').forEach(e => {
    if (e.textContent !== v) e.textContent = v;
    if (dt) e.setAttribute('datetime', dt);
  });

  // eta words a range as "about 4 to 6 minutes" (format.go formatETA does the same).
  function eta(lo, hi) {
    if (hi < lo) [lo, hi] = [hi, lo];
    if (!(hi > 0)) return t('eta_unknown');
    if (hi < 60) return t('eta_under_minute');
    const u = hi < 7200 ? 60 : 3600, n = u === 60 ? 'minute' : 'hour';
    const a = Math.max(1, Math.floor(lo / u)), b = Math.max(a, Math.ceil(hi / u));
    if (a === b) return a === 1 ? t('eta_' + n + '_one') : t('eta_' + n + 's', {n: num(a)});
    return t('eta_' + n + 's_range', {low: num(a), high: num(b)});
  }
  const etaOf = s => { const e = s.eta_seconds || {}; return eta(+e.low || 0, +e.high || 0); };
  function countdown(ms) {
    let s = Math.max(0, Math.round(ms / 1000));
    const days = Math.floor(s / 86400);
    s %= 86400;
    const hms = pad(Math.floor(s / 3600)) + ':' + pad(Math.floor(s / 60) % 60) + ':' + pad(s % 60);
    return days ? t('countdown_days', {days: num(days), time: hms}) : hms;
  }
  function safe(u) {
    try { const x = new URL(u, location.href); return /^https?:$/.test(x.protocol) ? x.href : ''; } catch (e) { return ''; }
  }
  // panel mirrors panelFor in page.go.
  const panel = s => s.admitted ? 'turn' : s.state === 'closed' ? 'closed' : joining ? 'joining' :
    (s.state === 'scheduled' || s.state === 'prequeue') ? 'pre' : s.state === 'paused' ? 'paused' : 'wait';

  const key = 'foyer_ticket_' + boot.room;
  let joining = !boot.hasTicket, ticket = null, last = boot.status, shown = null, skew = 0;
  let opens = last.opens_at || '', minPlace = 0, said = 0, saidAt = 0, recon = !!last.reconnecting;
  let timer = 0, tick = 0, leaving = 0, busy = false, errors = 0, lastPoll = 0;
  let every = clamp(last.poll_after_ms || 5000, 1000, 60000);
  try { ticket = sessionStorage.getItem(key); } catch (e) { /* storage off */ }

  const live = m => { const el = $('live'); el.textContent = ''; setTimeout(() => { el.textContent = m; }, 50); };
  const placeMsg = s => t('live_place', {place: num(s.place), eta: etaOf(s)});

  function apply(s) {
    if (s.reconnecting && !(s.place > 0) && last.place > 0) {
      s = Object.assign({}, s, {place: last.place, ahead: last.ahead, eta_seconds: last.eta_seconds, joined_place: last.joined_place});
    }
    if (s.place > 0 && s.state === 'open') { // a shown place never goes up
      if (minPlace && s.place > minPlace) s = Object.assign({}, s, {place: minPlace, ahead: Math.min(s.ahead, minPlace - 1)});
      minPlace = s.place;
    }
    if (s.updated_at && !s.reconnecting) { const u = Date.parse(s.updated_at); if (u) skew = u - Date.now(); }
    const p = panel(s);
    ['joining', 'pre', 'wait', 'turn', 'paused', 'closed'].forEach(id => { $('p-' + id).hidden = id !== p; });
    d.querySelectorAll('[data-state]').forEach(e => { e.hidden = e.dataset.state !== s.state; });
    $('recon').hidden = !s.reconnecting;
    if (s.place > 0) {
      set('place', num(s.place));
      set('ahead', num(s.ahead));
      set('eta', etaOf(s));
      const j = Math.max(s.joined_place || 0, s.place), tot = Math.max(1, j - 1), done = j - 1 < 1 ? 1 : j - s.place;
      const pr = $('prog');
      pr.max = tot; pr.value = done; pr.textContent = Math.floor(done * 100 / tot) + '%';
    }
    if (s.updated_at && s.updated_at !== last.updated_at) set('updated', fClock.format(new Date(s.updated_at)), s.updated_at);
    if (s.opens_at && s.opens_at !== opens) { opens = s.opens_at; set('opens', fDate.format(new Date(opens)), opens); }
    clearInterval(tick);
    if (p === 'pre' && opens) {
      const at = Date.parse(opens), step = () => {
        const left = at - Date.now() - skew;
        set('countdown', countdown(left));
        if (left <= 0) { clearInterval(tick); schedule(Math.random() * 3000); } // spread the crowd at the opening
      };
      step();
      tick = setInterval(step, 1000);
    }
    if (p === 'turn') {
      const u = s.redirect ? safe(s.redirect) : location.href;
      if (u) { $('go').href = u; if (!leaving) leaving = setTimeout(() => location.assign(u), 600); }
    }
    // Announce what matters: a new panel, the connection, the place when it moved enough.
    let m = '';
    if (shown !== null && p !== shown) m = $('h-' + p).innerText + (p === 'wait' ? '. ' + placeMsg(s) : '');
    else if (s.reconnecting !== recon) m = s.reconnecting ? $('recon').innerText : placeMsg(s);
    else if (p === 'wait' && s.place !== said && (s.place <= 10 || s.place <= said * 0.9 || Date.now() - saidAt > 120000)) m = placeMsg(s);
    if (m && shown !== null) live(m);
    if (m || shown === null) { said = s.place; saidAt = Date.now(); }
    shown = p; recon = !!s.reconnecting; last = s;
  }

  function schedule(ms) { clearTimeout(timer); timer = setTimeout(poll, ms); }
  // Proof-of-work hook: a join answered 428 pow_required is solved in a Web Worker
  // (static/pow.js, fetched only then) and sent again with the Foyer-PoW header.
  let pow = '';
  function solvePow(c) {
    const w = new Worker(boot.joinURL.replace(/\/v1\/rooms\/.*$/, '/static/pow.js'));
    w.onmessage = e => { w.terminate(); pow = e.data.solution; poll(); };
    w.onerror = () => { w.terminate(); schedule(backoff(0)); };
    w.postMessage({challenge: c.challenge, difficulty: c.difficulty});
  }
  function backoff(retryAfter) {
    errors++;
    const ms = retryAfter > 0 ? retryAfter * 1000 : Math.min(60000, Math.max(every, 2000) * Math.pow(2, Math.min(errors - 1, 5)));
    return ms / 2 + Math.random() * ms / 2;
  }
  function poll() {
    if (busy) return;
    busy = true; clearTimeout(timer); lastPoll = Date.now();
    const join = joining, h = {Accept: 'application/json'};
    if (ticket) h['Foyer-Ticket'] = ticket;
    if (join && pow) { h['Foyer-PoW'] = pow; pow = ''; }
    fetch(join ? boot.joinURL : boot.statusURL, {method: join ? 'POST' : 'GET', credentials: 'same-origin', headers: h, cache: 'no-store'})
      .then(r => r.json().catch(() => null).then(j => {
        busy = false;
        if (r.ok && j && j.state) {
          errors = 0; $('problem').hidden = true;
          if (join) { joining = false; minPlace = 0; }
          if (j.ticket) { ticket = j.ticket; try { sessionStorage.setItem(key, ticket); } catch (e) { /* storage off */ } }
          every = clamp(j.poll_after_ms || 5000, 1000, 60000);
          apply(j);
          schedule(every);
          return;
        }
        const code = j && j.error && j.error.code;
        if (join && code === 'pow_required' && j.pow) { solvePow(j.pow); return; }
        if (code === 'room_closed') { apply(Object.assign({}, last, {state: 'closed', admitted: false, reconnecting: false})); schedule(60000); return; }
        if (!join && (r.status === 401 || code === 'no_ticket' || code === 'bad_ticket')) {
          joining = true; ticket = null;
          try { sessionStorage.removeItem(key); } catch (e) { /* storage off */ }
          schedule(backoff(0) / 4);
          return;
        }
        if (r.status === 429) { schedule(backoff(+r.headers.get('Retry-After') || 0)); return; }
        if (r.status >= 500) apply(Object.assign({}, last, {reconnecting: true}));
        else $('problem').hidden = false;
        schedule(backoff(0));
      }))
      .catch(() => { busy = false; apply(Object.assign({}, last, {reconnecting: true})); schedule(backoff(0)); });
  }

  d.querySelectorAll('a[data-lang]').forEach(a => a.addEventListener('click', e => {
    e.preventDefault();
    d.cookie = 'foyer_lang=' + a.dataset.lang + ';path=/;max-age=31536000;samesite=lax' + (location.protocol === 'https:' ? ';secure' : '');
    location.reload();
  }));
  d.addEventListener('visibilitychange', () => { if (!d.hidden && Date.now() - lastPoll > every) poll(); });
  addEventListener('online', () => poll());

  if (joining || !boot.hasTicket) { joining = joining && !ticket; poll(); } else { apply(last); schedule(every); }
})();
