// The last hour per queue, drawn with uPlot (served by the daemon from its own dependency,
// loaded before this module as the global `uPlot`). One card per charted queue, four panels.
import * as fmt from './format.js';
import { h } from './render.js';

const COLORS = {
  arrivals: '#2563eb',
  backlog: '#7c3aed',
  desired: '#d97706',
  running: '#059669',
  pickup: '#0891b2',
  slo: '#dc2626',
  oldest: '#4b5563',
};

/** What a card is drawn for: a queue's SLO, or each member's of a group (a change redraws it). */
function signatureOf(queue) {
  const queues = queue.group?.members ?? [queue];
  return queues.map((q) => `${q.name}:${q.slo.pickupMs}:${q.slo.percentile}`).join(',');
}

/**
 * The series the history keeps, per queue: times in epoch ms and figures, oldest first.
 * Merges what `/api/history?since=` returned into it and drops what left the window.
 */
export class HistoryStore {
  /** @type {Map<string, any>} */
  queues = new Map();
  /** Start of the newest bucket seen, for the next `since`. */
  newestAt = 0;
  /** The daemon's bucket (one point per queue), in ms. */
  bucketMs = 5_000;

  /** Drops the series of queues no longer charted (they are read again when shown). */
  forgetAllBut(names) {
    for (const name of [...this.queues.keys()]) if (!names.has(name)) this.queues.delete(name);
  }

  merge(view) {
    const from = view.now - view.windowMs;
    this.bucketMs = view.bucketMs;
    for (const [name, fresh] of Object.entries(view.queues)) {
      const series = this.queues.get(name) ?? empty();
      const first = fresh.at[0];
      // The newest bucket may have grown since the last poll: the new copy replaces it.
      let keep = first === undefined ? series.at.length : series.at.findIndex((at) => at >= first);
      if (keep === -1) keep = series.at.length;
      let drop = series.at.findIndex((at) => at >= from);
      if (drop === -1) drop = keep;
      for (const key of Object.keys(series)) {
        series[key] = [...series[key].slice(drop, keep), ...(fresh[key] ?? [])];
      }
      this.queues.set(name, series);
      const last = series.at.at(-1);
      if (last !== undefined && last > this.newestAt) this.newestAt = last;
    }
  }
}

function empty() {
  return {
    at: [],
    arrivalRate: [],
    backlog: [],
    desired: [],
    running: [],
    pickupP95Ms: [],
    oldestAgeMs: [],
  };
}

/** The charts of the queues the user chose, kept in sync with the table and the store. */
export class Charts {
  /** @type {Map<string, { card: HTMLElement, plots: any[], signature: string, members?: any[] }>} */
  cards = new Map();

