(function () {
  'use strict';

  var report = JSON.parse(document.getElementById('drydock-data').textContent);
  var collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
  document.documentElement.classList.add('js');

  function text(tag, s, cls) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (s !== undefined && s !== null) { e.textContent = String(s); }
    return e;
  }

  // safeURL admits web links only: a report's URLs come from databases
  // and images, which are not trusted.
  function safeURL(u) {
    return typeof u === 'string' && /^https?:\/\//i.test(u);
  }

  function link(u) {
    if (!safeURL(u)) { return text('span', u); }
    var a = text('a', u);
    a.href = u;
    a.rel = 'noopener noreferrer';
    return a;
  }

  function haystack(parts) {
    var out = [];
    parts.forEach(function (p) {
      if (Array.isArray(p)) { out.push(p.join(' ')); } else if (p) { out.push(String(p)); }
    });
    return out.join('\n').toLowerCase();
  }

  // locations returns every place a package was found, the primary one
  // first.
  function locations(p) {
    if (p.locations && p.locations.length) { return p.locations; }
    return [{path: p.path, layer: p.layer, layer_index: p.layer_index}];
  }

  function paths(p) {
    return locations(p).map(function (l) { return l.path; });
  }

  function findingText(f) {
    var p = f.package || {};
    var s = f.suppression || {};
    return haystack([f.id, f.aliases, f.records, p.name, p.version, p.type, p.source_name, p.purl, paths(p),
      p.ecosystem, f.status, f.fixed_versions, f.severity, f.title, s.justification, s.status]);
  }

  function packageText(p) {
    return haystack([p.type, p.name, p.version, p.source_name, p.source_version, p.purl, paths(p), p.licenses]);
  }

  function detail(f, cols) {
    var tr = text('tr', null, 'detail');
    var td = text('td');
    td.colSpan = cols;
    var dl = text('dl');
    function add(term, value) {
      if (value === undefined || value === null || value === '' || (Array.isArray(value) && !value.length)) { return; }
      dl.appendChild(text('dt', term));
      var dd = text('dd');
      if (value instanceof Node) { dd.appendChild(value); } else { dd.textContent = Array.isArray(value) ? value.join(', ') : String(value); }
      dl.appendChild(dd);
    }
    var p = f.package || {};
    add('Description', f.description);
    add('Aliases', f.aliases);
    add('Severity', f.severity + (f.severity_source ? ' (' + f.severity_source + ')' : ''));
    if (f.cvss && f.cvss.length) {
      var ul = text('ul');
      f.cvss.forEach(function (c) {
        ul.appendChild(text('li', 'CVSS ' + c.version + ' ' + Number(c.score).toFixed(1) + ' ' + c.vector + (c.source ? ' (' + c.source + ')' : '')));
      });
      add('CVSS', ul);
    }
    if (f.kev) {
      var k = 'Known exploited (CISA KEV) since ' + f.kev.date_added;
      if (f.kev.due_date) { k += ', due ' + f.kev.due_date; }
      if (f.kev.ransomware_use) { k += ', ransomware use: ' + f.kev.ransomware_use; }
      if (f.kev.required_action) { k += '. ' + f.kev.required_action; }
      add('Exploited', k);
    }
    if (f.in_use) {
      var ev = '';
      ((report.runtime || {}).packages || []).forEach(function (u) {
        if (u.type === p.type && u.name === p.name && u.version === p.version && u.path === p.path) { ev = u.evidence; }
      });
      add('Runtime', 'in use by the recorded run' + (ev ? ' (' + ev + ')' : ''));
    }
    if (f.suppression) {
      var s = f.suppression;
      var st = s.kind + (s.status ? ' · ' + s.status : '') + ': ' + s.justification;
      if (s.statement) { st += ' — ' + s.statement; }
      if (s.source) { st += ' (' + s.source + (s.expires ? ', until ' + s.expires : '') + ')'; }
      add('Suppressed', st);
    }
    add('Status', f.status);
    add('Package URL', p.purl);
    var found = locations(p).map(function (l) {
      return l.path + ', layer ' + l.layer_index + (l.layer ? ' (' + l.layer + ')' : '');
    });
    if (found.length === 1) {
      add('Found in', found[0]);
    } else {
      var where = text('ul');
      found.forEach(function (s) { where.appendChild(text('li', s)); });
      add('Found in', where);
    }
    if (p.source_name) { add('Source package', p.source_name + (p.source_version ? ' ' + p.source_version : '')); }
    add('Owned by', p.owned_by);
    add('Ecosystem', p.ecosystem);
    add('Records', f.records);
    add('Published', f.published);
    add('Modified', f.modified);
    if (f.references && f.references.length) {
      var refs = text('ul');
      f.references.forEach(function (u) {
        var li = text('li');
        li.appendChild(link(u));
        refs.appendChild(li);
      });
      add('References', refs);
    }
    td.appendChild(dl);
    tr.appendChild(td);
    return tr;
  }

  function setup(section) {
    var kind = section.getAttribute('data-kind');
    var items = kind === 'findings' ? (report.vulnerabilities || []) : (report.packages || []);
    var table = section.querySelector('table');
    if (!table) { return; }
    var tbody = table.tBodies[0];
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var rows = Array.prototype.slice.call(tbody.querySelectorAll('tr.row')).map(function (tr) {
      var i = Number(tr.getAttribute('data-i'));
      var item = items[i] || {};
      return {
        tr: tr, i: i, item: item, detail: null,
        text: kind === 'findings' ? findingText(item) : packageText(item),
        sev: tr.getAttribute('data-sev'),
        supp: tr.hasAttribute('data-supp'),
        fix: tr.hasAttribute('data-fix'),
        use: tr.hasAttribute('data-inuse')
      };
    });
    var count = section.querySelector('[data-count]');
    var filter = section.querySelector('input.filter');
    var sevs = Array.prototype.slice.call(section.querySelectorAll('.sevf input'));
    var showSupp = section.querySelector('input.show-suppressed');
    var onlyFix = section.querySelector('input.only-fixable');
    var onlyUse = section.querySelector('input.only-inuse');
    var noun = kind === 'findings' ? 'findings' : 'packages';

    function apply() {
      var terms = filter ? filter.value.toLowerCase().split(/\s+/).filter(Boolean) : [];
      var allowed = {};
      sevs.forEach(function (c) { allowed[c.value] = c.checked; });
      var shown = 0;
      rows.forEach(function (r) {
        var ok = terms.every(function (t) { return r.text.indexOf(t) >= 0; });
        if (ok && sevs.length && r.sev) { ok = allowed[r.sev] !== false; }
        if (ok && showSupp && !showSupp.checked && r.supp) { ok = false; }
        if (ok && onlyFix && onlyFix.checked && !r.fix) { ok = false; }
        if (ok && onlyUse && onlyUse.checked && !r.use) { ok = false; }
        r.tr.hidden = !ok;
        if (r.detail) { r.detail.hidden = !ok || r.tr.querySelector('.expand').getAttribute('aria-expanded') !== 'true'; }
        if (ok) { shown++; }
      });
      count.textContent = shown + ' of ' + rows.length + ' ' + noun + ' shown';
    }

    function sortBy(col) {
      var th = heads[col];
      var numeric = th.getAttribute('data-type') === 'num';
      var cur = th.getAttribute('aria-sort');
      var dir;
      if (cur === 'ascending') { dir = -1; } else if (cur === 'descending') { dir = 1; } else { dir = th.getAttribute('data-first') === 'desc' ? -1 : 1; }
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      function key(r) {
        var cell = r.tr.cells[col];
        var v = cell.hasAttribute('data-v') ? cell.getAttribute('data-v') : cell.textContent;
        return numeric ? Number(v) : v;
      }
      rows.forEach(function (r) { r.key = key(r); });
      rows.sort(function (a, b) {
        var c = numeric ? a.key - b.key : collator.compare(a.key, b.key);
        return c ? c * dir : a.i - b.i;
      });
      var frag = document.createDocumentFragment();
      rows.forEach(function (r) {
        frag.appendChild(r.tr);
        if (r.detail) { frag.appendChild(r.detail); }
      });
      tbody.appendChild(frag);
    }

    heads.forEach(function (th, col) {
      var b = th.querySelector('button');
      if (b) { b.addEventListener('click', function () { sortBy(col); }); }
    });
    if (filter) { filter.addEventListener('input', apply); }
    sevs.concat([showSupp, onlyFix, onlyUse]).forEach(function (c) { if (c) { c.addEventListener('change', apply); } });

    if (kind === 'findings') {
      rows.forEach(function (r) {
        var b = r.tr.querySelector('.expand');
        if (!b) { return; }
        b.addEventListener('click', function () {
          var open = b.getAttribute('aria-expanded') !== 'true';
          b.setAttribute('aria-expanded', open ? 'true' : 'false');
          if (open && !r.detail) {
            r.detail = detail(r.item, heads.length);
            r.tr.parentNode.insertBefore(r.detail, r.tr.nextSibling);
          }
          if (r.detail) { r.detail.hidden = !open; }
        });
      });
    }
    apply();
  }

  Array.prototype.forEach.call(document.querySelectorAll('section.tbl'), setup);
}());
