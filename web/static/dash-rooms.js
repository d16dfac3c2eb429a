/* foyer dashboard: the rooms panel (issue 15). Creates a room from a template
 * (POST {api}/rooms), shows every bad field of a 400 next to its input, and deletes
 * rooms created at runtime (DELETE {api}/rooms/{room}) after a confirmation. The room
 * list (dash.js) is refreshed right after either. */
(() => {
  'use strict';
  const d = document, $ = id => d.getElementById(id), F = window.foyerDash, form = $('rm-form');
  if (!F || !form) return;
  const t = F.t, sel = $('rm-template'), status = $('rm-status'), list = $('rm-list');
  // API field -> the input of the form; other fields are named in the status line
  const inputs = {template: 'template', name: 'name', display_name: 'display', 'settings.rate_per_minute': 'rate', 'settings.max_active': 'cap'};
  let tpls = null, loading = false;
  const say = (msg, bad) => { status.textContent = msg; status.className = bad ? 'err' : 'ok'; };
  function clear() {
    Object.values(inputs).forEach(k => { $('e-rm-' + k).textContent = ''; $('rm-' + k).removeAttribute('aria-invalid'); });
  }
  function loadTemplates() {
    if (loading) return;
    loading = true;
    F.req('GET', '/room-templates').then(r => {
      loading = false;
      if (r.s !== 200 || !r.j) return;
      tpls = r.j.templates || [];
      form.hidden = !tpls.length;
      if (!tpls.length) say(t('rm_none'));
      sel.textContent = '';
      tpls.forEach(x => sel.append(new Option(x.display_name ? x.name + ' – ' + x.display_name : x.name, x.name)));
      hint();
    }, () => { loading = false; });
  }
  // the empty overrides show the template's values
  function hint() {
    const x = tpls && tpls.find(p => p.name === sel.value);
    $('rm-rate').placeholder = x ? x.settings.rate_per_minute : '';
    $('rm-cap').placeholder = x ? x.settings.max_active : '';
  }
  sel.addEventListener('change', hint);
  form.addEventListener('submit', e => {
    e.preventDefault();
    clear();
    const name = $('rm-name').value.trim(), body = {name, template: sel.value}, settings = {};
    if ($('rm-display').value.trim()) body.display_name = $('rm-display').value.trim();
    [['rate', 'rate_per_minute'], ['cap', 'max_active']].forEach(([k, f]) => {
      const v = $('rm-' + k).value.trim();
      if (v !== '') settings[f] = Number(v);
    });
    if (Object.keys(settings).length) body.settings = settings;
    const btn = form.querySelector('button');
    btn.disabled = true; // one creation at a time: a double click is not a "name taken"
    F.req('POST', '/rooms', body).finally(() => { btn.disabled = false; }).then(r => {
      const e = (r.j && r.j.error) || {};
      if (r.s === 201) {
        say(t('rm_created', {room: name}));
        ['name', 'display', 'rate', 'cap'].forEach(k => { $('rm-' + k).value = ''; });
        return F.refresh();
      }
      if (r.s === 400 && e.fields && Object.keys(e.fields).length) {
        const other = [];
        let first = null;
        Object.keys(e.fields).forEach(f => {
          const msg = f === 'name' ? t('rm_bad_name') : e.fields[f], k = inputs[f];
          if (!k) { other.push(f + ': ' + msg); return; }
          $('e-rm-' + k).textContent = msg;
          $('rm-' + k).setAttribute('aria-invalid', 'true');
          first = first || $('rm-' + k);
        });
        say(t('rm_invalid', {n: F.num(Object.keys(e.fields).length)}) + (other.length ? ' ' + other.join('; ') : ''), true);
        if (first) first.focus();
        return;
      }
      if (r.s === 409 && e.code === 'room_exists') {
        $('e-rm-name').textContent = t('rm_taken', {room: name});
        $('rm-name').setAttribute('aria-invalid', 'true');
        $('rm-name').focus();
        say(t('rm_taken', {room: name}), true);
        return;
      }
      say(t('failed', {message: e.message || 'HTTP ' + r.s}), true);
    }, () => say(t('unreachable'), true));
  });
  function del(name) {
    F.req('DELETE', '/rooms/' + encodeURIComponent(name)).then(r => {
      if (r.s === 200) { say(t('rm_deleted', {room: name})); return F.refresh(); }
      say(t('failed', {message: (r.j && r.j.error && r.j.error.message) || 'HTTP ' + r.s}), true);
    }, () => say(t('unreachable'), true));
  }
  // one delete button per runtime room; rooms from the YAML are changed there
  function rooms() {
    if (!tpls) loadTemplates();
    const want = F.rooms().filter(r => r.runtime).map(r => r.name);
    if (want.join() === list.dataset.names) return;
    list.dataset.names = want.join();
    list.textContent = '';
    want.forEach(n => {
      const li = d.createElement('li'), b = d.createElement('button');
      b.type = 'button'; b.className = 'danger'; b.textContent = t('rm_delete', {room: n}); b.dataset.room = n;
      b.addEventListener('click', () => F.ask(t('rm_confirm', {room: n}), () => del(n)));
      li.append(b); list.append(li);
    });
  }
  d.addEventListener('foyer:rooms', rooms);
})();
