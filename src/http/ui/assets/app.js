// kubetrail's timeline UI: plain JavaScript, no framework, nothing loaded from elsewhere.
// Every request goes to the API beside this page (`../` of `/ui/`), so the page works the same
// served by kubetrail (a session cookie authenticates it) and through `kubectl proxy` (the
// proxy adds the credentials). It only reads. Routes live in the URL's hash:
//   #/?namespace=&kind=&name=&actor=    the log as a timeline, one lane per actor, live
//   #/object/<Kind>/<namespace>/<name>  an object's history and why (`_`: cluster-scoped)
//   #/at/<namespace>/<resourceVersion>  the namespace's pods and ReplicaSets as they were
'use strict';

const API_ROOT = new URL('../', location.href);
const LOG = 'apis/kubetrail.dev/v1alpha1/';
/// Events kept on the timeline; older ones scroll away.
const SHOWN = 400;
/// How far back the timeline reads when it opens, in resourceVersions.
const WINDOW = 5000;

// ---------------------------------------------------------------------------------------------
// Small helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const $ = (selector) => document.querySelector(selector);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const api = (path) => new URL(path, API_ROOT).toString();
const enc = encodeURIComponent;

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function getJSON(path, signal) {
  const response = await fetch(api(path), {
    headers: { Accept: 'application/json' },
    credentials: 'same-origin',
    cache: 'no-store',
    signal,
  });
  if (response.status === 401) {
    showLogin();
    throw new HttpError(401, 'not logged in');
  }
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    throw new HttpError(response.status, (body && body.message) || text || response.statusText);
  }
  return body;
}

function notice(message, kind) {
  const box = $('#notice');
  box.replaceChildren(...[].concat(message));
  box.className = 'notice' + (kind ? ' ' + kind : '');
  box.hidden = false;
}

function clearNotice() {
  $('#notice').hidden = true;
}

function showLogin() {
  setStatus('not logged in', 'lost');
  notice([
    h('strong', {}, 'This browser is not logged in. '),
    'In a terminal, run ', h('code', {}, 'kubetrail ui'),
    ' and open the link it prints (each link works once, within 60 seconds). Or run ',
    h('code', {}, 'kubectl proxy'), ' and open this page through it: ',
    h('code', {}, '127.0.0.1:8001/ui/'), '.',
  ], 'error');
}

function setStatus(text, kind) {
  const status = $('#status');
  status.textContent = text;
  status.className = 'status' + (kind ? ' ' + kind : '');
}

/// `2026-12-02T21:36:08.479494969Z` -> a Date (milliseconds kept).
function when(time) {
  return new Date(String(time || '').replace(/(\.\d{3})\d*/, '$1'));
}

