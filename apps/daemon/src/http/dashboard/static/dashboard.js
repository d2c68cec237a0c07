// The qscale dashboard: polls /api/state and /api/history (only what is new) once per tick of
// the daemon, while the tab is visible. Read-only. With a token configured, nothing is shown
// until the user enters it; it stays in this tab's sessionStorage and travels only in the
// Authorization header, never in a URL.
import { Charts, HistoryStore } from './charts.js';
import * as fmt from './format.js';
import { queueLevel } from './group-rows.js';
import { renderDecisions, renderQueues, renderSummary, renderWorkers } from './render.js';

const TOKEN_KEY = 'qscale.dashboard.token';
/** Charts shown at first: the first queues of the configuration. */
const CHARTED_AT_FIRST = 6;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

class Unauthorized extends Error {}

let token = sessionStorage.getItem(TOKEN_KEY);
let store = new HistoryStore();
const charts = new Charts($('charts'));
/** @type {Set<string> | null} null until the first state says which queues there are */
let charted = null;
let lastState = null;
let failingSince = null;
let timer = 0;
let polling = false;

async function api(path) {
  const response = await fetch(path, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    cache: 'no-store',
    credentials: 'omit',
  });
  if (response.status === 401) throw new Unauthorized();
  if (!response.ok) throw new Error(`${path} answered HTTP ${response.status}`);
  return response.json();
}

async function poll() {
  const state = await api('/api/state');
  if (charted === null) {
    charted = new Set(state.queues.slice(0, CHARTED_AT_FIRST).map((queue) => queue.name));
  }
  // History of the charted queues only (a full hour of 200 queues is megabytes): what is new
  // for those already drawn, the whole hour for those just shown. A charted group reads its
  // pool's series and each member's.
  const names = seriesNames(state, charted);
  store.forgetAllBut(names);
  const drawn = [...names].filter((name) => store.queues.has(name));
  const fresh = [...names].filter((name) => !store.queues.has(name));
  if (drawn.length > 0) store.merge(await api(historyPath(drawn, store.newestAt)));
  if (fresh.length > 0) store.merge(await api(historyPath(fresh, 0)));
  lastState = state;
  render(state);
  return state;
}

/** The series the charts of `charted` need: each entry's own, and a group's members'. */
function seriesNames(state, charted) {
  return new Set(
    state.queues
      .filter((queue) => charted.has(queue.name))
      .flatMap((queue) => [queue.name, ...(queue.group?.members ?? []).map((m) => m.name)]),
  );
}

/** The queues read: a queue, or each member of a group (held to its own SLO). */
function readQueues(state) {
  return state.queues.flatMap((queue) => queue.group?.members ?? [queue]);
}

/** `/api/history?queue=a&queue=b&since=…`: names are encoded, never pasted. */
function historyPath(queues, since) {
  const params = new URLSearchParams(queues.map((name) => ['queue', name]));
  if (since > 0) params.set('since', String(since));
  return `/api/history?${params}`;
}

function render(state) {
  showContent();
  const health = $('health');
  health.textContent = state.health.status === 'ok' ? 'healthy' : 'degraded';
  health.className = `badge ${state.health.status === 'ok' ? 'ok' : 'breach'}`;
  health.title = state.health.reasons.join('\n');
  // A group's members count one by one, each against its own SLO (its pickup or its oldest job).
  const queues = readQueues(state);
  const breaching = queues.filter((queue) => queueLevel(queue) === 'breach').length;
  const groups = state.queues.filter((queue) => queue.group).length;
  $('meta').textContent =
    `${queues.length} queues${groups > 0 ? ` (${groups} worker group${groups === 1 ? '' : 's'})` : ''} · ${breaching} over their SLO${state.dryRun ? ' · dry run' : ''}`;
  $('updated').textContent = `updated ${fmt.clock(state.now)}`;
  renderSummary(state, $('summary'));
  renderQueues(state, $('queues').querySelector('tbody'), charted, toggle);
  charts.update(state.queues, charted, store);
  renderWorkers(state, $('workers'));
  renderDecisions(state, $('decisions').querySelector('tbody'));
}

function toggle(name) {
  if (!charted || !lastState) return;
  if (charted.has(name)) charted.delete(name);
  else charted.add(name);
  render(lastState);
}

function showContent() {
  $('auth').hidden = true;
  $('content').hidden = false;
  $('forget').hidden = !token;
}

/** Hides every figure: without a valid token the page shows nothing but the form. */
function askForToken(message) {
  $('content').hidden = true;
  $('forget').hidden = true;
  $('auth').hidden = false;
  $('auth-error').textContent = message;
  $('health').textContent = 'token needed';
  $('health').className = 'badge warn';
  $('meta').textContent = '';
  $('updated').textContent = '';
  for (const id of ['summary', 'workers']) $(id).replaceChildren();
  for (const id of ['queues', 'decisions']) $(id).querySelector('tbody').replaceChildren();
  charts.update([], new Set(), store);
  store = new HistoryStore();
  lastState = null;
  $('token').focus();
}

async function loop() {
  // One chain of polls: a second call (tab shown again, token sent) while one runs is dropped.
  if (polling) return;
  polling = true;
  clearTimeout(timer);
  try {
    await pollOnce();
  } finally {
    polling = false;
  }
}

async function pollOnce() {
  let periodMs = 2_000;
  if (document.visibilityState === 'visible') {
    try {
      const state = await poll();
      periodMs = Math.max(1_000, Math.min(state.tickMs, 10_000));
      failingSince = null;
      $('offline').hidden = true;
    } catch (error) {
      if (error instanceof Unauthorized) {
        askForToken(token ? 'That token was refused.' : '');
        return; // no more polls until the form is sent
      }
      failingSince ??= Date.now();
      $('offline').hidden = false;
      $('offline').textContent =
        `The daemon does not answer (${error.message}) since ${fmt.clock(failingSince)}; the figures below are from ${lastState ? fmt.clock(lastState.now) : 'never'}. Retrying.`;
    }
  }
  timer = setTimeout(() => void loop(), periodMs);
}

$('auth-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('token'));
  token = input.value.trim();
  input.value = '';
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  void loop();
});

$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  clearTimeout(timer);
  askForToken('Token forgotten.');
});

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') void loop();
});

void loop();
