/* global document */
// Overview: the machine with live counts, totals, throughput, instances and partitions.
import { api, subscribe, svgDocument } from './api.js';
import { rateChart } from './chart.js';
import { ago, formatNumber, h, notice, panel, pill, replace } from './dom.js';

function formatCount(n) {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(n >= 10_000_000 ? 0 : 1)}M`;
  if (n >= 100_000) return `${Math.round(n / 1000)}k`;
  return n.toLocaleString('en-US');
}

/** Puts the counts of a stats answer into the drawn machine, in place. */
function updateCounts(graph, stats) {
  const byState = new Map((stats?.byState ?? []).map((s) => [s.currentState, s.count]));
  for (const el of graph.querySelectorAll('[data-count-for]')) {
    const count = byState.get(el.getAttribute('data-count-for')) ?? 0;
    el.setAttribute('data-count', String(count));
    el.textContent = formatCount(count);
    el.parentElement?.classList.toggle('nonzero', count > 0);
  }
}

function stateTotals(model, stats) {
  if (!stats) return h('p', { class: 'muted' }, 'No counts.');
  const final = stats.byState.filter((s) => s.isFinal).reduce((n, s) => n + s.count, 0);
  const known = new Set([...model.states.map((s) => s.id), model.cancel.state]);
  const others = stats.byState.filter((s) => !known.has(s.currentState));
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'stats-row' },
      h('div', { class: 'stat' }, h('span', { class: 'value', id: 'total-sagas' }, formatNumber(stats.total)), h('span', { class: 'label' }, 'sagas')),
      h('div', { class: 'stat' }, h('span', { class: 'value' }, formatNumber(stats.total - final)), h('span', { class: 'label' }, 'running')),
      h('div', { class: 'stat' }, h('span', { class: 'value' }, formatNumber(final)), h('span', { class: 'label' }, 'final')),
    ),
    h('h3', {}, 'By business state'),
    h(
      'table',
      { id: 'business-states' },
      h('thead', {}, h('tr', {}, h('th', {}, 'business state'), h('th', { class: 'num' }, 'sagas'))),
      h(
        'tbody',
        {},
        stats.byBusinessState.map((b) =>
          h(
            'tr',
            {},
            h(
              'td',
              {},
              b.businessStateId === null
                ? h('span', { class: 'muted' }, 'none')
                : h('a', { href: `/console/sagas?businessStateId=${encodeURIComponent(String(b.businessStateId))}` }, `${b.businessStateId}${b.businessStateDescription ? ` · ${b.businessStateDescription}` : ''}`),
            ),
            h('td', { class: 'num' }, formatNumber(b.count)),
          ),
        ),
      ),
    ),
    others.length > 0 ? h('p', { class: 'muted' }, `Also in states the definition no longer has: ${others.map((o) => `${o.currentState} (${o.count})`).join(', ')}`) : null,
  );
}

function throughput(rates) {
  const last = rates.points.at(-1);
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'stats-row' },
      h('div', { class: 'stat' }, h('span', { class: 'value' }, last ? formatNumber(last.events) : '–'), h('span', { class: 'label legend events' }, 'events/s')),
      h('div', { class: 'stat' }, h('span', { class: 'value' }, last ? formatNumber(last.commands) : '–'), h('span', { class: 'label legend commands' }, 'commands/s')),
      h('div', { class: 'stat' }, h('span', { class: 'value' }, last ? formatNumber(last.deadLetters) : '–'), h('span', { class: 'label legend dead' }, 'dead letters/s')),
    ),
    rateChart(rates, [
      { key: 'events', name: 'events', className: 'events' },
      { key: 'commands', name: 'commands', className: 'commands' },
      { key: 'deadLetters', name: 'dead letters', className: 'dead' },
    ]),
    h('p', { class: 'muted small' }, `Summed over the instances that answered, one point every ${Math.round(rates.intervalMs / 1000)} s, up to the last ${Math.round(rates.windowMs / 60000)} min.`),
  );
}

function stateBadge(state) {
  if (state === 'ready') return pill('ready', 'ok');
  if (state === 'starting' || state === 'recovering') return pill(state === 'starting' ? 'restoring' : 'recovering', 'warn');
  if (state === null || state === undefined) return pill('no owner', 'muted');
  return pill(state, 'muted');
}

function instancesTable(cluster) {
  return h(
    'table',
    { id: 'instances' },
    h('thead', {}, h('tr', {}, h('th', {}, 'instance'), h('th', {}, 'state'), h('th', {}, 'partitions'))),
    h(
      'tbody',
      {},
      cluster.instances.map((i) =>
        h(
          'tr',
          { 'data-instance': i.url },
          h('td', {}, h('span', { class: 'mono' }, i.url), i.self ? h('span', { class: 'muted' }, ' (this one)') : null),
          h('td', {}, !i.reachable ? pill('unreachable', 'bad') : i.ready ? pill('ready', 'ok') : pill('not ready', 'warn')),
          h('td', { class: 'mono' }, i.partitions.map((p) => p.partition).join(', ') || '–'),
        ),
      ),
    ),
  );
}

function partitionsTable(cluster) {
  return h(
    'table',
    { id: 'partitions' },
    h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'partition'), h('th', {}, 'owner'), h('th', {}, 'state'), h('th', { class: 'num' }, 'committed'), h('th', { class: 'num' }, 'end'), h('th', { class: 'num', title: 'events not processed yet; commit markers count as one' }, 'lag'))),
    h(
      'tbody',
      {},
      cluster.partitions.map((p) =>
        h(
          'tr',
          { 'data-partition': p.partition },
          h('td', { class: 'num' }, String(p.partition)),
          h('td', { class: 'mono' }, p.owner ?? '–'),
          h('td', {}, stateBadge(p.state)),
          h('td', { class: 'num' }, p.committed ?? '–'),
          h('td', { class: 'num' }, p.end ?? '–'),
          h('td', { class: 'num' }, p.lag === null ? '–' : formatNumber(p.lag)),
        ),
      ),
    ),
  );
}

export async function overviewPage(main, model) {
  const graphBox = h('div', { class: 'graph-scroll', id: 'machine' });
  const updated = h('span', { class: 'hint', id: 'live-state' }, 'connecting…');
  const countsNote = h('div', {});
  const totals = h('div', { id: 'totals' });
  const rates = h('div', { id: 'rates' });
  const instances = h('div', {});
  const partitions = h('div', {});
  const problems = h('div', {});
  main.append(
    h('h1', {}, 'Overview'),
    h('p', { class: 'muted' }, 'The state machine with the number of sagas in each state, updated live. Click a state to list its sagas.'),
    countsNote,
    h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'State machine'), updated), graphBox, h('p', { class: 'legend-line muted' }, '▸ command  + side effect  · channel   dashed edges lead back   double border: final state')),
    h('div', { class: 'grid three' }, panel('Sagas', 'from the projection', totals), panel('Throughput', 'events and commands per second', rates), panel('Instances', 'members of the consumer group', instances)),
    problems,
    panel('Partitions', 'owner, restore state and lag of each partition of the events topic', partitions),
  );
  const graph = await svgDocument('/console/api/graph.svg');
  replace(graphBox, graph);

  const render = (snapshot) => {
    updateCounts(graph, snapshot.stats);
    replace(countsNote, snapshot.statsProblem ? notice(snapshot.statsProblem) : null);
    replace(totals, stateTotals(model, snapshot.stats));
    replace(rates, model.features.rates ? throughput(snapshot.cluster.rates) : h('p', { class: 'muted' }, 'No processor counters.'));
    replace(instances, instancesTable(snapshot.cluster));
    replace(partitions, partitionsTable(snapshot.cluster));
    replace(problems, snapshot.cluster.problems.length > 0 ? notice(snapshot.cluster.problems.join('; ')) : null);
    updated.textContent = `live · updated ${ago(snapshot.at)}`;
    updated.dataset.at = snapshot.at;
    document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates ?? '0') + 1);
  };
  render((await api('/console/api/overview')).body);
  subscribe(
    '/console/api/live',
    (name, data) => {
      if (name === 'overview') render(data);
    },
    (state) => {
      if (state === 'offline') updated.textContent = 'offline · reconnecting…';
    },
  );
}