function clock(time) {
  const d = when(time);
  if (isNaN(d)) return '';
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function age(from, to) {
  const seconds = Math.max(0, Math.round((when(to) - when(from)) / 1000));
  if (!isFinite(seconds)) return '';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function rvOf(entry) {
  return Number(entry.metadata && entry.metadata.resourceVersion);
}

function objectHash(kind, namespace, name, rv) {
  const path = `#/object/${enc(kind)}/${enc(namespace || '_')}/${enc(name)}`;
  return rv ? `${path}?rv=${rv}` : path;
}

// ---------------------------------------------------------------------------------------------
// Actors and lanes: people, the scheduler, the controllers, each kubelet, the server itself.
// The names come from the server (`/ui/actors.json`), where they are defined once.

let ACTORS = { scheduler: '', controllers: [], system: '', kubeletPrefix: 'kubelet/' };

function laneOf(actor) {
  if (actor === ACTORS.scheduler) {
    return { group: 'scheduler', title: 'Scheduler', who: actor, order: [1, 0] };
  }
  const controller = ACTORS.controllers.indexOf(actor);
  if (controller >= 0) {
    return { group: 'controller', title: 'Controller', who: actor, order: [2, controller] };
  }
  if (actor.startsWith(ACTORS.kubeletPrefix)) {
    const node = actor.slice(ACTORS.kubeletPrefix.length);
    return { group: 'kubelet', title: 'Kubelet', who: `node ${node}`, order: [3, node] };
  }
  if (actor === ACTORS.system) {
    return { group: 'server', title: 'API server', who: actor, order: [4, 0] };
  }
  return { group: 'person', title: 'Person', who: actor, order: [0, actor] };
}

function compareLanes(a, b) {
  const [ga, ka] = laneOf(a).order;
  const [gb, kb] = laneOf(b).order;
  if (ga !== gb) return ga - gb;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function actorPill(actor) {
  const lane = laneOf(actor);
  return h('span', { class: `pill ${lane.group}` }, `${lane.title} · ${lane.group === 'kubelet' ? actor : lane.who}`);
}

/// "with kubectl (kubectl-client-side-apply)" for an event a client program sent.
function client(entry) {
  const agent = (entry.userAgent || '').split(' ')[0].split('/')[0];
  const parts = [];
  if (agent) parts.push(`with ${agent}`);
  if (entry.fieldManager && entry.fieldManager !== agent) parts.push(`(${entry.fieldManager})`);
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------
// Router

let view = { stop() {} };

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  const params = Object.fromEntries(new URLSearchParams(query || ''));
  const parts = path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  return { parts, params };
}

async function route() {
  view.stop();
  const abort = new AbortController();
  view = { stop: () => abort.abort() };
  clearNotice();
  const { parts, params } = parseHash();
  const main = $('#main');
  main.replaceChildren();
  for (const link of document.querySelectorAll('.bar nav a')) link.classList.remove('active');
  try {
    if (parts[0] === 'object' && parts.length >= 4) {
      setStatus('not following', '');
      await objectView(main, parts[1], parts[2] === '_' ? '' : parts[2], parts.slice(3).join('/'), params, abort.signal);
    } else if (parts[0] === 'at') {
      $('#nav-at').classList.add('active');
      setStatus('not following', '');
      await sliderView(main, parts[1] || 'default', parts[2], abort.signal);
    } else {
      $('#nav-timeline').classList.add('active');
      await timelineView(main, params, abort.signal);
    }
  } catch (error) {
    if (abort.signal.aborted || error.status === 401) return;
    notice(`Could not load this view: ${error.message}`, 'error');
  }
}

// ---------------------------------------------------------------------------------------------
// The timeline

function filterQuery(filters) {
  const query = new URLSearchParams();
  for (const key of ['namespace', 'kind', 'name', 'actor']) {
    if (filters[key]) query.set(key, filters[key]);
  }
  return query.toString();
}

/// Node heartbeats are most of an idle cluster's log: hidden unless asked for.
function isHeartbeat(entry) {
  return entry.involvedObject.kind === 'Node' && entry.type === 'StatusUpdated';
}

function filtersForm(filters) {
  const input = (key, label, placeholder, list) =>
    h('label', {}, label, h('input', { type: 'text', name: key, value: filters[key] || '', placeholder, list, autocomplete: 'off' }));
  const kinds = ['Pod', 'ReplicaSet', 'Node', 'Namespace', 'Event', 'Service', 'ConfigMap', 'Secret', 'Deployment'];
  const form = h('form', { class: 'filters', id: 'filters' },
    input('namespace', 'Namespace', 'any'),
    input('kind', 'Kind', 'any', 'kinds'),
    input('name', 'Name', 'any'),
    input('actor', 'Who (actor)', 'anyone', 'actors'),
    h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'quiet', checked: filters.quiet }), 'hide node heartbeats'),
    h('button', { type: 'submit' }, 'Filter'),
    h('button', { type: 'button', onclick: () => { location.hash = '#/'; } }, 'Clear'),
    h('datalist', { id: 'kinds' }, kinds.map((k) => h('option', { value: k }))),
    h('datalist', { id: 'actors' }),
  );
  const apply = (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const query = new URLSearchParams();
    for (const key of ['namespace', 'kind', 'name', 'actor']) {
      const value = String(data.get(key) || '').trim();
      if (value) query.set(key, value);
    }
    if (!data.get('quiet')) query.set('quiet', 'off');
    const text = query.toString();
    location.hash = text ? `#/?${text}` : '#/';
  };
  form.addEventListener('submit', apply);
  form.addEventListener('change', (event) => {
    if (event.target.type === 'checkbox') apply(event);
  });
  return form;
}