  /** @param {HTMLElement} container */
  constructor(container) {
    this.container = container;
    // One observer for every card: charts follow the layout (phone to wide screen).
    this.resizer = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const plot = /** @type {any} */ (entry.target).plot;
        const width = Math.floor(entry.contentRect.width);
        if (plot && width > 0 && width !== plot.width) plot.setSize({ width, height: HEIGHT });
      }
    });
  }

  /**
   * @param {any[]} queues the queues of /api/state, in order
   * @param {Set<string>} charted
   * @param {HistoryStore} store
   */
  update(queues, charted, store) {
    const wanted = queues.filter((queue) => charted.has(queue.name));
    for (const [name, entry] of this.cards) {
      if (!wanted.some((queue) => queue.name === name)) {
        for (const plot of entry.plots) plot.destroy();
        entry.card.remove();
        this.cards.delete(name);
      }
    }
    for (const queue of wanted) {
      let entry = this.cards.get(queue.name);
      if (!entry || entry.signature !== signatureOf(queue)) {
        if (entry) {
          for (const plot of entry.plots) plot.destroy();
          entry.card.remove();
        }
        entry = queue.group ? this.createGroup(queue) : this.create(queue);
        this.cards.set(queue.name, entry);
      }
      this.container.append(entry.card); // keeps the table's order
      const series = store.queues.get(queue.name);
      if (queue.group) {
        if (series) this.fillGroup(entry, series, store);
      } else if (series) this.fill(entry, series, queue.slo.pickupMs, store.bucketMs);
    }
    if (wanted.length === 0) {
      this.container.replaceChildren(
        h('p', { class: 'sub' }, 'No queue charted: press “show” in the table.'),
      );
    } else {
      for (const child of [...this.container.children]) {
        if (!child.classList.contains('chart-card')) child.remove();
      }
    }
  }

  create(queue) {
    const panels = [
      panel('Arrivals', 'jobs/s', [
        { label: 'arrivals', stroke: COLORS.arrivals, fill: '#2563eb22' },
      ]),
      panel('Backlog', 'jobs', [{ label: 'pending', stroke: COLORS.backlog, fill: '#7c3aed22' }]),
      panel('Workers', 'workers', [
        { label: 'desired', stroke: COLORS.desired, dash: [6, 4], paths: stepped() },
        { label: 'running', stroke: COLORS.running, paths: stepped() },
      ]),
      panel(`Pickup p${queue.slo.percentile}`, 's', [
        { label: `p${queue.slo.percentile}`, stroke: COLORS.pickup },
        {
          label: `SLO ${fmt.duration(queue.slo.pickupMs)}`,
          stroke: COLORS.slo,
          dash: [4, 4],
          points: { show: false },
        },
      ]),
    ];
    const card = h(
      'article',
      { class: 'chart-card', data: { queue: queue.name, points: '0' } },
      h(
        'h3',
        null,
        h('span', { class: 'queue-name' }, queue.name),
        h('span', { class: 'breach-note' }),
      ),
      h('p', { class: 'sub collecting' }),
      h('div', { class: 'panels' }, ...panels.map((p) => p.box)),
    );
    this.container.append(card);
    const plots = panels.map((p) => {
      const width = Math.max(240, Math.floor(p.target.clientWidth || 300));
      const plot = new uPlot(
        p.options(width),
        [
          [],
          ...p
            .options(width)
            .series.slice(1)
            .map(() => []),
        ],
        p.target,
      );
      p.target.plot = plot;
      this.resizer.observe(p.target);
      return plot;
    });
    return { card, plots, signature: signatureOf(queue) };
  }

  /**
   * A worker group: one card, the pool's arrivals and workers once, then each member queue's
   * backlog and its pickup and oldest job against its own SLO.
   */
  createGroup(queue) {
    const pool = [
      panel('Arrivals, all members', 'jobs/s', [
        { label: 'arrivals', stroke: COLORS.arrivals, fill: '#2563eb22' },
      ]),
      panel('Workers of the pool', 'workers', [
        { label: 'desired', stroke: COLORS.desired, dash: [6, 4], paths: stepped() },
        { label: 'running', stroke: COLORS.running, paths: stepped() },
      ]),
    ];
    const members = queue.group.members.map((member) => {
      const panels = [
        panel('Backlog', 'jobs', [{ label: 'pending', stroke: COLORS.backlog, fill: '#7c3aed22' }]),
        panel(`Pickup p${member.slo.percentile} and oldest job`, 's', [
          { label: `p${member.slo.percentile}`, stroke: COLORS.pickup },
          { label: 'oldest', stroke: COLORS.oldest },
          {
            label: `SLO ${fmt.duration(member.slo.pickupMs)}`,
            stroke: COLORS.slo,
            dash: [4, 4],
            points: { show: false },
          },
        ]),
      ];
      const section = h(
        'section',
        { class: 'member-charts', data: { member: member.name, points: '0' } },
        h(
          'h4',
          null,
          h('span', { class: 'queue-name' }, member.name),
          h('span', { class: 'sub' }, ` · its own SLO ${fmt.duration(member.slo.pickupMs)}`),
          h('span', { class: 'breach-note' }),
        ),
        h('div', { class: 'panels' }, ...panels.map((p) => p.box)),
      );
      return { name: member.name, sloMs: member.slo.pickupMs, section, panels };
    });
    const card = h(
      'article',
      { class: 'chart-card group-card', data: { queue: queue.name, points: '0' } },
      h(
        'h3',
        null,
        h('span', { class: 'queue-name' }, queue.name),
        h('span', { class: 'sub' }, ` · worker group of ${members.map((m) => m.name).join(', ')}`),
      ),
      h('p', { class: 'sub collecting' }),
      h('div', { class: 'panels' }, ...pool.map((p) => p.box)),
      ...members.map((member) => member.section),
    );
    this.container.append(card);
    const plots = pool.map((p) => this.plot(p));
    for (const member of members) member.plots = member.panels.map((p) => this.plot(p));
    return {
      card,
      plots: [...plots, ...members.flatMap((member) => member.plots)],
      pool: plots,
      members,
      signature: signatureOf(queue),
    };
  }

  plot(p) {
    const width = Math.max(240, Math.floor(p.target.clientWidth || 300));
    const options = p.options(width);
    const plot = new uPlot(options, [[], ...options.series.slice(1).map(() => [])], p.target);
    p.target.plot = plot;
    this.resizer.observe(p.target);
    return plot;
  }

  fillGroup(entry, series, store) {
    const x = series.at.map((at) => at / 1000);
    const seconds = (ms) => (ms === null || ms === undefined ? null : ms / 1000);
    const [arrivals, workers] = entry.pool;
    arrivals.setData([x, series.arrivalRate]);
    workers.setData([x, series.desired, series.running]);
    entry.card.dataset.points = String(x.length);
    entry.card.querySelector('.collecting').textContent =
      x.length < 2
        ? `Collecting: one point every ${fmt.duration(store.bucketMs)}; lines appear from the second.`
        : '';
    for (const member of entry.members) {
      const own = store.queues.get(member.name);
      if (!own) continue;
      const mx = own.at.map((at) => at / 1000);
      const [backlog, pickup] = member.plots;
      backlog.setData([mx, own.backlog]);
      pickup.setData([
        mx,
        own.pickupP95Ms.map(seconds),
        (own.oldestAgeMs ?? []).map(seconds),
        mx.map(() => member.sloMs / 1000),
      ]);
      member.section.dataset.points = String(mx.length);
      // Late against its own SLO: the pickup p95 or the oldest job waiting now.
      const latest = Math.max(
        own.pickupP95Ms.findLast((value) => value !== null) ?? 0,
        own.oldestAgeMs?.at(-1) ?? 0,
      );
      const breach = latest > member.sloMs;
      member.section.classList.toggle('breach', breach);
      member.section.querySelector('.breach-note').textContent = breach
        ? ` SLO breached: ${fmt.duration(latest)} > ${fmt.duration(member.sloMs)}`
        : '';
    }
  }

  fill(entry, series, sloMs, bucketMs) {
    const x = series.at.map((at) => at / 1000);
    const seconds = (ms) => (ms === null ? null : ms / 1000);
    const [arrivals, backlog, workers, pickup] = entry.plots;
    arrivals.setData([x, series.arrivalRate]);
    backlog.setData([x, series.backlog]);
    workers.setData([x, series.desired, series.running]);
    pickup.setData([x, series.pickupP95Ms.map(seconds), x.map(() => sloMs / 1000)]);
    entry.card.dataset.points = String(x.length);
    entry.card.querySelector('.collecting').textContent =
      x.length < 2
        ? `Collecting: one point every ${fmt.duration(bucketMs)}; lines appear from the second.`
        : '';
    const latest = series.pickupP95Ms.findLast((value) => value !== null);
    const note = entry.card.querySelector('.breach-note');
    const breach = latest !== undefined && latest !== null && latest > sloMs;
    entry.card.classList.toggle('breach', breach);
    note.textContent = breach
      ? ` SLO breached: ${fmt.duration(latest)} > ${fmt.duration(sloMs)}`
      : '';
  }
}

