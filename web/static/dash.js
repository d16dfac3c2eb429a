/* foyer dashboard: talks to the admin API with the token from sessionStorage (a header, never a URL). No framework. */
(() => {
  'use strict';
  const d = document, boot = JSON.parse(d.getElementById('boot').textContent);
  const M = boot.msgs, L = boot.lang === 'ko' ? 'ko-KR' : 'en-US', API = boot.api, KEY = 'foyer_admin_token';
  const $ = id => d.getElementById(id);
  const t = (k, a) => (M[k] || k).replace(/\{(\w+)\}/g, (_, n) => (a && n in a ? a[n] : ''));
  const nf = new Intl.NumberFormat(L), nf1 = new Intl.NumberFormat(L, {maximumFractionDigits: 1});
  const clock = new Intl.DateTimeFormat(L, {hour: 'numeric', minute: '2-digit', second: '2-digit'});
  const num = v => (v == null || isNaN(v) ? '–' : nf.format(Math.round(v)));
  const esc = s => String(s).replace(/[&<>"]/g, c => '&#' + c.charCodeAt(0) + ';');
  const set = (el, v) => { if (el.textContent !== v) el.textContent = v; };
  let token = '', rooms = [], sel = '', busy = false, timer = 0, pending = null;
  const rows = {};
  try { token = sessionStorage.getItem(KEY) || ''; } catch (e) { /* storage off */ }

  function req(method, path, body, extra) {
    const h = Object.assign({Accept: 'application/json', Authorization: 'Bearer ' + token}, extra || {});
    if (body) h['Content-Type'] = 'application/json';
    return fetch(API + path, {method, headers: h, body: body ? JSON.stringify(body) : undefined, credentials: 'same-origin', cache: 'no-store'})
      .then(r => r.json().catch(() => null).then(j => ({s: r.status, j})));
  }
  function show(on) { $('signin').hidden = on; $('dash').hidden = !on; $('signout').hidden = !on; }
  function signOut(msg) {
    token = ''; clearTimeout(timer);
    try { sessionStorage.removeItem(KEY); } catch (e) { /* storage off */ }
    show(false); $('signin-err').textContent = msg || ''; $('token').focus();
  }
  function conn(bad) { $('conn').hidden = !bad; set($('conn'), bad ? t('unreachable') : ''); }

  $('signin-form').addEventListener('submit', e => {
    e.preventDefault();
    token = $('token').value.trim(); $('signin-err').textContent = '';
    req('GET', '/rooms').then(r => {
      if (r.s === 200 && r.j) {
        try { sessionStorage.setItem(KEY, token); } catch (e) { /* storage off */ }
        $('token').value = ''; show(true); got(r.j); start(); $('main').focus();
      } else { token = ''; $('signin-err').textContent = t(r.s === 401 || r.s === 403 ? 'bad_token' : 'unreachable'); }
    }, () => { token = ''; $('signin-err').textContent = t('unreachable'); });
  });
  $('signout').addEventListener('click', () => signOut(''));

  function start() { clearTimeout(timer); timer = setTimeout(loop, 1000); }
  function loop() {
    timer = setTimeout(loop, 1000);
    if (busy) return;
    busy = true;
    req('GET', '/rooms').then(r => {
      busy = false;
      if (r.s === 401 || r.s === 403) return signOut(t('expired'));
      if (r.s !== 200 || !r.j) return conn(true);
      conn(false); got(r.j);
    }, () => { busy = false; conn(true); });
  }
  function got(j) {
    rooms = j.rooms || [];
    table();
    if (sel) room(false);
    set($('updated'), t('updated', {time: clock.format(new Date())}));
    emit('rooms');
  }
  // Panels in their own files (dash-*.js) use window.foyerDash and listen for foyer:rooms
  // (after each refresh of the list) and foyer:pick (a room chosen).
  const emit = what => d.dispatchEvent(new CustomEvent('foyer:' + what, {detail: sel}));
  window.foyerDash = {req, t, num, set, esc, L, cur: () => cur(), sel: () => sel, rooms: () => rooms,
    ask, refresh: () => { clearTimeout(timer); loop(); }}; // ask: the confirm dialog; refresh: the room list now

  const cur = () => rooms.find(r => r.name === sel);
  function clears(r) {
    const w = r.live ? r.live.waiting : 0, rate = r.settings.rate_per_minute;
    if (!w) return t('dur_none');
    if (r.clear && ['paused', 'stalled', 'closed'].includes(r.clear.limit)) return t('dur_stalled');
    const s = r.eta_clear_seconds != null ? r.eta_clear_seconds : rate > 0 ? w / rate * 60 : null;
    if (s == null || !isFinite(s) || rate <= 0) return t('dur_stalled');
    const m = Math.max(1, Math.ceil(s / 60));
    return m < 60 ? t('dur_min', {n: num(m)}) : t('dur_h', {h: num(Math.floor(m / 60)), m: num(m % 60)});
  }
  function table() {
    const tb = $('rooms').tBodies[0];
    rooms.forEach(r => {
      let row = rows[r.name];
      if (!row) {
        const tr = d.createElement('tr'), b = d.createElement('button');
        b.type = 'button'; b.addEventListener('click', () => pick(r.name));
        const td0 = d.createElement('td'); td0.appendChild(b); tr.appendChild(td0);
        const cells = [b];
        ['', 'r', 'r', 'r', 'r', ''].forEach(c => { const td = d.createElement('td'); td.className = c; tr.appendChild(td); cells.push(td); });
        tb.appendChild(tr);
        row = rows[r.name] = {tr, cells};
      }
      const l = r.live || {}, s = r.settings, c = row.cells;
      set(c[0], r.display_name ? r.display_name + ' (' + r.name + ')' : r.name);
      set(c[1], t('state_' + r.state));
      set(c[2], num(l.waiting));
      set(c[3], num(l.admitted_per_minute) + ' (' + num(s.rate_per_minute) + ')');
      set(c[4], num(l.active) + ' / ' + num(s.max_active));
      set(c[5], clears(r));
      set(c[6], t(l.store_ok === false ? 'store_down' : 'store_ok'));
      c[6].className = l.store_ok === false ? 'bad' : '';
      if (r.name === sel) row.tr.setAttribute('aria-current', 'true'); else row.tr.removeAttribute('aria-current');
    });
    Object.keys(rows).forEach(n => { if (!rooms.some(r => r.name === n)) { rows[n].tr.remove(); delete rows[n]; } });
  }
  function pick(name) {
    sel = name;
    d.querySelectorAll('#room .err').forEach(e => { e.textContent = ''; });
    d.querySelectorAll('#room input').forEach(i => { delete i.dataset.dirty; i.removeAttribute('aria-invalid'); });
    set($('saved'), '');
    $('room').hidden = false; $('pick').hidden = true;
    table(); room(true); emit('pick');
    $('h-room').focus();
  }
  const localInput = iso => { const x = new Date(iso); return isNaN(x) ? '' : new Date(x - x.getTimezoneOffset() * 60000).toISOString().slice(0, 19); };
  function room(force) {
    const r = cur();
    if (!r) { $('room').hidden = true; return; }
    const l = r.live || {}, s = r.settings, b = r.backend, k = n => d.querySelector('#room [data-k=' + n + ']');
    set($('h-room'), r.display_name ? r.display_name + ' (' + r.name + ')' : r.name);
    set(k('waiting'), num(l.waiting));
    set(k('admitted'), num(l.admitted_per_minute));
    set(k('rate'), num(s.rate_per_minute));
    set(k('active'), num(l.active) + ' / ' + num(s.max_active));
    set(k('clears'), clears(r));
    set(k('backend'), b ? num(b.p95_ms) + ' ms / ' + nf1.format((b.error_rate || 0) * 100) + '%' : t('na'));
    set(k('remaining'), s.sold_out ? t('state_sold_out') : s.remaining == null ? t('remaining_unknown') : num(s.remaining));
    $('soldout').hidden = !!s.sold_out; $('unsold').hidden = !s.sold_out && s.remaining == null;
    ['rate_per_minute', 'max_active', 'session_seconds', 'opens_at', 'remaining'].forEach(f => {
      const i = $('f-' + f);
      if (force || (!i.dataset.dirty && d.activeElement !== i)) i.value = f === 'opens_at' ? (s.opens_at ? localInput(s.opens_at) : '') : (s[f] == null ? '' : s[f]);
    });
  }
  d.querySelectorAll('#room input').forEach(i => i.addEventListener('input', () => { i.dataset.dirty = '1'; }));

  function fieldErr(f, msg) {
    set($('e-' + f), msg || '');
    const i = $('f-' + f);
    if (i) { if (msg) i.setAttribute('aria-invalid', 'true'); else i.removeAttribute('aria-invalid'); }
  }
  function ask(text, fn) {
    const dlg = $('confirm');
    set($('confirm-text'), text); pending = fn;
    if (dlg.showModal) dlg.showModal(); else if (window.confirm(text)) { pending = null; fn(); }
  }
  // Confirm runs the change from its own click, not from the dialog's close event,
  // which arrives late and could belong to the previous question.
  $('confirm-ok').addEventListener('click', e => { e.preventDefault(); const fn = pending; pending = null; $('confirm').close('ok'); if (fn) fn(); });

  function patch(r, body, f, shown) {
    set($('saved'), '');
    req('PATCH', '/rooms/' + encodeURIComponent(r.name), body, {'If-Match': '"' + r.settings.version + '"'}).then(res => {
      const e = (res.j && res.j.error) || {};
      if (res.s === 200 && res.j && res.j.settings) {
        rooms = rooms.map(x => (x.name === res.j.name ? res.j : x));
        const i = $('f-' + f); if (i) delete i.dataset.dirty;
        table(); room(true); fieldErr(f, '');
        set($('saved'), t('saved', {field: t('field_' + f), value: shown, version: res.j.settings.version}));
      } else if (res.s === 401 || res.s === 403) signOut(t('expired'));
      else if (res.s === 409) {
        fieldErr(f, t('conflict'));
        req('GET', '/rooms/' + encodeURIComponent(r.name)).then(x => { if (x.s === 200 && x.j) { rooms = rooms.map(y => (y.name === x.j.name ? x.j : y)); room(true); } });
      } else if (e.fields && Object.keys(e.fields).length) Object.keys(e.fields).forEach(k => fieldErr($('e-' + k) ? k : f, e.fields[k]));
      else fieldErr(f, t('failed', {message: e.message || 'HTTP ' + res.s}));
    }, () => fieldErr(f, t('unreachable')));
  }
  d.querySelectorAll('form[data-field]').forEach(fm => fm.addEventListener('submit', e => {
    e.preventDefault();
    const f = fm.dataset.field, r = cur();
    if (!r) return;
    const raw = $('f-' + f).value.trim();
    let v, shown, from;
    if (f === 'opens_at') {
      const x = new Date(raw);
      if (!raw || isNaN(x)) return fieldErr(f, t('invalid_time'));
      v = x.toISOString(); shown = x.toLocaleString(L); from = r.settings.opens_at ? new Date(r.settings.opens_at).toLocaleString(L) : '–';
    } else {
      if (!/^\d+$/.test(raw)) return fieldErr(f, t('invalid_number'));
      v = parseInt(raw, 10); shown = num(v); from = num(r.settings[f]);
    }
    fieldErr(f, '');
    ask(t('confirm_field', {field: t('field_' + f), room: r.display_name || r.name, from, to: shown}), () => patch(r, {[f]: v}, f, shown));
  }));
  d.querySelectorAll('button[data-state]').forEach(b => b.addEventListener('click', () => {
    const r = cur(), st = b.dataset.state;
    if (!r) return;
    fieldErr('state', '');
    ask(t('confirm_state', {room: r.display_name || r.name, state: t('state_' + st)}), () => patch(r, {state: st}, 'state', t('state_' + st)));
  }));
  // Stock: sold out, or lift it (the stock is unknown again).
  [['soldout', true], ['unsold', false]].forEach(([id, v]) => $(id).addEventListener('click', () => {
    const r = cur();
    if (!r) return;
    fieldErr('sold_out', '');
    ask(t(v ? 'confirm_soldout' : 'confirm_unsold', {room: r.display_name || r.name}), () => patch(r, {sold_out: v}, 'sold_out', t(v ? 'state_sold_out' : 'remaining_unknown')));
  }));

  // The refund list: charged but not booked, refreshed every 5 s while a room is open here.
  let rbusy = false, flagged = [];
  const when = iso => (iso ? new Date(iso).toLocaleString(L) : '–');
  function refunds() {
    if (rbusy || !sel || !token) return;
    rbusy = true;
    const name = sel;
    req('GET', '/rooms/' + encodeURIComponent(name) + '/flagged').then(r => {
      rbusy = false;
      if (name !== sel || r.s !== 200 || !r.j) return;
      flagged = r.j.flagged || [];
      set($('refund-count'), '(' + num(r.j.count) + ')');
      set(d.querySelector('#room [data-k=flagged]'), num(r.j.count));
      $('refund-none').hidden = flagged.length > 0;
      const tb = $('refunds').tBodies[0];
      tb.textContent = '';
      flagged.forEach(f => {
        const tr = d.createElement('tr');
        [f.order_ref || t('no_ref'), f.visitor, t('why_' + f.flag), when(f.paid_at)].forEach(v => { const td = d.createElement('td'); td.textContent = v; tr.appendChild(td); });
        const td = d.createElement('td');
        [['refunded', 'refunded'], ['booked_by_hand', 'by_hand']].forEach(([res, label]) => {
          const b = d.createElement('button');
          b.type = 'button'; b.className = 'ghost'; b.textContent = t(label); b.dataset.resolve = res;
          b.addEventListener('click', () => ask(t('confirm_resolve', {order: f.order_ref || t('no_ref'), visitor: f.visitor, resolution: t(label)}), () => resolve(name, f.lease, res)));
          b.dataset.lease = f.lease;
          td.appendChild(b); td.appendChild(d.createTextNode(' '));
        });
        tr.appendChild(td); tb.appendChild(tr);
      });
    }, () => { rbusy = false; });
  }
  function resolve(room, lease, resolution) {
    const btns = d.querySelectorAll('#refunds button[data-lease="' + CSS.escape(lease) + '"]');
    btns.forEach(x => { x.disabled = true; });
    set($('e-refunds'), '');
    req('POST', '/rooms/' + encodeURIComponent(room) + '/flagged/' + encodeURIComponent(lease) + '/resolve', {resolution}).then(r => {
      if (r.s === 401 || r.s === 403) return signOut(t('expired'));
      if (r.s !== 200 && r.s !== 409) { btns.forEach(x => { x.disabled = false; }); set($('e-refunds'), t('failed', {message: (r.j && r.j.error && r.j.error.message) || 'HTTP ' + r.s})); }
      refunds();
    }, () => { btns.forEach(x => { x.disabled = false; }); set($('e-refunds'), t('unreachable')); });
  }
  function download(fmt) {
    if (!sel) return;
    const name = sel;
    fetch(API + '/rooms/' + encodeURIComponent(name) + '/flagged' + (fmt === 'csv' ? '?format=csv' : ''), {headers: {Authorization: 'Bearer ' + token}, cache: 'no-store'})
      .then(r => (r.ok ? r.blob() : Promise.reject(new Error('HTTP ' + r.status))))
      .then(b => { const a = d.createElement('a'); a.href = URL.createObjectURL(b); a.download = 'foyer-refunds-' + name + '.' + fmt; d.body.appendChild(a); a.click(); a.remove(); setTimeout(() => URL.revokeObjectURL(a.href), 1000); },
        e => set($('e-refunds'), t('failed', {message: e.message})));
  }
  $('export-csv').addEventListener('click', () => download('csv'));
  $('export-json').addEventListener('click', () => download('json'));
  const pick0 = pick;
  pick = name => { pick0(name); flagged = []; $('refunds').tBodies[0].textContent = ''; set($('refund-count'), ''); set(d.querySelector('#room [data-k=flagged]'), '–'); refunds(); };
  setInterval(refunds, 5000);

  d.querySelectorAll('a[data-lang]').forEach(a => a.addEventListener('click', e => {
    e.preventDefault();
    d.cookie = 'foyer_lang=' + a.dataset.lang + ';path=/;max-age=31536000;samesite=lax' + (location.protocol === 'https:' ? ';secure' : '');
    location.reload();
  }));

  if (token) { show(true); loop(); } else { show(false); }
})();
