// A worker group in the queues table: its pool's row, then each member queue against its own
// SLO. Every piece of data is a text node, as in render.js.
import * as fmt from './format.js';
import {
  chartButton,
  decisionCell,
  h,
  pickupAtSlo,
  pickupCell,
  sloLevel,
  workersCell,
} from './render.js';

const LEVELS = ['unknown', 'ok', 'warn', 'breach'];

/** The worse of two levels (unknown < ok < warn < breach). */
function worse(a, b) {
  return LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b;
}

/** A queue's level (a group's member too): its pickup and its oldest job against its own SLO. */
export function queueLevel(member) {
  return worse(
    sloLevel(pickupAtSlo(member).ms, member.slo.pickupMs),
    sloLevel(member.snapshot?.oldestPendingAgeMs ?? null, member.slo.pickupMs),
  );
}

/** A group's pool: totals over its members, its workers and decision, its members' worst level. */
export function groupRow(queue, charted, toggle) {
  const snapshot = queue.snapshot;
  const members = queue.group.members;
  const level = members.map(queueLevel).reduce(worse, 'unknown');
  const late = members.filter((member) => queueLevel(member) === 'breach');
  return h(
    'tr',
    { class: `group level-${level}`, data: { queue: queue.name, kind: 'group' } },
    h(
      'th',
      { attrs: { scope: 'row' } },
      h('span', { class: 'queue-name' }, queue.name),
      h('span', { class: 'driver' }, `${queue.driver} group · ${queue.group.discipline}`),
    ),
    h('td', { class: 'num', data: { field: 'pending' } }, fmt.count(snapshot?.pending)),
    h('td', { class: 'num' }, fmt.duration(snapshot?.oldestPendingAgeMs)),
    h('td', { class: 'num' }, fmt.rate(snapshot?.arrivalRate)),
    h(
      'td',
      { class: level, data: { field: 'pickup' } },
      h(
        'span',
        { class: 'sub' },
        late.length > 0
          ? `over its own SLO: ${late.map((member) => member.name).join(', ')}`
          : `${members.length} queues, each against its own SLO`,
      ),
    ),
    h('td', null, workersCell(queue)),
    h('td', null, decisionCell(queue)),
    h('td', null, chartButton(queue.name, charted, toggle)),
  );
}

/** One member queue of a group: its own figures against its own SLO; the workers are the pool's. */
export function memberRow(queue, member) {
  const snapshot = member.snapshot;
  const pickup = pickupAtSlo(member);
  const oldestLevel = sloLevel(snapshot?.oldestPendingAgeMs ?? null, member.slo.pickupMs);
  const weight = queue.group.weights?.[member.name];
  return h(
    'tr',
    {
      class: `member level-${queueLevel(member)}`,
      data: { queue: member.name, group: queue.name, kind: 'member' },
    },
    h(
      'th',
      { attrs: { scope: 'row' }, class: 'member-name' },
      h('span', { class: 'queue-name' }, member.name),
      h('span', { class: 'driver' }, weight === undefined ? 'member' : `member · weight ${weight}`),
      snapshot?.error ? h('span', { class: 'pill breach' }, 'unreadable') : null,
    ),
    h('td', { class: 'num', data: { field: 'pending' } }, fmt.count(snapshot?.pending)),
    h(
      'td',
      { class: `num ${oldestLevel}`, data: { field: 'oldest' } },
      fmt.duration(snapshot?.oldestPendingAgeMs),
    ),
    h('td', { class: 'num' }, fmt.rate(snapshot?.arrivalRate)),
    h(
      'td',
      { class: sloLevel(pickup.ms, member.slo.pickupMs), data: { field: 'pickup' } },
      pickupCell(pickup, member.slo),
    ),
    h(
      'td',
      null,
      h(
        'div',
        { class: 'workers-cell' },
        h('span', { class: 'sub' }, `served by ${queue.name}`),
        member.need
          ? h('span', { class: 'sub' }, `needs ${member.need.workers} of the pool`)
          : null,
      ),
    ),
    h('td', null, h('span', { class: 'sub' }, member.need?.reason ?? 'none yet')),
    h('td', null),
  );
}
