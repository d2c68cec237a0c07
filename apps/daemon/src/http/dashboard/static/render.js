// Renders /api/state into the page. Every piece of data becomes a text node (textContent):
// queue names, reasons and policy messages can hold any character, `<` included, and are
// never parsed as HTML.
import * as fmt from './format.js';
import { groupRow, memberRow } from './group-rows.js';

/**
 * Creates an element; string children become text nodes, null children are skipped.
 * @param {string} tag
 * @param {{ class?: string, title?: string, data?: Record<string, string>, attrs?: Record<string, string> } | null} props
 * @param {...(Node | string | null)} children
 */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  if (props?.class) element.className = props.class;
  if (props?.title) element.title = props.title;
  for (const [key, value] of Object.entries(props?.data ?? {})) element.dataset[key] = value;
  for (const [key, value] of Object.entries(props?.attrs ?? {})) element.setAttribute(key, value);
  for (const child of children) {
    if (child === null) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/** The pickup percentile the SLO is about, when the reader measured it. */
export function pickupAtSlo(queue) {
  const latency = queue.snapshot?.pickupLatencyMs;
  if (!latency) return { label: `p${queue.slo.percentile}`, ms: null };
  const key = { 50: 'p50', 95: 'p95', 99: 'p99' }[queue.slo.percentile] ?? 'p95';
  return { label: key, ms: latency[key] ?? null };
}

/** ok, warn (above 80 % of the SLO) or breach. */
export function sloLevel(ms, sloMs) {
  if (ms === null || ms === undefined) return 'unknown';
  if (ms > sloMs) return 'breach';
  return ms > sloMs * 0.8 ? 'warn' : 'ok';
}

/** @param {any} state */
export function renderSummary(state, container) {
  const capacity = state.capacity;
  const resources = state.resources;
  const limiter = capacity
    ? capacity.limiter === 'config'
      ? 'limits.maxWorkers'
      : `${capacity.limiter} headroom`
    : 'unknown';
  const workersNow = state.queues.reduce(
    (sum, queue) => sum + queue.workers.running + queue.workers.starting,
    0,
  );
  container.replaceChildren(
    card('Host capacity', capacity ? `${fmt.count(capacity.maxWorkers)} workers` : '–', [
      ['limited by', limiter, capacity && capacity.limiter !== 'config' ? 'warn' : ''],
      ['workers now', fmt.count(workersNow), ''],
      ['CPU headroom', capacity ? fmt.cores(capacity.headroom.cpuCores) : '–', ''],
      ['memory headroom', capacity ? fmt.bytes(capacity.headroom.memoryBytes) : '–', ''],
      ...(capacity?.unknown?.length ? [['unknown', capacity.unknown.join(', '), 'warn']] : []),
    ]),
    card(
      'CPU',
      resources ? `${fmt.cores(resources.cpu.usedCores)} used` : '–',
      resources
        ? [
            [
              'limit',
              resources.cpu.limitCores === null ? '–' : fmt.cores(resources.cpu.limitCores),
              '',
            ],
          ]
        : [],
    ),
    card(
      'Memory',
      resources ? `${fmt.bytes(resources.memory.usedBytes)} used` : '–',
      resources ? [['limit', fmt.bytes(resources.memory.limitBytes), '']] : [],
    ),
    card('Control loop', `${fmt.count(state.ticks)} tick${state.ticks === 1 ? '' : 's'}`, [
      ['every', fmt.duration(state.tickMs), ''],
      ['last tick took', fmt.duration(state.lastTick?.durationMs), ''],
      ['up for', fmt.duration(state.now - state.startedAt), ''],
      ...(state.dryRun ? [['mode', 'dry run: nothing is spawned', 'warn']] : []),
    ]),
  );
}

function card(title, headline, rows) {
  return h(
    'div',
    { class: 'card' },
    h('h3', null, title),
    h('p', { class: 'headline' }, headline),
    h(
      'dl',
      null,
      ...rows.flatMap(([term, value, level]) => [
        h('dt', null, term),
        h('dd', level ? { class: level } : null, value),
      ]),
    ),
  );
}

/**
 * @param {any} state
 * @param {Set<string>} charted queues whose charts are shown
 * @param {(name: string) => void} toggle
 */
export function renderQueues(state, tbody, charted, toggle) {
  tbody.replaceChildren(
    ...state.queues.flatMap((queue) => {
      if (!queue.group) return [queueRow(queue, charted, toggle)];
      // A worker group: its pool's row, then each member queue against its own SLO.
      return [
        groupRow(queue, charted, toggle),
        ...queue.group.members.map((member) => memberRow(queue, member)),
      ];
    }),
  );
}

export function chartButton(name, charted, toggle) {
  const button = h(
    'button',
    {
      class: 'toggle',
      attrs: { type: 'button', 'aria-pressed': String(charted.has(name)) },
    },
    charted.has(name) ? 'shown' : 'show',
  );
  button.addEventListener('click', () => toggle(name));
  return button;
}

function queueRow(queue, charted, toggle) {
  const snapshot = queue.snapshot;
  const pickup = pickupAtSlo(queue);
  const level = sloLevel(pickup.ms, queue.slo.pickupMs);
  const oldestLevel = sloLevel(snapshot?.oldestPendingAgeMs ?? null, queue.slo.pickupMs);
  const button = chartButton(queue.name, charted, toggle);
  return h(
    'tr',
    { class: `level-${level}`, data: { queue: queue.name } },
    h(
      'th',
      { attrs: { scope: 'row' } },
      h('span', { class: 'queue-name' }, queue.name),
      h('span', { class: 'driver' }, queue.driver),
      snapshot?.error ? h('span', { class: 'pill breach' }, 'unreadable') : null,
    ),
    h('td', { class: 'num', data: { field: 'pending' } }, fmt.count(snapshot?.pending)),
    h('td', { class: `num ${oldestLevel}` }, fmt.duration(snapshot?.oldestPendingAgeMs)),
    h('td', { class: 'num' }, fmt.rate(snapshot?.arrivalRate)),
    h('td', { class: level }, pickupCell(pickup, queue.slo)),
    h('td', null, workersCell(queue)),
    h('td', null, decisionCell(queue)),
    h('td', null, button),
  );
}

export function pickupCell(pickup, slo) {
  const ratio = pickup.ms === null ? 0 : Math.min(pickup.ms / slo.pickupMs, 1.5);
  const bar = h('span', { class: 'bar', attrs: { 'aria-hidden': 'true' } }, h('span', null));
  // A CSSOM property, not a style attribute: allowed by the page's CSP.
  bar.firstElementChild.style.width = `${(ratio / 1.5) * 100}%`;
  const sloMark = h('span', { class: 'slo-mark' });
  bar.append(sloMark);
  return h(
    'div',
    { class: 'pickup' },
    h('span', { class: 'value' }, `${pickup.label} ${fmt.duration(pickup.ms)}`),
    h('span', { class: 'slo' }, ` / SLO ${fmt.duration(slo.pickupMs)}`),
    bar,
  );
}

export function workersCell(queue) {
  const { running, starting, stopping } = queue.workers;
  const desired = queue.lastDecision?.to ?? null;
  return h(
    'div',
    { class: 'workers-cell' },
    h('span', { class: 'value' }, `${running} running`),
    starting ? h('span', { class: 'pill warn' }, `${starting} starting`) : null,
    stopping ? h('span', { class: 'pill muted' }, `${stopping} stopping`) : null,
    h(
      'span',
      { class: 'sub' },
      `desired ${desired === null ? '–' : desired} · bounds ${queue.bounds.min}–${queue.bounds.max}`,
    ),
    queue.pool?.health === 'degraded'
      ? h('span', { class: 'pill breach' }, `failing to start (${queue.pool.failedStarts})`)
      : null,
  );
}

/** The last decision, and the policy that held it below the strategy, if one did. */
export function decisionCell(queue) {
  const decision = queue.lastDecision;
  if (!decision) return h('span', { class: 'sub' }, 'none yet');
  const wanted = decision.recommendation.workers;
  const held = decision.to < wanted;
  const limiting = [...decision.edits].reverse().find((edit) => edit.to < edit.from);
  return h(
    'div',
    { class: 'decision-cell' },
    h(
      'span',
      { class: held ? 'value warn' : 'value' },
      held ? `held at ${decision.to}, strategy wants ${wanted}` : `${decision.to} as recommended`,
    ),
    held && limiting ? h('span', { class: 'sub' }, `${limiting.policy}: ${limiting.why}`) : null,
    held ? null : h('span', { class: 'sub' }, decision.recommendation.reason),
  );
}

/** @param {any} state */
export function renderWorkers(state, container) {
  container.replaceChildren(
    ...state.queues.map((queue) => {
      const pool = queue.pool;
      const list = pool
        ? pool.workers.map((worker) =>
            h(
              'li',
              { class: `worker state-${worker.state}`, data: { state: worker.state } },
              h('span', { class: `pill ${stateLevel(worker.state)}` }, worker.state),
              h('span', { class: 'mono' }, worker.pid === null ? 'pid –' : `pid ${worker.pid}`),
              h('span', null, `up ${fmt.duration(worker.uptimeMs)}`),
              h('span', null, fmt.bytes(worker.rssBytes)),
              worker.adopted ? h('span', { class: 'pill muted' }, 'adopted') : null,
              worker.retiring
                ? h('span', { class: 'pill muted' }, `retiring: ${worker.retiring}`)
                : null,
            ),
          )
        : [];
      return h(
        'div',
        { class: 'worker-group', data: { queue: queue.name } },
        h(
          'h3',
          null,
          h('span', { class: 'queue-name' }, queue.name),
          queue.group
            ? h(
                'span',
                { class: 'sub serves' },
                ` serves ${queue.group.members.map((member) => member.name).join(', ')} ·`,
              )
            : null,
          h(
            'span',
            { class: 'sub' },
            pool
              ? ` ${pool.running} running · ${pool.starting} starting · ${pool.stopping} stopping · ${pool.health}`
              : ` ${queue.workers.running} (dry run: no processes)`,
          ),
        ),
        list.length ? h('ul', null, ...list) : h('p', { class: 'sub' }, 'no worker processes'),
        pool?.lastExit
          ? h(
              'p',
              { class: 'sub' },
              `last exit: ${pool.lastExit.outcome}, code ${pool.lastExit.code ?? '–'}${pool.lastExit.signal ? `, ${pool.lastExit.signal}` : ''}, at ${fmt.clock(pool.lastExit.at)}`,
            )
          : null,
      );
    }),
  );
}

function stateLevel(state) {
  if (state === 'running') return 'ok';
  if (state === 'starting') return 'warn';
  return 'muted';
}

/** The decision log, newest first (at most `limit` rows). @param {any} state */
export function renderDecisions(state, tbody, limit = 100) {
  const rows = state.decisions.slice(-limit).reverse();
  if (rows.length === 0) {
    tbody.replaceChildren(
      h(
        'tr',
        null,
        h('td', { attrs: { colspan: '5' }, class: 'sub' }, 'No change of workers yet.'),
      ),
    );
    return;
  }
  tbody.replaceChildren(
    ...rows.map((decision) =>
      h(
        'tr',
        {
          class: 'decision',
          data: {
            tick: String(decision.tick),
            queue: decision.queue,
            direction: decision.direction,
          },
        },
        h('td', { class: 'mono' }, fmt.clock(decision.at)),
        h('td', null, h('span', { class: 'queue-name' }, decision.queue)),
        h(
          'td',
          { class: `direction-${decision.direction}` },
          `${decision.direction === 'up' ? '▲' : '▼'} ${decision.from} → ${decision.to}`,
        ),
        h(
          'td',
          null,
          h('div', null, decision.recommendation.reason),
          h(
            'div',
            { class: 'terms' },
            ...Object.entries(decision.recommendation.terms).map(([name, value]) =>
              h('span', { class: 'term' }, `${name} ${fmt.term(value)}`),
            ),
          ),
        ),
        h(
          'td',
          null,
          decision.edits.length === 0
            ? h('span', { class: 'sub' }, 'none')
            : h(
                'ul',
                { class: 'edits' },
                ...decision.edits.map((edit) =>
                  h(
                    'li',
                    null,
                    h('b', null, edit.policy),
                    ` ${edit.from} → ${edit.to}: ${edit.why}`,
                  ),
                ),
              ),
        ),
      ),
    ),
  );
}
