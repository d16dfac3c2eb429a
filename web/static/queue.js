/* foyer queue page: polls the status endpoint and shows it. No framework, no third-party requests.
 *
 * Figures this script relies on (sources in docs/queue.md, "The queue page"):
 * - iOS Safari suspends a page's JavaScript about 3 s after the visitor leaves it (app switch,
 *   screen lock); nothing runs until they come back, then late timers fire once. So the page
 *   tells the server it is there at the moment it is hidden (one status fetch, keepalive), and
 *   polls at once when it is visible again (visibilitychange, pageshow from the back-forward
 *   cache, Chrome's resume after a freeze, online).
 * - Chrome throttles timers of hidden tabs: at most one wake-up a second, budget-limited after
 *   ~10 s hidden, and after 5 min hidden at most one wake-up a minute (intensive throttling,
 *   Chrome 88). Hidden, the page keeps its one chained timer at the server's poll_after (never
 *   more often); a late timer just polls once (no catch-up burst), so a hidden tab is seen about
 *   once a minute, inside the server's absent_after (90 s by default).
 */
(() => {
  'use strict';
  const d = document, w = window, nav = navigator, boot = JSON.parse(d.getElementById('boot').textContent);
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
  const now = () => Date.now();
  const set = (f, v, dt) => d.querySelectorAll('[data-f="' + f + '"]').forEach(e => {
    if (e.textContent !== v) e.textContent = v;
    if (dt) e.setAttribute('datetime', dt);
  });
  const store = (() => { try { return w.localStorage; } catch (e) { return null; } })();
  const sget = k => { try { return store && JSON.parse(store.getItem(k)); } catch (e) { return null; } };
  const sput = (k, v) => { try { if (store) v == null ? store.removeItem(k) : store.setItem(k, JSON.stringify(v)); } catch (e) { /* full or off */ } };
  const calm = w.matchMedia && w.matchMedia('(prefers-reduced-motion: reduce)').matches;

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
  // A stalled line has no honest number: it is said in words (format.go etaText).
  const etaOf = s => { const e = s.eta_seconds || {}; return s.stalled === 'sessions' ? t('stalled_eta') : eta(+e.low || 0, +e.high || 0); };
  function countdown(ms) {
    let s = Math.max(0, Math.ceil(ms / 1000)); // 00:00:00 is never shown: at zero the page switches
    const days = Math.floor(s / 86400);
    s %= 86400;
    const hms = pad(Math.floor(s / 3600)) + ':' + pad(Math.floor(s / 60) % 60) + ':' + pad(s % 60);
    return days ? t('countdown_days', {days: num(days), time: hms}) : hms;
  }
  function safe(u) {
    try { const x = new URL(u, location.href); return /^https?:$/.test(x.protocol) ? x.href : ''; } catch (e) { return ''; }
  }
  const paused = s => s.state === 'paused' || s.stalled === 'paused';
  // panel mirrors panelFor in page.go.
  const panel = s => s.admitted ? 'turn' : s.state === 'sold_out' ? 'soldout' : s.state === 'closed' ? 'closed' :
    joining || opening ? 'joining' : (s.state === 'scheduled' || s.state === 'prequeue') ? 'pre' : paused(s) ? 'paused' : 'wait';

  const tkey = 'foyer_ticket_' + boot.room, pkey = 'foyer_place_' + boot.room, akey = 'foyer_alerts';
  let joining = !boot.hasTicket, opening = false, ticket = null, last = boot.status, shown = null, skew = 0;
  let opens = last.opens_at || '', said = 0, saidAt = 0, recon = !!last.reconnecting;
  let timer = 0, tick = 0, leaving = 0, busy = false, again = false, errors = 0, lastPoll = 0, flash = 0, near = false;
  let every = clamp(last.poll_after_ms || 5000, 1000, 60000);
  // mine is what this browser remembers of its ticket: {p: position, j: place at join, b: best
  // (lowest) place shown}. It survives reloads (localStorage) and is used only for the same
  // position, so a new ticket starts afresh.
  let mine = {p: 0, j: 0, b: 0}, rose = null;
  try { ticket = sessionStorage.getItem(tkey); } catch (e) { /* storage off */ }
  const title = d.title, problemText = $('problem').textContent;
  let goText = '';

  const live = m => { const el = $('live'); el.textContent = ''; setTimeout(() => { el.textContent = m; }, 50); };
  const placeMsg = s => t('live_place', {place: num(s.place), eta: etaOf(s)});
  const note = (id, m) => { const e = $(id); e.hidden = !m; if (m && e.textContent !== m) e.textContent = m; };

  // remember keeps the place honest across polls and reloads: progress from the place at join,
  // and a shown place that never rises unless the server says it had to (notice place_rose).
  function remember(s) {
    const p = +s.position || 0;
    if (p && p !== mine.p) { const r = sget(pkey); mine = r && r.p === p ? r : {p: p, j: 0, b: 0}; }
    if (!(s.place > 0) || !(s.state === 'open' || s.state === 'paused')) return s;
    if (s.place > mine.b && mine.b) {
      if (s.notice === 'place_rose') { rose = {from: num(mine.b), to: num(s.place)}; mine.j = Math.max(mine.j, s.place); } else s = Object.assign({}, s, {place: mine.b, ahead: Math.min(s.ahead, mine.b - 1)});
    }
    mine.b = s.place;
    mine.j = Math.max(s.joined_place || mine.j || s.place, s.place);
    if (mine.p) sput(pkey, mine);
    return s;
  }

  function apply(s) {
    if (s.reconnecting && !(s.place > 0) && last.place > 0) {
      s = Object.assign({}, s, {place: last.place, ahead: last.ahead, eta_seconds: last.eta_seconds, joined_place: last.joined_place, stalled: last.stalled});
    }
    s = remember(s);
    if (s.updated_at && !s.reconnecting) {
      const u = Date.parse(s.updated_at); // whole seconds from the gateway: take the middle of the second
      if (u) skew = u + (/\.\d/.test(s.updated_at) ? 0 : 500) - now();
    }
    const p = panel(s);
    ['joining', 'pre', 'wait', 'turn', 'paused', 'closed', 'soldout'].forEach(id => { $('p-' + id).hidden = id !== p; });
    d.querySelectorAll('[data-state]').forEach(e => { e.hidden = e.dataset.state !== s.state; });
    $('recon').hidden = !s.reconnecting;
    $('alerts').hidden = !(p === 'wait' || p === 'pre' || p === 'paused');
    note('stalled', s.stalled === 'sessions' && p === 'wait' ? t('stalled_body') : '');
    note('returning', s.returning && (p === 'wait' || p === 'paused') ? t('returning') : '');
    // a second chance after a failed booking: say why, in its line and on the way back in
    note('reentry', !s.reentry ? '' : p === 'turn' ? t('reentry_turn') : (p === 'wait' || p === 'paused') ? t('reentry_wait') : '');
    if (rose) note('rose', t('place_rose', rose));
    note('stock', s.remaining != null && p === 'wait' ? t('stock_low', {left: num(s.remaining), ahead: num(s.ahead)}) : '');
    if (s.place > 0) {
      set('place', num(s.place));
      set('ahead', num(s.ahead));
      set('eta', etaOf(s));
      const j = Math.max(mine.j, s.joined_place || 0, s.place), tot = Math.max(1, j - 1), done = j - 1 < 1 ? 1 : j - s.place;
      const pr = $('prog');
      pr.max = tot; pr.value = done; pr.textContent = Math.floor(done * 100 / tot) + '%';
    }
    // issue 14: after the sale or the visitor's session, the feedback prompt (feedback.js, loaded then)
    if ((p === 'closed' || p === 'soldout' || s.ask_feedback) && !joining && !d.getElementById('fb-js')) {
      const x = d.createElement('script'), q = d.querySelector('script[src*="/static/queue."]');
      x.id = 'fb-js'; x.src = (q ? q.src.replace(/queue\.[^/]*$/, '') : '') + 'feedback.js';
      x.dataset.url = boot.joinURL.replace(/\/join(\?.*)?$/, '/feedback'); x.dataset.ask = s.ask_feedback ? '1' : '';
      d.body.appendChild(x);
    }
    // issue 14: the visitor's pre-queue number, and the link that checks their shuffled place
    d.querySelectorAll('.pqn').forEach(e => { e.hidden = !(s.prequeue_number > 0); });
    if (s.prequeue_number > 0) {
      set('pqn', num(s.prequeue_number));
      d.querySelectorAll('a[data-verify]').forEach(a => { a.href = a.href.split('#')[0] + '#n=' + s.prequeue_number + (s.position ? '&pos=' + s.position : ''); });
    }
    if (s.updated_at && s.updated_at !== last.updated_at) set('updated', fClock.format(new Date(s.updated_at)), s.updated_at);
    if (s.opens_at && s.opens_at !== opens) { opens = s.opens_at; set('opens', fDate.format(new Date(opens)), opens); }
    clearInterval(tick);
    if (p === 'pre' && opens) {
      const at = Date.parse(opens), step = () => {
        const left = at - now() - skew;
        if (left > 0) return set('countdown', countdown(left));
        // The opening: say so at once and ask now (the server's poll_after spreads the crowd
        // already; a few hundred ms of jitter keeps one building's visitors apart).
        clearInterval(tick); opening = true; schedule(Math.random() * 400);
        Promise.resolve().then(() => apply(last)); // after this apply: show "getting your place"
      };
      step();
      if (!opening) tick = setInterval(step, 1000);
    }
    if (p === 'turn') {
      const u = s.redirect ? safe(s.redirect) : location.href;
      sput(pkey, null);
      if (s.reentry && !goText) { goText = $('go').textContent; $('go').textContent = t('reentry_button'); }
      // a re-entry is told why it goes back in before it does (5 s; the button goes at once)
      if (u) { $('go').href = u; if (!leaving) leaving = setTimeout(() => location.assign(u), s.reentry ? 5000 : 600); }
    }
    // Announce what matters: near the front, a new panel, the connection, a stalled line, the
    // place when it moved enough.
    const m = alertNear(s, p) ||
      (shown !== null && p !== shown ? $('h-' + p).innerText + (p === 'wait' ? '. ' + placeMsg(s) : '') :
        s.reconnecting !== recon ? (s.reconnecting ? $('recon').innerText : placeMsg(s)) :
          s.stalled === 'sessions' && last.stalled !== 'sessions' ? t('stalled_body') :
            p === 'wait' && s.place !== said && (s.place <= 10 || s.place <= said * 0.9 || now() - saidAt > 120000) ? placeMsg(s) : '');
    if (m && shown !== null) live(m);
    if (m || shown === null) { said = s.place; saidAt = now(); }
    shown = p; recon = !!s.reconnecting; last = s;
  }

  // Near the front (a few places, or under a minute) the page makes itself noticed: the tab's
  // title, a short sound (once the visitor has touched the page: browsers allow audio only
  // then), a vibration on phones, and a notification if the visitor asked for one.
  let ac = null;
  function unlock() {
    const A = w.AudioContext || w.webkitAudioContext;
    try { if (!ac && A) ac = new A(); if (ac && ac.state === 'suspended') ac.resume(); } catch (e) { /* no audio */ }
  }
  function beep() {
    if (!ac || ac.state !== 'running') return;
    const o = ac.createOscillator(), g = ac.createGain(), c = ac.currentTime;
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.0001, c); g.gain.exponentialRampToValueAtTime(0.25, c + 0.02); g.gain.exponentialRampToValueAtTime(0.0001, c + 0.5);
    o.connect(g); g.connect(ac.destination); o.start(c); o.stop(c + 0.55);
  }
  const canNotify = () => 'Notification' in w && Notification.permission === 'granted' && sget(akey);
  function notify(head, body) {
    if (!canNotify()) return;
    try { const n = new Notification(head, {body: body, tag: 'foyer-' + boot.room}); n.onclick = () => { w.focus(); n.close(); }; } catch (e) { /* Android Chrome: service workers only */ }
  }
  function retitle(s, p) {
    let x = title, hi = '';
    if (p === 'turn') hi = $('h-turn').innerText + ' · ' + title;
    else if (s.place > 0 && (p === 'wait' || p === 'paused')) x = t('title_place', {place: num(s.place)}) + ' · ' + title;
    if (near && p === 'wait') hi = t('near_title') + ' · ' + x;
    clearInterval(flash);
    if (hi) {
      d.title = hi;
      // Flash while hidden, so the tab catches the eye; steady if motion is reduced.
      if (d.hidden && !calm) flash = setInterval(() => { d.title = d.title === hi ? x : hi; }, 1000);
    } else d.title = x;
  }
  function alertNear(s, p) {
    const e = s.eta_seconds || {};
    const was = near;
    near = p === 'turn' || (p === 'wait' && s.place > 0 && (s.place <= 5 || (!s.stalled && +e.high > 0 && +e.high <= 60)));
    retitle(s, p);
    if (!near || was) return '';
    beep();
    if (nav.vibrate && (!nav.userActivation || nav.userActivation.hasBeenActive)) nav.vibrate([200, 100, 200]);
    if (d.hidden) p === 'turn' ? notify($('h-turn').innerText, $('p-turn').querySelector('p').innerText) : notify(t('near_title'), t('near_body', {place: num(s.place)}));
    return p === 'turn' ? '' : t('near_live', {place: num(s.place)});
  }
  function alertsOn() {
    const b = $('alert'), why = $('alert-state');
    if (sget(akey)) {
      b.hidden = true;
      why.hidden = false;
      why.textContent = 'Notification' in w && Notification.permission === 'denied' ? t('alert_blocked') : t('alert_on');
    }
  }
  $('alert').addEventListener('click', () => {
    unlock();
    sput(akey, 1);
    const done = () => { alertsOn(); beep(); };
    if ('Notification' in w && Notification.permission === 'default') {
      try { const r = Notification.requestPermission(done); if (r && r.then) r.then(done, done); } catch (e) { done(); }
    } else done();
  });
  ['pointerdown', 'keydown'].forEach(e => addEventListener(e, unlock, {once: true, passive: true}));

  // schedule sets the one poll timer; a poll asked for while one was in flight (the page came
  // back while its last request, sent as it was hidden, was still out) goes at once.
  function schedule(ms) { clearTimeout(timer); if (again) { again = false; ms = 0; } timer = setTimeout(poll, ms); }
  // wait turns a refusal or a failure into a delay: Retry-After when the server gave one (plus
  // up to half again, so a crowd behind one address does not come back in step), else
  // exponential back-off from the poll interval with jitter, up to a minute.
  function wait(r) {
    errors++;
    let ra = r && r.headers.get('Retry-After');
    ra = ra ? (isNaN(ra) ? Date.parse(ra) - now() : ra * 1000) : 0;
    if (ra > 0) return ra * (1 + Math.random() / 2);
    const ms = Math.min(60000, Math.max(every, 2000) * Math.pow(2, Math.min(errors - 1, 5)));
    return ms / 2 + Math.random() * ms / 2;
  }
  function retry(ms, msg) {
    $('problem').textContent = t(msg, {n: num(Math.max(1, Math.round(ms / 1000)))});
    $('problem').hidden = false;
    schedule(ms);
  }
  // prepareJoin resolves to what the join request carries beyond the cookies: {headers, body}.
  // A join answered 428 pow_required left a challenge: it is solved in a Web Worker
  // (static/pow.js, fetched only then) and the answer goes in the Foyer-PoW header, once.
  let challenge = null;
  function prepareJoin() {
    const c = challenge;
    if (!c) return Promise.resolve({headers: {}, body: undefined});
    challenge = null;
    return new Promise(done => {
      let wk;
      try { wk = new Worker(boot.joinURL.replace(/\/v1\/rooms\/.*$/, '/static/pow.js')); } catch (e) { done({headers: {}}); return; }
      wk.onmessage = e => { wk.terminate(); done({headers: {'Foyer-PoW': e.data.solution}}); };
      wk.onerror = () => { wk.terminate(); done({headers: {}}); };
      wk.postMessage({challenge: c.challenge, difficulty: c.difficulty});
    });
  }

  function poll(keepalive) {
    if (busy) return;
    busy = true; clearTimeout(timer); lastPoll = now();
    const join = joining, h = {Accept: 'application/json'};
    if (ticket) h['Foyer-Ticket'] = ticket;
    // the best place shown so far: a gateway whose cache is a step behind answers no higher
    if (!join && mine.b > 0) h['Foyer-Place'] = String(mine.b);
    (join ? prepareJoin() : Promise.resolve({})).then(x => {
      const o = {method: join ? 'POST' : 'GET', credentials: 'same-origin', headers: Object.assign(h, x.headers), cache: 'no-store'};
      if (x.body !== undefined) o.body = x.body;
      // keepalive: the request still goes out if the page is being hidden or closed.
      if (keepalive === true && !join) o.keepalive = true;
      return fetch(join ? boot.joinURL : boot.statusURL, o);
    }).then(r => r.json().catch(() => null).then(j => {
      busy = false;
      if (r.ok && j && j.state) {
        errors = 0; $('problem').hidden = true; $('problem').textContent = problemText;
        if (join) { joining = false; if (!j.position || j.position !== mine.p) mine = {p: 0, j: 0, b: 0}; }
        opening = false;
        if (j.ticket) { ticket = j.ticket; try { sessionStorage.setItem(tkey, ticket); } catch (e) { /* storage off */ } }
        every = clamp(j.poll_after_ms || 5000, 1000, 60000);
        apply(j);
        // Sold out: nothing more to wait for; look again now and then in case seats come back.
        schedule(j.state === 'sold_out' ? Math.max(every, 300000) : (j.state === 'prequeue' || j.state === 'scheduled') && opening ? 1000 : every);
        return;
      }
      const code = j && j.error && j.error.code;
      if (join && code === 'pow_required' && j.pow) { challenge = j.pow; now1(); return; }
      if (code === 'room_closed' || code === 'sold_out') {
        apply(Object.assign({}, last, {state: code === 'sold_out' ? 'sold_out' : 'closed', admitted: false, reconnecting: false}));
        schedule(code === 'sold_out' ? 300000 : 60000);
        return;
      }
      // Only a ticket the server says is unknown or spent is dropped; a refusal (429), an
      // outage (5xx) or a network error keeps it, and with it the place.
      if (!join && (r.status === 401 || code === 'no_ticket' || code === 'bad_ticket')) {
        joining = true; ticket = null;
        try { sessionStorage.removeItem(tkey); } catch (e) { /* storage off */ }
        schedule(wait(null) / 4);
        return;
      }
      if (code === 'room_paused') { apply(Object.assign({}, last, {state: 'paused'})); schedule(wait(r)); return; }
      if (r.status === 429 || code === 'busy') return retry(wait(r), join ? 'busy_join' : 'busy');
      if (r.status >= 500) { apply(Object.assign({}, last, {reconnecting: true})); schedule(wait(r)); return; }
      retry(wait(r), 'problem');
    }))
      .catch(() => { busy = false; apply(Object.assign({}, last, {reconnecting: true})); schedule(wait(null)); });
  }
  // soon polls at once unless a poll has just gone out; now polls at once, or as soon as the
  // request in flight is answered.
  const now1 = () => { if (busy) again = true; else poll(); };
  const soon = () => { if (busy || now() - lastPoll > 1000) now1(); };

  d.querySelectorAll('a[data-lang]').forEach(a => a.addEventListener('click', e => {
    e.preventDefault();
    d.cookie = 'foyer_lang=' + a.dataset.lang + ';path=/;max-age=31536000;samesite=lax' + (location.protocol === 'https:' ? ';secure' : '');
    location.reload();
  }));
  // Hidden: one status fetch now tells the server the visitor was here as late as possible
  // (iOS stops the page about 3 s later). Visible again: ask at once.
  d.addEventListener('visibilitychange', () => {
    if (d.hidden) { if (!joining && now() - lastPoll > 2000) poll(true); } else soon();
    if (shown) retitle(last, shown); // flash while hidden, hold still when seen
  });
  addEventListener('pageshow', e => { if (e.persisted) now1(); });
  d.addEventListener('resume', now1); // Chrome thawing a frozen page: its timers were stopped
  addEventListener('online', () => { errors = 0; now1(); });

  alertsOn();
  if (joining || !boot.hasTicket) { joining = joining && !ticket; poll(); } else { apply(last); schedule(every); }
})();