const HEIGHT = 160;

/** `14:05` or `14:05:30`: the x axis spans an hour at most. */
function clock(at, seconds) {
  return new Date(at).toLocaleTimeString('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
  });
}

function stepped() {
  return uPlot.paths.stepped({ align: 1 });
}

/** One panel: a title with its unit and a uPlot of time against the given series. */
function panel(title, unit, series) {
  const target = h('div', { class: 'plot' });
  // Our own legend: the series and their colours, always visible (uPlot's follows the cursor).
  const keys = series.map((s) => {
    const swatch = h('span', { class: s.dash ? 'swatch dashed' : 'swatch' });
    swatch.style.borderColor = s.stroke; // CSSOM, which the CSP allows
    return h('span', { class: 'key' }, swatch, s.label);
  });
  const box = h(
    'figure',
    { class: 'panel' },
    h('figcaption', null, h('span', { class: 'panel-title' }, `${title} (${unit})`), ...keys),
    target,
  );
  return {
    box,
    target,
    options: (width) => ({
      width,
      height: HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, Math.max(max ?? 1, 1) * 1.1] },
      },
      axes: [
        {
          stroke: '#6b7280',
          grid: { stroke: '#9ca3af22' },
          values: (_u, splits) => {
            // Seconds while the history is shorter than a few minutes, else hours:minutes.
            const seconds = (splits.at(-1) ?? 0) - (splits[0] ?? 0) < 300;
            return splits.map((at) => clock(at * 1000, seconds));
          },
        },
        { stroke: '#6b7280', grid: { stroke: '#9ca3af22' }, size: 50 },
      ],
      series: [
        {},
        ...series.map((s) => ({
          width: 2,
          spanGaps: false,
          points: { show: false },
          ...s,
          value: (_u, v) => (v === null || v === undefined ? '–' : `${fmt.term(v)} ${unit}`),
        })),
      ],
    }),
  };
}
