/* foyer dashboard: the visitor feedback panel (issue 14). The selected room's ratings and the
 * newest comments from GET {api}/rooms/{room}/feedback, refreshed every 10 s while a room is
 * open here. Comments are visitors' words: they are set as text, never as HTML. */
(() => {
  'use strict';
  const d = document, box = d.getElementById('fb-panel');
  if (!box) return;
  const boot = JSON.parse(d.getElementById('boot').textContent), M = boot.msgs || {}, API = boot.api;
  const t = (k, a) => (M[k] || k).replace(/\{(\w+)\}/g, (_, n) => (a && n in a ? a[n] : ''));
  const L = boot.lang === 'ko' ? 'ko-KR' : 'en-US', nf = new Intl.NumberFormat(L);
  const when = new Intl.DateTimeFormat(L, {month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit'});
  const token = () => { try { return sessionStorage.getItem('foyer_admin_token') || ''; } catch (e) { return ''; } };
  const el = (tag, text, cls) => { const e = d.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; };
  // current is the room the dashboard shows: from window.foyerDash when the dashboard offers
  // it, else from the room heading ("Name (room)" or "room").
  function current() {
    const f = window.foyerDash;
    if (f && typeof f.sel === 'function') return f.sel() || '';
    const r = d.getElementById('room'), h = d.getElementById('h-room');
    if (!r || r.hidden || !h) return '';
    const m = /\(([a-z0-9-]{1,64})\)$/.exec(h.textContent.trim());
    return m ? m[1] : h.textContent.trim();
  }
  function render(j) {
    box.textContent = '';
    box.append(el('h2', t('fb_title')));
    if (!j.total) { box.append(el('p', t('fb_none'), 'help')); return; }
    box.append(el('p', t('fb_total', {n: nf.format(j.total), c: nf.format(j.comments_total || 0)}), 'help'));
    const tb = el('table'), body = el('tbody');
    tb.id = 'fb-dist';
    for (let r = 5; r >= 1; r--) {
      const n = (j.counts && j.counts[r]) || 0, tr = el('tr'), bar = el('progress');
      bar.max = j.total; bar.value = n;
      tr.append(el('th', t('fb_rating', {n: r})), el('td', nf.format(n), 'r'), el('td'));
      tr.lastChild.append(bar);
      tr.dataset.rating = r;
      body.append(tr);
    }
    tb.append(body);
    box.append(tb);
    if (j.comments && j.comments.length) {
      box.append(el('h3', t('fb_comments')));
      const ul = el('ul');
      ul.id = 'fb-comments';
      j.comments.forEach(c => {
        const li = el('li');
        li.append(el('strong', t('fb_rating', {n: c.rating})), ' · ', el('span', when.format(new Date(c.at)), 'help'), el('br'), el('span', c.comment));
        ul.append(li);
      });
      box.append(ul);
    }
  }
  let room = '', timer = 0, seq = 0;
  function load() {
    clearTimeout(timer);
    const r = current();
    if (r !== room) { room = r; box.textContent = ''; }
    box.hidden = !room;
    if (!room) { timer = setTimeout(load, 2000); return; }
    const my = ++seq;
    fetch(API + '/rooms/' + encodeURIComponent(room) + '/feedback?limit=50',
      {headers: {Accept: 'application/json', Authorization: 'Bearer ' + token()}, credentials: 'same-origin', cache: 'no-store'})
      .then(x => (x.ok ? x.json() : null))
      .then(j => { if (j && my === seq && j.room === room) render(j); }, () => {})
      .then(() => { if (my === seq) timer = setTimeout(load, 10000); });
  }
  d.addEventListener('foyer:pick', load);
  const h = d.getElementById('h-room');
  if (h) new MutationObserver(() => { if (current() !== room) load(); }).observe(h, {childList: true, characterData: true, subtree: true});
  load();
})();