async function timelineView(main, params, signal) {
  const filters = {
    namespace: params.namespace || '',
    kind: params.kind || '',
    name: params.name || '',
    actor: params.actor || '',
    quiet: params.quiet !== 'off',
  };
  const box = h('div', { class: 'timeline', id: 'timeline' });
  main.append(
    h('h1', {}, 'What happened, as it happened'),
    h('p', { class: 'hint' },
      'Every change to the cluster, in the order it was written. Each column is one actor: ',
      'the people who ran kubectl, the scheduler, the controllers, each node\u2019s kubelet. ',
      'Click an event to see the object\u2019s history and why it happened.'),
    filtersForm(filters),
    h('div', { class: 'legend' },
      h('span', { class: 'lane person' }, 'person'),
      h('span', { class: 'lane scheduler' }, 'scheduler'),
      h('span', { class: 'lane controller' }, 'controller'),
      h('span', { class: 'lane kubelet' }, 'kubelet'),
      h('span', { class: 'lane server' }, 'API server')),
    box,
  );
  const query = filterQuery(filters);
  const shown = [];
  const lanes = [];
  const seenActors = new Set();
  let following = true;
  box.addEventListener('scroll', () => {
    following = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
  });

  const head = () => h('div', { class: 'row head' },
    h('div', { class: 'time' }, 'time'),
    lanes.map((actor) => {
      const lane = laneOf(actor);
      return h('div', { class: `lane ${lane.group}`, title: actor },
        h('span', { class: 'group' }, lane.title), h('span', { class: 'who' }, lane.who));
    }));

  const row = (entry, fresh) => {
    const o = entry.involvedObject;
    const lane = lanes.indexOf(entry.actor);
    const rv = rvOf(entry);
    const place = o.namespace ? `${o.namespace}/${o.name}` : o.name;
    const title = `resourceVersion ${rv}: ${o.kind} ${place} ${entry.type} by ${entry.actor}` +
      (entry.causedBy ? `, because of resourceVersion ${entry.causedBy}` : '');
    const mark = h('a', {
      class: `mark t-${entry.type}`,
      href: objectHash(o.kind, o.namespace, o.name, rv),
      title,
      dataset: { rv: String(rv), kind: o.kind, namespace: o.namespace || '', name: o.name, type: entry.type, actor: entry.actor },
    }, h('span', { class: 'kind' }, o.kind), ' ', o.name, ' ', h('span', { class: 'what' }, entry.type));
    const cells = lanes.map((_, i) => h('div', { class: 'cell' }, i === lane ? mark : null));
    return h('div', { class: 'row' + (fresh ? ' fresh' : ''), dataset: { rv: String(rv) } },
      h('div', { class: 'time', title: entry.time }, clock(entry.time), h('br'), h('span', { class: 'mono' }, `rv ${rv}`)),
      cells);
  };

  const redraw = () => {
    box.style.setProperty('--lanes', String(Math.max(1, lanes.length)));
    const rows = shown.map((entry) => row(entry, false));
    box.replaceChildren(head(), ...rows);
    if (!shown.length) box.append(h('div', { class: 'empty' }, 'No events match these filters yet. New ones appear here as they are written.'));
    box.scrollTop = box.scrollHeight;
  };

  const learnActor = (actor) => {
    if (seenActors.has(actor)) return false;
    seenActors.add(actor);
    const list = $('#actors');
    if (list) list.append(h('option', { value: actor }));
    lanes.push(actor);
    lanes.sort(compareLanes);
    return true;
  };

  const add = (entry) => {
    if (filters.quiet && isHeartbeat(entry)) return;
    const newLane = learnActor(entry.actor);
    shown.push(entry);
    const dropped = shown.length > SHOWN ? shown.splice(0, shown.length - SHOWN) : [];
    if (newLane) {
      redraw();
      return;
    }
    for (const old of dropped) {
      const stale = box.querySelector(`.row[data-rv="${rvOf(old)}"]`);
      if (stale) stale.remove();
    }
    const empty = box.querySelector('.empty');
    if (empty) empty.remove();
    box.append(row(entry, true));
    if (following) box.scrollTop = box.scrollHeight;
  };

  // The newest events first read page by page, then followed live.
  setStatus('loading', '');
  const newest = await getJSON(`${LOG}logentries?limit=1&includeObject=false`, signal);
  const last = Number(newest.metadata.resourceVersion) || 0;
  let after = Math.max(0, last - WINDOW);
  const loaded = [];
  for (let page = 0; page < 20; page++) {
    const list = await getJSON(
      `${LOG}logentries?includeObject=false&limit=500&continue=${after}&toResourceVersion=${last}${query ? '&' + query : ''}`, signal);
    for (const entry of list.items) {
      if (!(filters.quiet && isHeartbeat(entry))) loaded.push(entry);
    }
    if (!list.metadata.continue) break;
    after = Number(list.metadata.continue);
  }
  for (const entry of loaded.slice(-SHOWN)) {
    learnActor(entry.actor);
    shown.push(entry);
  }
  redraw();
  if (last > WINDOW) {
    box.prepend(h('div', { class: 'more' }, `Showing events since resourceVersion ${last - WINDOW}; filter to look further back.`));
  }
  follow(`${LOG}logentries?watch=true&includeObject=false${query ? '&' + query : ''}`, last, add, signal);
}

