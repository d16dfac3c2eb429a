/* foyer visitor feedback (issue 14): one tap on a rating sends it, with the optional comment
 * typed above it. On the feedback page the prompt is there; on the queue page (which loads
 * this script only when the sale is closed or sold out, or the visitor's session ended) the
 * prompt is fetched from the feedback page, so the waiting page carries none of it. Once per
 * visitor and room: the server refuses a second answer, and the page remembers it gave one. */
(() => {
  'use strict';
  const d = document, me = d.currentScript || d.getElementById('fb-js');
  const $ = id => d.getElementById(id);
  const show = (el, on) => { if (el && el.hidden === on) el.hidden = !on; };
  const onQueuePage = !!$('p-wait');
  const ended = () => !onQueuePage || ['p-closed', 'p-soldout'].some(id => { const e = $(id); return e && !e.hidden; });
  function wire(fb, ask) {
    const key = 'foyer_fb_' + fb.dataset.room;
    const get = () => { try { return localStorage.getItem(key); } catch (e) { return null; } };
    const put = v => { try { localStorage.setItem(key, v); } catch (e) { /* storage off */ } };
    function update() {
      show(fb, ended() || ask);
      show($('fb-ended'), ask);
      const done = get();
      show($('fb-form'), !done);
      show($('fb-thanks'), done === 'sent');
      show($('fb-given'), done === 'given');
    }
    let busy = false;
    fb.querySelectorAll('button[data-rating]').forEach(b => b.addEventListener('click', () => {
      if (busy) return;
      busy = true;
      show($('fb-error'), false);
      const h = {'Content-Type': 'application/json', Accept: 'application/json'};
      try { const t = sessionStorage.getItem('foyer_ticket_' + fb.dataset.room); if (t) h['Foyer-Ticket'] = t; } catch (e) { /* storage off */ }
      fetch(fb.dataset.url, {method: 'POST', credentials: 'same-origin', headers: h, cache: 'no-store',
        body: JSON.stringify({rating: +b.dataset.rating, comment: $('fb-comment').value.slice(0, 500)})})
        .then(r => r.json().catch(() => null).then(j => {
          busy = false;
          const code = j && j.error && j.error.code;
          if (r.status === 204 || code === 'feedback_given' || code === 'feedback_full') { put(r.status === 204 ? 'sent' : 'given'); update(); return; }
          if (code === 'no_ticket') { fb.remove(); return; } // only people who were in this line answer
          show($('fb-error'), true);
        }))
        .catch(() => { busy = false; show($('fb-error'), true); });
    }));
    ['p-closed', 'p-soldout'].forEach(id => { const e = $(id); if (e) new MutationObserver(update).observe(e, {attributes: true, attributeFilter: ['hidden']}); });
    update();
  }
  if ($('fb')) { wire($('fb'), $('fb').dataset.ask === '1'); return; }
  if (!me || !me.dataset.url) return;
  const ask = me.dataset.ask === '1';
  // the prompt in the page's language (which may come from ?foyer_lang= rather than a cookie)
  fetch(me.dataset.url + '?foyer_lang=' + encodeURIComponent(d.documentElement.lang || 'en'), {credentials: 'same-origin', headers: {Accept: 'text/html'}})
    .then(r => (r.ok ? r.text() : Promise.reject(r.status)))
    .then(html => {
      const fb = new DOMParser().parseFromString(html, 'text/html').getElementById('fb');
      if (!fb || $('fb')) return;
      const node = d.importNode(fb, true);
      node.hidden = true;
      const at = $('alerts');
      at ? at.parentNode.insertBefore(node, at) : $('main').appendChild(node);
      wire(node, ask);
    })
    .catch(() => { /* no prompt: nothing lost */ });
})();
