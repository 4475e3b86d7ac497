// drydock's web interface: a hash-routed page over the same-origin API.
// Everything shown is built with DOM calls (textContent, never innerHTML),
// so nothing an image or a registry says can become markup.
'use strict';

const SEVS = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'NEGLIGIBLE', 'UNKNOWN'];
const main = document.getElementById('main');
let token = sessionStorage.getItem('drydock-token') || '';
let me = null;

// el builds an element: el('a', {href: '#'}, 'text', child…).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

class APIError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || ('HTTP ' + status));
    this.status = status;
  }
}

async function api(path, opts) {
  opts = opts || {};
  const headers = { Authorization: 'Bearer ' + token };
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  const resp = await fetch('/api/v1' + path, { method: opts.method || 'GET', headers, body, cache: 'no-store' });
  if (resp.status === 401) {
    signOut();
    throw new APIError(401, { detail: 'sign in again' });
  }
  if (opts.raw) {
    if (!resp.ok) throw new APIError(resp.status, await resp.json().catch(() => null));
    return resp;
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) throw new APIError(resp.status, data);
  return data;
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

function route() {
  const h = location.hash.replace(/^#/, '') || '/images';
  const [p, q] = h.split('?');
  return { parts: p.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(q || '') };
}

function go(path, params) { location.hash = '#' + path + (params ? qs(params) : ''); }

function short(d) {
  const i = (d || '').indexOf(':');
  return i >= 0 ? d.slice(0, i + 13) : (d || '');
}

function when(t) {
  if (!t) return '';
  const d = new Date(t);
  return isNaN(d) ? t : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function sevBadge(s) { return el('span', { class: 'sev sev-' + String(s || 'UNKNOWN').toLowerCase() }, s || 'UNKNOWN'); }

function countCells(c) { return SEVS.map(s => el('td', { class: 'n c-' + s.toLowerCase(), dataset: { sev: s } }, c ? c[s.toLowerCase()] : 0)); }

function setPage(title, ...kids) {
  document.title = title + ' · drydock';
  main.replaceChildren(el('h1', {}, title), ...kids);
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('here', location.hash.startsWith(a.getAttribute('href')));
}

function fail(err) {
  main.append(el('p', { class: 'error', role: 'alert' }, 'Error: ' + err.message));
}

function signOut() {
  token = '';
  me = null;
  sessionStorage.removeItem('drydock-token');
  document.getElementById('who').replaceChildren();
}

// Sign-in: the token is checked against the API, then kept for the tab.
function login(msg) {
  const input = el('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: 'ddk_…', size: 50 });
  const form = el('form', { id: 'login', onsubmit: async ev => {
    ev.preventDefault();
    token = input.value.trim();
    try {
      me = await api('/whoami');
      sessionStorage.setItem('drydock-token', token);
      showWho();
      render();
    } catch (e) {
      signOut();
      login('That token was not accepted: ' + e.message);
    }
  } }, el('label', { for: 'token' }, 'API token '), input, ' ', el('button', { type: 'submit' }, 'Sign in'));
  setPage('Sign in', el('p', {}, 'Sign in with a drydock API token (drydock server token create --name NAME --scope read|scan).'), form,
    msg ? el('p', { class: 'error', role: 'alert' }, msg) : null);
  input.focus();
}

function showWho() {
  document.getElementById('who').replaceChildren(me ? me.name + ' (' + me.scope + ') ' : '',
    el('button', { id: 'signout', class: 'link', onclick: () => { signOut(); login(); } }, 'Sign out'));
}

// ---- images ----

function trendChart(points) {
  const ns = 'http://www.w3.org/2000/svg';
  const W = 600, H = 120, P = 4;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'trend');
  svg.setAttribute('role', 'img');
  const label = document.createElementNS(ns, 'title');
  label.textContent = 'Open findings by severity, one point a day';
  svg.append(label);
  if (!points.length) return svg;
  const series = ['critical', 'high', 'medium'];
  const max = Math.max(1, ...points.flatMap(p => series.map(s => p.counts[s])));
  for (const s of series) {
    const line = document.createElementNS(ns, 'polyline');
    const n = points.length;
    line.setAttribute('points', points.map((p, i) =>
      `${(P + (n === 1 ? W / 2 : i * (W - 2 * P) / (n - 1))).toFixed(1)},${(H - P - p.counts[s] * (H - 2 * P) / max).toFixed(1)}`).join(' '));
    line.setAttribute('class', 'line-' + s);
    line.setAttribute('fill', 'none');
    svg.append(line);
  }
  return svg;
}

async function imagesPage(params) {
  const f = { repository: params.get('repository') || '', tag: params.get('tag') || '', severity: params.get('severity') || '', after: params.get('after') || '' };
  const repo = el('input', { name: 'repository', id: 'f-repository', value: f.repository, placeholder: 'registry/repository' });
  const tag = el('input', { name: 'tag', id: 'f-tag', value: f.tag, placeholder: 'tag' });
  const sev = el('select', { name: 'severity', id: 'f-severity' }, el('option', { value: '' }, 'any severity'),
    SEVS.slice(0, 5).map(s => el('option', { value: s, selected: s === f.severity }, s + ' or above')));
  const form = el('form', { class: 'filters', onsubmit: ev => { ev.preventDefault(); go('/images', { repository: repo.value.trim(), tag: tag.value.trim(), severity: sev.value }); } },
    repo, tag, sev, el('button', { type: 'submit' }, 'Filter'));
  const trendBox = el('figure', { class: 'trendbox' }, el('figcaption', {}, 'Open critical, high and medium findings of the fleet, by day'));
  const tbody = el('tbody');
  const table = el('table', { id: 'images' }, el('thead', {}, el('tr', {}, el('th', {}, 'Repository'), el('th', {}, 'Tags'), el('th', {}, 'Digest'),
    SEVS.map(s => el('th', { class: 'n', title: s }, s.slice(0, 4))), el('th', { class: 'n' }, 'Accepted'), el('th', {}, 'Gate'), el('th', {}, 'Last seen'))), tbody);
  const pager = el('p', { class: 'pager' });
  setPage('Images', trendBox, form, table, pager);
  const [list, trend] = await Promise.all([
    api('/images' + qs({ repository: f.repository, tag: f.tag, severity: f.severity, after: f.after, limit: 50 })),
    api('/trend?days=90'),
  ]);
  trendBox.append(trendChart(trend.trend));
  for (const im of list.images) {
    const tags = im.tags.filter(t => !t.removed).map(t => t.tag);
    tbody.append(el('tr', { class: 'row', dataset: { digest: im.digest } },
      el('td', {}, im.repository || '—', im.gone ? el('span', { class: 'gone' }, ' gone') : null),
      el('td', {}, tags.join(', ')),
      el('td', {}, el('a', { href: '#/image/' + encodeURIComponent(im.digest), class: 'digest' }, short(im.digest))),
      countCells(im.counts), el('td', { class: 'n' }, im.accepted), el('td', { class: 'gate-' + (im.gate || 'none') }, im.gate || ''),
      el('td', {}, when(im.last_seen))));
  }
  if (!list.images.length) tbody.append(el('tr', {}, el('td', { colspan: 12 }, 'No image matches.')));
  if (f.after) pager.append(el('a', { href: '#/images' + qs({ repository: f.repository, tag: f.tag, severity: f.severity }) }, '« First page'), ' ');
  if (list.next) pager.append(el('a', { id: 'next-page', href: '#/images' + qs({ repository: f.repository, tag: f.tag, severity: f.severity, after: list.next }) }, 'Next page »'));
}

// ---- one image ----

function triageForm(target, onDone) {
  const state = el('select', { name: 'state' }, el('option', { value: 'accepted' }, 'Accept the risk'),
    el('option', { value: 'false_positive' }, 'False positive'), el('option', { value: 'open' }, 'Assign (still open)'));
  const reason = el('input', { name: 'reason', placeholder: 'reason', size: 40 });
  const d = new Date(Date.now() + 30 * 864e5);
  const expires = el('input', { name: 'expires', type: 'date', value: d.toISOString().slice(0, 10) });
  const assignee = el('input', { name: 'assignee', placeholder: 'assignee', size: 14 });
  const out = el('span', { class: 'msg' });
  const form = el('form', { class: 'triage-form', onsubmit: async ev => {
    ev.preventDefault();
    try {
      await api('/triage', { method: 'POST', json: Object.assign({}, target, { state: state.value, reason: reason.value, expires: state.value === 'accepted' ? expires.value : '', assignee: assignee.value }) });
      onDone();
    } catch (e) { out.textContent = e.message; out.className = 'msg error'; }
  } }, state, reason, expires, assignee, el('button', { type: 'submit' }, 'Save'), out);
  return form;
}

function commentForm(target, onDone) {
  const body = el('input', { name: 'body', placeholder: 'comment', size: 50 });
  const out = el('span', { class: 'msg' });
  return el('form', { class: 'comment-form', onsubmit: async ev => {
    ev.preventDefault();
    try { await api('/comments', { method: 'POST', json: Object.assign({}, target, { body: body.value }) }); onDone(); } catch (e) { out.textContent = e.message; out.className = 'msg error'; }
  } }, body, el('button', { type: 'submit' }, 'Comment'), out);
}

function eventLine(e) {
  const d = e.data || {};
  let what = '';
  if (d.package) what = d.package.name + ' ' + d.package.version;
  if (e.type === 'gate.changed') what = d.from + ' → ' + d.to;
  if (e.type === 'tag.moved' || e.type === 'tag.removed') what = (d.repository || '') + ':' + (d.tag || '');
  if (e.type === 'scan.failed') what = (d.ref || '') + ': ' + (d.error || '');
  return el('tr', { class: 'event', dataset: { type: e.type, id: e.id } },
    el('td', {}, when(e.at)), el('td', {}, el('span', { class: 'etype' }, e.type)),
    el('td', {}, e.vulnerability ? el('a', { href: '#/vulnerability/' + encodeURIComponent(e.vulnerability) }, e.vulnerability) : ''),
    el('td', {}, d.severity ? sevBadge(d.severity) : ''), el('td', {}, what),
    el('td', {}, e.digest ? el('a', { href: '#/image/' + encodeURIComponent(e.digest), class: 'digest' }, short(e.digest)) : ''));
}

function eventsTable(id, events) {
  return el('table', { id }, el('thead', {}, el('tr', {}, ['When', 'Event', 'Vulnerability', 'Severity', 'What', 'Image'].map(h => el('th', {}, h)))),
    el('tbody', {}, events.map(eventLine)));
}

async function imagePage(digest) {
  setPage('Image ' + short(digest));
  const im = await api('/images/' + encodeURIComponent(digest));
  const history = im.history || [];
  const since = history.length ? history[0].created : '';
  const changes = await api('/events' + qs({ digest, since, limit: 500 }));
  const head = el('dl', { class: 'facts' },
    el('dt', {}, 'Repository'), el('dd', {}, im.repository || '—'),
    el('dt', {}, 'Tags'), el('dd', {}, im.tags.map(t => t.tag + (t.removed ? ' (removed ' + when(t.removed) + ')' : '')).join(', ') || '—'),
    el('dt', {}, 'Digest'), el('dd', {}, el('code', {}, im.digest)),
    el('dt', {}, 'OS'), el('dd', {}, im.os ? (im.os.name || im.os.id) + ' ' + (im.os.version || '') : '—'),
    el('dt', {}, 'Gate'), el('dd', { id: 'gate', class: 'gate-' + (im.gate || 'none') }, im.gate || 'no gate'),
    el('dt', {}, 'Open findings'), el('dd', {}, el('table', { class: 'counts' }, el('tr', {}, SEVS.map(s => el('th', {}, s))), el('tr', {}, countCells(im.counts)))),
    el('dt', {}, 'Accepted'), el('dd', {}, im.accepted),
    el('dt', {}, 'Packages'), el('dd', {}, im.packages),
    el('dt', {}, 'Database'), el('dd', {}, im.database ? when(im.database.updated) : '—'));
  main.append(head);
  const reload = () => imagePage(digest).catch(fail);

  main.append(el('h2', {}, 'What changed since the last scan'), changes.events.length ? eventsTable('changes', changes.events) : el('p', {}, 'Nothing.'));

  // Findings, filtered in the page (one image's findings are a page).
  const sevF = el('select', { id: 'ff-severity' }, el('option', { value: '' }, 'any severity'), SEVS.map(s => el('option', { value: s }, s)));
  const stateF = el('select', { id: 'ff-state' }, el('option', { value: 'open' }, 'open'), el('option', { value: 'accepted' }, 'accepted'),
    el('option', { value: 'false_positive' }, 'false positive'), el('option', { value: '' }, 'all'));
  const textF = el('input', { id: 'ff-text', placeholder: 'id or package' });
  const count = el('span', { id: 'ff-count' });
  const tbody = el('tbody');
  const rows = im.findings.map((f, i) => {
    const st = (im.finding_states || [])[i] || 'open';
    const target = { digest: im.digest, vulnerability: f.id, package: f.package.name };
    const actions = el('td', { class: 'actions' });
    const tr = el('tr', { class: 'row finding', dataset: { id: f.id, state: st, sev: f.severity, pkg: f.package.name } },
      el('td', {}, el('a', { href: '#/vulnerability/' + encodeURIComponent(f.id) }, f.id), f.kev ? el('span', { class: 'kev', title: 'Known exploited (CISA KEV)' }, ' KEV') : null),
      el('td', {}, sevBadge(f.severity)), el('td', {}, f.package.name), el('td', {}, f.package.version),
      el('td', {}, (f.fixed_versions || []).join(', ')), el('td', { class: 'state' }, st.replace('_', ' ')), actions);
    const slot = el('tr', { class: 'slot', hidden: true }, el('td', { colspan: 7 }));
    const open = form => { slot.hidden = false; slot.firstChild.replaceChildren(form); };
    actions.append(el('button', { class: 'triage', onclick: () => open(triageForm(target, reload)) }, 'Triage'), ' ',
      el('button', { class: 'comment', onclick: () => open(commentForm(target, reload)) }, 'Comment'));
    tbody.append(tr, slot);
    return { tr, slot, f, st };
  });
  const apply = () => {
    const t = textF.value.toLowerCase();
    let n = 0;
    for (const r of rows) {
      const show = (!sevF.value || r.f.severity === sevF.value) && (!stateF.value || r.st === stateF.value) &&
        (!t || r.f.id.toLowerCase().includes(t) || r.f.package.name.toLowerCase().includes(t));
      r.tr.hidden = !show;
      if (!show) r.slot.hidden = true;
      if (show) n++;
    }
    count.textContent = n + ' of ' + rows.length + ' findings shown';
  };
  for (const x of [sevF, stateF]) x.addEventListener('change', apply);
  textF.addEventListener('input', apply);
  main.append(el('h2', {}, 'Findings'), el('p', { class: 'filters' }, sevF, stateF, textF, count),
    el('table', { id: 'findings' }, el('thead', {}, el('tr', {}, ['Vulnerability', 'Severity', 'Package', 'Version', 'Fixed in', 'State', ''].map(h => el('th', {}, h)))), tbody));
  apply();

  main.append(el('h2', {}, 'Decisions'), el('table', { id: 'image-triage' }, el('thead', {}, el('tr', {}, ['Covers', 'State', 'Reason', 'Expires', 'Assignee', 'By'].map(h => el('th', {}, h)))),
    el('tbody', {}, im.triage.map(t => el('tr', {}, el('td', {}, [t.vulnerability, t.package, t.digest ? short(t.digest) : t.repository].filter(Boolean).join(' · ')),
      el('td', {}, t.state), el('td', {}, t.reason || ''), el('td', {}, when(t.expires)), el('td', {}, t.assignee || ''), el('td', {}, t.updated_by))))),
  el('p', {}, el('button', { id: 'triage-image', onclick: ev => ev.target.replaceWith(triageForm({ digest: im.digest }, reload)) }, 'Decide for the whole image')));

  const comments = await api('/comments' + qs({ digest }));
  main.append(el('h2', {}, 'Comments'), el('ul', { id: 'comments' }, comments.comments.map(c => el('li', {}, when(c.at) + ' ' + c.author + ' on ' + (c.vulnerability || 'the image') + ': ', c.body))),
    commentForm({ digest: im.digest }, reload));

  main.append(el('h2', {}, 'Layers'), el('table', { id: 'layers' }, el('thead', {}, el('tr', {}, ['#', 'Digest', 'Size', 'Created by'].map(h => el('th', {}, h)))),
    el('tbody', {}, (im.target.layers || []).map(l => el('tr', {}, el('td', {}, l.index), el('td', {}, el('code', {}, short(l.digest || l.diff_id))),
      el('td', { class: 'n' }, l.size || ''), el('td', { class: 'cmd' }, l.created_by || ''))))));

  const pkgBody = el('tbody');
  const pkgQ = el('input', { id: 'pkg-filter', placeholder: 'package name' });
  const pkgInfo = el('span', { id: 'pkg-count' });
  const pkgPager = el('p', { class: 'pager' });
  const loadPkgs = async offset => {
    const r = await api('/images/' + encodeURIComponent(digest) + '/packages' + qs({ q: pkgQ.value.trim(), offset, limit: 100 }));
    pkgBody.replaceChildren(...r.packages.map(p => el('tr', {}, el('td', {}, p.type), el('td', {}, p.name), el('td', {}, p.version), el('td', {}, p.path))));
    pkgInfo.textContent = (r.total ? (offset + 1) + '–' + (offset + r.packages.length) : 0) + ' of ' + r.total + ' packages';
    pkgPager.replaceChildren(offset > 0 ? el('button', { onclick: () => loadPkgs(Math.max(0, offset - 100)) }, '« Previous') : '', ' ',
      offset + r.packages.length < r.total ? el('button', { onclick: () => loadPkgs(offset + 100) }, 'Next »') : '');
  };
  pkgQ.addEventListener('change', () => loadPkgs(0).catch(fail));
  main.append(el('h2', {}, 'Packages'), el('p', { class: 'filters' }, pkgQ, ' ', pkgInfo),
    el('table', { id: 'packages' }, el('thead', {}, el('tr', {}, ['Type', 'Name', 'Version', 'Path'].map(h => el('th', {}, h)))), pkgBody), pkgPager);
  await loadPkgs(0);

  main.append(el('h2', {}, 'Scan history'), el('table', { id: 'history' }, el('thead', {}, el('tr', {}, ['Scan', 'Kind', 'Reference', 'Status', 'Finished', 'Database'].map(h => el('th', {}, h)))),
    el('tbody', {}, history.map(s => el('tr', {}, el('td', {}, el('code', {}, s.id.slice(0, 12))), el('td', {}, s.kind), el('td', {}, s.ref || ''), el('td', {}, s.status),
      el('td', {}, when(s.finished)), el('td', {}, when(s.db_updated)))))));
}

// ---- one vulnerability: the incident view ----

async function vulnPage(id, params) {
  const offset = Number(params.get('offset') || 0);
  setPage(id);
  const r = await api('/vulnerabilities/' + encodeURIComponent(id) + '/images' + qs({ offset, limit: 200 }));
  main.append(el('p', { id: 'vuln-summary' }, r.images + ' image' + (r.images === 1 ? '' : 's') + ' affected'),
    el('table', { id: 'affected' }, el('thead', {}, el('tr', {}, ['Image', 'Repository', 'Finding', 'Severity', 'Package', 'Version', 'Fixed in', 'Layer'].map(h => el('th', {}, h)))),
      el('tbody', {}, r.affected.map(a => el('tr', { class: 'row' }, el('td', {}, el('a', { href: '#/image/' + encodeURIComponent(a.digest), class: 'digest' }, short(a.digest))),
        el('td', {}, a.repository), el('td', {}, a.finding_id), el('td', {}, sevBadge(a.severity)), el('td', {}, a.package), el('td', {}, a.version),
        el('td', {}, a.fixed_versions.join(', ')), el('td', {}, el('code', {}, short(a.layer))))))));
  const pager = el('p', { class: 'pager' });
  if (offset > 0) pager.append(el('a', { href: '#/vulnerability/' + encodeURIComponent(id) + qs({ offset: Math.max(0, offset - 200) }) }, '« Previous'), ' ');
  if (r.next) pager.append(el('a', { href: '#/vulnerability/' + encodeURIComponent(id) + qs({ offset: r.next }) }, 'Next »'));
  const reload = () => vulnPage(id, params).catch(fail);
  const comments = await api('/comments' + qs({ vulnerability: id }));
  main.append(pager, el('h2', {}, 'Decide for every image'), triageForm({ vulnerability: id }, reload),
    el('h2', {}, 'Comments'), el('ul', { id: 'comments' }, comments.comments.map(c => el('li', {}, when(c.at) + ' ' + c.author + ': ', c.body))),
    commentForm({ vulnerability: id }, reload));
}

// ---- events, triage, audit, exports ----

async function eventsPage(params) {
  const before = params.get('before') || '';
  setPage('Events');
  const r = await api('/events' + qs({ order: 'newest', before, limit: 100 }));
  main.append(eventsTable('events', r.events));
  if (r.next) main.append(el('p', { class: 'pager' }, el('a', { id: 'older', href: '#/events' + qs({ before: r.next }) }, 'Older »')));
}

async function triagePage(params) {
  const state = params.get('state') || '';
  const after = params.get('after') || '';
  const sel = el('select', { id: 't-state', onchange: () => go('/triage', { state: sel.value }) }, ['', 'accepted', 'false_positive', 'open'].map(s =>
    el('option', { value: s, selected: s === state }, s ? s.replace('_', ' ') : 'every state')));
  setPage('Triage', el('p', { class: 'filters' }, sel));
  const r = await api('/triage' + qs({ state, after, limit: 100 }));
  const now = Date.now();
  main.append(el('table', { id: 'triage' }, el('thead', {}, el('tr', {}, ['Vulnerability', 'Package', 'Image or repository', 'State', 'Reason', 'Expires', 'Assignee', 'By', 'Updated', ''].map(h => el('th', {}, h)))),
    el('tbody', {}, r.triage.map(t => el('tr', { class: 'row', dataset: { id: t.id, state: t.state } },
      el('td', {}, t.vulnerability ? el('a', { href: '#/vulnerability/' + encodeURIComponent(t.vulnerability) }, t.vulnerability) : 'every finding'),
      el('td', {}, t.package || ''), el('td', {}, t.digest ? el('a', { href: '#/image/' + encodeURIComponent(t.digest), class: 'digest' }, short(t.digest)) : (t.repository || 'every image')),
      el('td', {}, t.state.replace('_', ' ') + (t.expires && new Date(t.expires) < now ? ' (expired)' : '')), el('td', {}, t.reason || ''), el('td', {}, when(t.expires)),
      el('td', {}, t.assignee || ''), el('td', {}, t.updated_by), el('td', {}, when(t.updated)),
      el('td', {}, el('button', { onclick: async () => { try { await api('/triage/' + encodeURIComponent(t.id), { method: 'DELETE' }); triagePage(params).catch(fail); } catch (e) { fail(e); } } }, 'Withdraw')))))));
  if (r.next) main.append(el('p', { class: 'pager' }, el('a', { href: '#/triage' + qs({ state, after: r.next }) }, 'Next »')));
}

async function auditPage(params) {
  const after = params.get('after') || '';
  setPage('Audit log', el('p', {}, 'Every decision, comment and expiry, newest first.'));
  const r = await api('/audit' + qs({ order: 'newest', after, limit: 100 }));
  main.append(el('table', { id: 'audit' }, el('thead', {}, el('tr', {}, ['When', 'Who', 'Action', 'About', 'Details'].map(h => el('th', {}, h)))),
    el('tbody', {}, r.entries.map(e => {
      const t = (e.data && e.data.triage) || (e.data && e.data.comment) || {};
      const detail = [t.reason, t.body, t.expires ? 'until ' + when(t.expires) : '', t.assignee ? 'assigned to ' + t.assignee : ''].filter(Boolean).join('; ');
      return el('tr', { class: 'row', dataset: { action: e.action } }, el('td', {}, when(e.at)), el('td', {}, e.actor), el('td', {}, e.action), el('td', {}, e.target || ''), el('td', {}, detail));
    }))));
  if (r.next) main.append(el('p', { class: 'pager' }, el('a', { href: '#/audit' + qs({ after: r.next }) }, 'Older »')));
}

function exportsPage() {
  const out = el('p', { class: 'msg' });
  const dl = (format, part) => async () => {
    try {
      const resp = await api('/exports/fleet' + qs({ format, part }), { raw: true });
      const blob = await resp.blob();
      const m = /filename="?([^";]+)"?/.exec(resp.headers.get('Content-Disposition') || '');
      const a = el('a', { href: URL.createObjectURL(blob), download: m ? m[1] : 'drydock-fleet.' + format });
      document.body.append(a);
      a.click();
      a.remove();
      out.textContent = 'Downloaded ' + (m ? m[1] : format) + '.';
    } catch (e) { out.textContent = e.message; }
  };
  setPage('Exports', el('p', {}, 'The fleet as it is now: every image, its open findings by severity, the oldest open critical finding that has a fix and its age, and the accepted risks with their reasons and expiries.'),
    el('p', {}, el('button', { onclick: dl('csv', 'images') }, 'Images (CSV)'), ' ', el('button', { onclick: dl('csv', 'accepted') }, 'Accepted risks (CSV)'), ' ',
      el('button', { onclick: dl('json') }, 'Everything (JSON)'), ' ', el('button', { onclick: dl('html') }, 'Report (HTML)')), out);
}

async function render() {
  if (!token) return login();
  if (!me) {
    try { me = await api('/whoami'); showWho(); } catch (e) { return login(e.status === 401 ? 'Your token was not accepted.' : e.message); }
  }
  const { parts, params } = route();
  try {
    switch (parts[0]) {
      case 'image': await imagePage(parts.slice(1).join('/')); break;
      case 'vulnerability': await vulnPage(parts[1], params); break;
      case 'events': await eventsPage(params); break;
      case 'triage': await triagePage(params); break;
      case 'audit': await auditPage(params); break;
      case 'exports': exportsPage(); break;
      default: await imagesPage(params);
    }
    main.dataset.readyAt = String(Math.round(performance.now()));
    main.dataset.ready = location.hash;
  } catch (e) {
    if (e.status !== 401) fail(e);
  }
}

window.addEventListener('hashchange', () => { delete main.dataset.ready; render(); });
render();