/// Follow a `logentries` watch from `cursor`: each new entry to `onEntry`, reconnecting from the
/// last one seen whenever the stream ends (its timeout) or breaks.
async function follow(path, cursor, onEntry, signal) {
  while (!signal.aborted) {
    try {
      const response = await fetch(api(`${path}&resourceVersion=${cursor}`), {
        credentials: 'same-origin',
        cache: 'no-store',
        signal,
      });
      if (response.status === 401) {
        showLogin();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      setStatus('live', 'live');
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, end).trim();
          buffer = buffer.slice(end + 1);
          if (!line) continue;
          const event = JSON.parse(line);
          if (event.type === 'ERROR') throw new Error((event.object && event.object.message) || 'watch error');
          if (event.type !== 'ADDED') continue;
          cursor = Math.max(cursor, rvOf(event.object));
          onEntry(event.object);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      setStatus('reconnecting', 'lost');
      await sleep(1000);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// An object: its history with the diffs, and why it happened, drawn as a graph

function value(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v === '' ? '""' : v;
  if (typeof v !== 'object') return String(v);
  const text = JSON.stringify(v);
  return text.length > 160 ? text.slice(0, 157) + '\u2026' : text;
}

function changeLine(change) {
  switch (change.op) {
    case 'add':
      return h('li', { class: 'add' }, '+ ', h('span', { class: 'path' }, change.path), ': ', value(change.value));
    case 'remove':
      return h('li', { class: 'remove' }, '\u2212 ', h('span', { class: 'path' }, change.path), ' (was ', value(change.value), ')');
    default:
      return h('li', { class: 'change' }, '~ ', h('span', { class: 'path' }, change.path), ': ', value(change.from), ' \u2192 ', value(change.to));
  }
}

function changeList(changes, keep) {
  if (!changes || !changes.length) return null;
  const list = h('ul', { class: 'changes mono' });
  const first = changes.slice(0, keep);
  list.append(...first.map(changeLine));
  if (changes.length > keep) {
    const more = h('button', { class: 'linkish', type: 'button' }, `show ${changes.length - keep} more changes`);
    more.addEventListener('click', () => {
      more.parentElement.replaceWith(...changes.slice(keep).map(changeLine));
    });
    list.append(h('li', {}, more));
  }
  return list;
}

function jsonToggle(object) {
  const pre = h('pre', {});
  const details = h('details', { class: 'json' }, h('summary', {}, 'show JSON'), pre);
  details.addEventListener('toggle', () => {
    if (details.open && !pre.textContent) pre.textContent = JSON.stringify(object, null, 2);
  });
  return details;
}

function plural(kind) {
  return String(kind).toLowerCase();
}

function objectPath(what, kind, namespace, name) {
  const scope = namespace ? `namespaces/${enc(namespace)}/` : '';
  return `${LOG}${scope}${what}/${enc(plural(kind))}/${enc(name)}`;
}

async function objectView(main, kind, namespace, name, params, signal) {
  const place = namespace ? `${namespace}/${name}` : name;
  const selected = params.rv ? Number(params.rv) : null;
  const historyBox = h('div', { class: 'panel', id: 'history' }, h('p', { class: 'hint' }, 'Loading the history\u2026'));
  const whyBox = h('div', { class: 'panel', id: 'why' }, h('p', { class: 'hint' }, 'Loading why\u2026'));
  const timelineLink = `#/?${new URLSearchParams(Object.entries({ namespace, kind, name }).filter(([, v]) => v)).toString()}`;
  main.append(
    h('div', { class: 'object-head' },
      h('h1', { id: 'object-title' }, `${kind} ${place}`),
      h('a', { href: timelineLink }, 'its events on the timeline'),
      namespace ? h('a', { href: `#/at/${enc(namespace)}` }, `${namespace} as it was (time slider)`) : null),
    h('div', { class: 'columns' },
      h('section', {}, h('h2', {}, 'Why it happened'), whyBox),
      h('section', {}, h('h2', {}, 'History'), historyBox)),
  );

  const history = await getJSON(`${objectPath('history', kind, namespace, name)}?tail=300`, signal);
  const items = history.items || [];
  renderHistory(historyBox, items, kind, namespace, name, selected);

  const creation = items.find((e) => e.type === 'Created');
  const asked = selected && !(creation && rvOf(creation) === selected) ? selected : null;
  let why;
  try {
    why = await getJSON(objectPath('why', kind, namespace, name) + (asked ? `?resourceVersion=${asked}` : ''), signal);
  } catch (error) {
    if (error.status === 401) throw error;
    whyBox.replaceChildren(h('p', { class: 'hint' }, `No explanation: ${error.message}`));
    return;
  }
  // After a pod's creation, what made it run: the scheduler's binding and the kubelet's start.
  const next = [];
  if (!asked && kind === 'Pod') {
    const bound = items.find((e) => e.type === 'Bound');
    if (bound) next.push(bound);
    const started = items.find((e) => e.actor.startsWith(ACTORS.kubeletPrefix) &&
      (e.changes || []).some((c) => c.path === 'status.phase'));
    if (started) next.push(started);
  }
  await renderWhy(whyBox, why, next, signal);
}

function renderHistory(box, items, kind, namespace, name, selected) {
  if (!items.length) {
    box.replaceChildren(h('p', { class: 'hint' }, 'The log has no events of this object.'));
    return;
  }
  const list = h('ol', { class: 'history' });
  for (const entry of items) {
    const rv = rvOf(entry);
    const how = client(entry);
    list.append(h('li', { class: rv === selected ? 'selected' : '', dataset: { rv: String(rv), type: entry.type } },
      h('div', { class: 'line1' },
        h('span', { class: 'what' }, entry.type),
        actorPill(entry.actor),
        h('span', { class: 'meta' }, `${clock(entry.time)} · rv ${rv}${how ? ' · ' + how : ''}`),
        h('a', { class: 'linkish', href: objectHash(kind, namespace, name, rv) }, 'why?')),
      changeList(entry.changes, 6),
      jsonToggle(entry)));
  }
  box.replaceChildren(list);
  const chosen = list.querySelector('li.selected');
  if (chosen) chosen.scrollIntoView({ block: 'nearest' });
}

/// Fold a controller's runs of status updates of one object into one step, as `kubetrail why`.
function fold(chain) {
  const steps = [];
  for (const entry of chain) {
    const last = steps[steps.length - 1];
    const same = last && last.entry.type === 'StatusUpdated' && entry.type === 'StatusUpdated' &&
      last.entry.actor === entry.actor && last.entry.involvedObject.uid === entry.involvedObject.uid;
    if (same) {
      last.folded.push(entry);
    } else {
      steps.push({ entry, folded: [] });
    }
  }
  return steps;
}

/// The primary cause's reason and the other causes an event recorded (`causes`, when the server
/// records them; the first names the event `causedBy` names).
function causesOf(entry) {
  const causes = entry.causes || [];
  const primary = causes.length && String(causes[0].resourceVersion) === String(entry.causedBy) ? causes[0] : null;
  return { reason: primary ? primary.reason : '', others: primary ? causes.slice(1) : causes };
}

async function describeCause(cause, signal) {
  if (cause.involvedObject) return cause;
  try {
    const rv = cause.resourceVersion;
    const list = await getJSON(`${LOG}logentries?includeObject=false&limit=1&fromResourceVersion=${rv}&toResourceVersion=${rv}`, signal);
    const entry = list.items[0];
    if (entry) return Object.assign({}, cause, { involvedObject: entry.involvedObject, type: entry.type, actor: entry.actor, time: entry.time });
  } catch (error) {
    if (error.status === 401) throw error;
  }
  return cause;
}

function node(entry, number, options) {
  const o = entry.involvedObject;
  const lane = laneOf(entry.actor);
  const rv = rvOf(entry);
  const place = o.namespace ? `${o.namespace}/${o.name}` : o.name;
  const how = client(entry);
  const span = options.folded.length
    ? ` (and ${options.folded.length} earlier, resourceVersions ${rvOf(options.folded[options.folded.length - 1])}..${rvOf(options.folded[0])})`
    : '';
  const lines = [story(entry, lane)].filter(Boolean);
  return h('div', {
    class: `node ${lane.group}${options.subject ? ' subject' : ''}`,
    dataset: { rv: String(rv), actor: entry.actor, type: entry.type, kind: o.kind, name: o.name },
  },
  h('div', { class: 'who' }, h('span', { class: 'num' }, String(number)), actorPill(entry.actor)),
  h('div', { class: 'did' }, h('a', { href: objectHash(o.kind, o.namespace, o.name, rv) }, `${o.kind} ${place}`), ` ${entry.type}${span}`),
  lines.map((l) => h('div', { class: 'story' }, l)),
  h('div', { class: 'meta' }, `${clock(entry.time)} · rv ${rv}${how && lane.group !== 'person' ? ' · ' + how : ''}`),
  changeList(importantFirst(entry.changes), 3));
}

/// The changes a reader looks for first (where a pod went, how it runs, how many are wanted).
const IMPORTANT = ['status.phase', 'spec.nodeName', 'spec.replicas', 'metadata.deletionTimestamp'];

function importantFirst(changes) {
  const rank = (c) => {
    const i = IMPORTANT.indexOf(c.path);
    return i < 0 ? IMPORTANT.length : i;
  };
  return (changes || []).slice().sort((a, b) => rank(a) - rank(b));
}

/// One sentence on what a step did, for the steps a beginner meets in a pod's life.
function story(entry, lane) {
  const changes = entry.changes || [];
  const find = (path) => changes.find((c) => c.path === path);
  const o = entry.involvedObject;
  if (lane.group === 'person') {
    const how = client(entry);
    return `${entry.actor} sent a request${how ? ' ' + how : ''}; the API server wrote it to the log as resourceVersion ${rvOf(entry)}.`;
  }
  if (entry.type === 'Bound') {
    const node = find('spec.nodeName');
    return node ? `The scheduler chose node ${node.value} for the pod.` : 'The scheduler chose a node for the pod.';
  }
  const phase = find('status.phase');
  if (lane.group === 'kubelet' && o.kind === 'Pod' && phase && phase.op === 'change') {
    return `The kubelet started the pod's containers on its node: ${phase.from} \u2192 ${phase.to}.`;
  }
  if (lane.group === 'kubelet' && entry.type === 'Deleted') {
    return 'The kubelet stopped the pod\u2019s containers and the pod was removed.';
  }
  if (lane.group === 'controller' && entry.type === 'Created') {
    return `The ${entry.actor} created this ${o.kind}.`;
  }
  return '';
}

function sideNode(cause) {
  const o = cause.involvedObject;
  const label = o
    ? [h('a', { href: objectHash(o.kind, o.namespace, o.name, cause.resourceVersion) }, `${o.kind} ${o.namespace ? o.namespace + '/' : ''}${o.name}`),
      ` ${cause.type || ''}`, cause.actor ? [' by ', actorPill(cause.actor)] : null]
    : [`resourceVersion ${cause.resourceVersion}`];
  const lane = cause.actor ? laneOf(cause.actor).group : 'server';
  return h('div', { class: `node ${lane}`, dataset: { rv: String(cause.resourceVersion), actor: cause.actor || '', type: cause.type || '' } },
    h('div', { class: 'who' }, 'also because'),
    h('div', { class: 'did' }, label),
    cause.reason ? h('div', { class: 'meta' }, cause.reason) : null);
}

async function renderWhy(box, why, next, signal) {
  const chain = (why.chain || []).slice().reverse();
  if (!chain.length) {
    box.replaceChildren(h('p', { class: 'hint' }, 'The log holds no cause for this event.'));
    return;
  }
  const steps = fold(chain.slice().reverse()).reverse();
  const origin = why.origin || {};
  const graph = h('div', { class: 'graph', id: 'why-graph' });
  const intro = origin.person
    ? `It started with a request by ${origin.actor} (resourceVersion ${origin.resourceVersion}). Each arrow leads from a cause to what it made happen.`
    : `It started with ${origin.actor || 'the server'} at resourceVersion ${origin.resourceVersion || '?'}: no person asked for it. Each arrow leads from a cause to what it made happen.`;
  let number = 0;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    const effect = step.entry;
    if (i > 0) {
      const { reason } = causesOf(effect);
      graph.append(h('div', { class: 'arrow' }, reason ? h('span', { class: 'reason' }, reason) : 'led to'));
    }
    const { others } = i > 0 ? causesOf(effect) : { others: [] };
    const described = await Promise.all(others.map((c) => describeCause(c, signal)));
    number += 1;
    const main = node(effect, number, { folded: step.folded, subject: i === steps.length - 1 });
    graph.append(h('div', { class: 'step' },
      described.length ? h('div', { class: 'side' }, described.map(sideNode)) : null,
      main));
  }
  for (const entry of next) {
    graph.append(h('div', { class: 'arrow' }, 'then'));
    number += 1;
    graph.append(h('div', { class: 'step' }, node(entry, number, { folded: [], subject: false })));
  }
  box.replaceChildren(h('p', { class: 'hint' }, intro), graph, jsonToggle(why));
}

// ---------------------------------------------------------------------------------------------
// The time slider: a namespace's pods and ReplicaSets at any resourceVersion (Exact lists)

function podRow(pod, at, gone) {
  const status = pod.status || {};
  const statuses = status.containerStatuses || [];
  const containers = (pod.spec && pod.spec.containers) || [];
  let phase = status.reason || status.phase || 'Unknown';
  for (const c of statuses) {
    const state = c.state || {};
    if (state.waiting && state.waiting.reason) phase = state.waiting.reason;
    else if (state.terminated && state.terminated.reason) phase = state.terminated.reason;
  }
  if (pod.metadata.deletionTimestamp) phase = 'Terminating';
  const ready = statuses.filter((c) => c.ready).length;
  const restarts = statuses.reduce((n, c) => n + (c.restartCount || 0), 0);
  const name = pod.metadata.name;
  return h('tr', { class: gone ? 'gone' : '', dataset: { name } },
    h('td', {}, h('a', { href: objectHash('Pod', pod.metadata.namespace, name) }, name), gone ? h('span', { class: 'badge' }, 'gone now') : null),
    h('td', {}, `${ready}/${containers.length}`),
    h('td', {}, phase),
    h('td', {}, String(restarts)),
    h('td', {}, (pod.spec && pod.spec.nodeName) || '<none>'),
    h('td', {}, age(pod.metadata.creationTimestamp, at)));
}

function replicaSetRow(rs, at, gone) {
  const status = rs.status || {};
  const name = rs.metadata.name;
  return h('tr', { class: gone ? 'gone' : '', dataset: { name } },
    h('td', {}, h('a', { href: objectHash('ReplicaSet', rs.metadata.namespace, name) }, name), gone ? h('span', { class: 'badge' }, 'gone now') : null),
    h('td', {}, String((rs.spec && rs.spec.replicas) ?? 1)),
    h('td', {}, String(status.replicas || 0)),
    h('td', {}, String(status.readyReplicas || 0)),
    h('td', {}, age(rs.metadata.creationTimestamp, at)));
}

function table(id, headers, rows, empty) {
  if (!rows.length) return h('p', { class: 'hint', id }, empty);
  return h('table', { class: 'get', id }, h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))), h('tbody', {}, rows));
}

async function sliderView(main, namespace, rvParam, signal) {
  const newest = await getJSON(`${LOG}logentries?limit=1&includeObject=false`, signal);
  const last = Number(newest.metadata.resourceVersion) || 1;
  let rv = Math.min(last, Math.max(1, Number(rvParam) || last));
  const namespaces = await getJSON('api/v1/namespaces', signal);
  const names = namespaces.items.map((n) => n.metadata.name);
  if (!names.includes(namespace)) names.push(namespace);
  const select = h('select', { id: 'namespace' }, names.sort().map((n) => h('option', { value: n, selected: n === namespace }, n)));
  const range = h('input', { type: 'range', id: 'rv', min: '1', max: String(last), value: String(rv), step: '1' });
  const number = h('input', { type: 'number', id: 'rv-number', min: '1', max: String(last), value: String(rv) });
  const moment = h('div', { class: 'moment', id: 'moment' });
  const result = h('div', { id: 'at-result' });
  main.append(
    h('h1', {}, 'The namespace as it was'),
    h('p', { class: 'hint' },
      'Move the slider through the log: each step is one event (one resourceVersion). ',
      'The tables show what ', h('code', {}, 'kubectl get'), ' would have shown at that moment; ',
      'objects that no longer exist are marked \u201cgone now\u201d.'),
    h('div', { class: 'filters' }, h('label', {}, 'Namespace', select)),
    h('div', { class: 'slider' },
      h('button', { type: 'button', onclick: () => go(rv - 1), title: 'one event back' }, '\u25c0'),
      range,
      h('button', { type: 'button', onclick: () => go(rv + 1), title: 'one event on' }, '\u25b6'),
      number,
      h('button', { type: 'button', onclick: () => go(last) }, 'now')),
    moment, result);

  // What exists now, to mark what has gone since.
  const podsNow = await getJSON(`api/v1/namespaces/${enc(namespace)}/pods`, signal);
  const setsNow = await getJSON(`apis/apps/v1/namespaces/${enc(namespace)}/replicasets`, signal);
  const uidsNow = new Set([...podsNow.items, ...setsNow.items].map((o) => o.metadata.uid));

  let asked = 0;
  let timer = null;
  const show = async (at) => {
    const ticket = ++asked;
    const exact = `resourceVersion=${at}&resourceVersionMatch=Exact`;
    try {
      const [pods, sets, entries] = await Promise.all([
        getJSON(`api/v1/namespaces/${enc(namespace)}/pods?${exact}`, signal),
        getJSON(`apis/apps/v1/namespaces/${enc(namespace)}/replicasets?${exact}`, signal),
        getJSON(`${LOG}logentries?includeObject=false&limit=1&fromResourceVersion=${at}&toResourceVersion=${at}`, signal),
      ]);
      if (ticket !== asked) return;
      const entry = entries.items[0];
      const time = entry ? entry.time : new Date().toISOString();
      moment.replaceChildren(...(entry
        ? [`resourceVersion ${at} \u00b7 ${clock(entry.time)} \u00b7 `,
          h('a', { href: objectHash(entry.involvedObject.kind, entry.involvedObject.namespace, entry.involvedObject.name, at) },
            `${entry.involvedObject.kind} ${entry.involvedObject.name} ${entry.type}`),
          ' by ', actorPill(entry.actor)]
        : [`resourceVersion ${at}`]));
      result.replaceChildren(
        h('h2', {}, `Pods in ${namespace}`),
        table('pods-at', ['NAME', 'READY', 'STATUS', 'RESTARTS', 'NODE', 'AGE'],
          pods.items.map((p) => podRow(p, time, !uidsNow.has(p.metadata.uid))), 'No pods at that moment.'),
        h('h2', {}, `ReplicaSets in ${namespace}`),
        table('replicasets-at', ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
          sets.items.map((s) => replicaSetRow(s, time, !uidsNow.has(s.metadata.uid))), 'No ReplicaSets at that moment.'));
      result.dataset.rv = String(at);
    } catch (error) {
      if (signal.aborted || error.status === 401 || ticket !== asked) return;
      result.replaceChildren(h('p', { class: 'hint' }, `Could not read resourceVersion ${at}: ${error.message}`));
    }
  };
  const go = (to) => {
    rv = Math.min(last, Math.max(1, Math.round(Number(to)) || 1));
    range.value = String(rv);
    number.value = String(rv);
    history.replaceState(null, '', `#/at/${enc(namespace)}/${rv}`);
    clearTimeout(timer);
    timer = setTimeout(() => show(rv), 120);
  };
  range.addEventListener('input', () => go(range.value));
  number.addEventListener('change', () => go(number.value));
  select.addEventListener('change', () => {
    location.hash = `#/at/${enc(select.value)}/${rv}`;
  });
  await show(rv);
}

// ---------------------------------------------------------------------------------------------

async function start() {
  try {
    ACTORS = await getJSON('ui/actors.json');
  } catch (error) {
    if (error.status !== 401) notice(`Could not reach the server: ${error.message}`, 'error');
  }
  window.addEventListener('hashchange', route);
  route();
}

start();
