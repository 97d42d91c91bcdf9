/**
 * The live dashboard page: the runs under the served folder (newest first), charts of every metric with the
 * selected runs overlaid, the completions browser and the run's config. It polls the server once a second for
 * metric lines past those it has, so new steps appear without a reload.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { ChartGrid, runColor } from './chart-grid.ts';
import { metricCurves } from './metric-curves.ts';
import { CompletionsView } from './completions-view.ts';
import { FollowedFile } from './followed-file.ts';

interface RunInfo {
  id: string;
  steps: number;
  updated: number;
}
interface Followed {
  metrics: FollowedFile;
  color: string;
}

const POLL_MS = 1000;
const RUNS_MS = 5000;

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
document.body.innerHTML = `
<header><h1>grpo-ts</h1><span id="root"></span>
  <label>smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0.6"><output id="smoothing-value">0.60</output></label>
  <nav><button data-tab="charts" class="active">Charts</button><button data-tab="completions">Completions</button><button data-tab="config">Config</button></nav>
</header>
<main><aside><h2>Runs</h2><div id="runs"></div></aside>
  <section id="charts" class="tab"><p id="metrics-note" class="note"></p><div id="grid" class="grid"></div></section>
  <section id="completions" class="tab" hidden></section>
  <section id="config" class="tab" hidden><pre id="config-text"></pre></section>
</main>`;

const grid = new ChartGrid($('#grid'));
const completions = new CompletionsView($('#completions'));
const followed = new Map<string, Followed>();
// runs named in the address (?run=ID, repeatable) are selected once they appear; else the newest run
const pending = new Set(new URLSearchParams(location.search).getAll('run'));
let choseDefault = pending.size > 0;
let tab = 'charts';
let drawnFor = '';
let completionsFile: FollowedFile | null = null;
// the run whose completions and config are shown: the first selected
const focus = () => [...followed.keys()][0];

const api = async <T>(route: string, params: Record<string, string | number> = {}): Promise<T> => {
  const r = await fetch(`api/${route}?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`);
  if (!r.ok) throw new Error(`${route}: HTTP ${r.status}`);
  return r.json() as Promise<T>;
};

async function refreshRuns(): Promise<void> {
  const { root, runs: list } = await api<{ root: string; runs: RunInfo[] }>('runs');
  $('#root').textContent = root;
  for (const id of pending)
    if (list.some((r) => r.id === id)) {
      follow(id);
      pending.delete(id);
    }
  if (!choseDefault && list.length) {
    follow(list[0].id);
    choseDefault = true;
  }
  const box = $('#runs');
  box.innerHTML = '';
  if (!list.length) box.textContent = 'No runs yet: this page shows a run as soon as it writes metrics.jsonl.';
  for (const r of list) {
    const label = document.createElement('label');
    label.className = 'run';
    const check = document.createElement('input');
    check.type = 'checkbox';
    check.checked = followed.has(r.id);
    check.addEventListener('change', () => {
      if (check.checked) follow(r.id);
      else followed.delete(r.id);
      void refreshRuns();
      void poll();
    });
    const swatch = document.createElement('i');
    swatch.style.background = followed.get(r.id)?.color ?? 'transparent';
    label.append(check, swatch, ` ${r.id} `);
    const steps = document.createElement('small');
    steps.textContent = `${r.steps} steps`;
    label.append(steps);
    box.append(label);
  }
}

function follow(id: string): void {
  const used = new Set([...followed.values()].map((f) => f.color));
  let i = 0;
  while (used.has(runColor(i))) i++;
  followed.set(id, { metrics: new FollowedFile('metrics', id), color: runColor(i) });
}

const curves = () =>
  metricCurves([...followed].map(([id, f]) => ({ label: id, color: f.color, rows: f.metrics.rows })));

async function poll(): Promise<void> {
  let changed = false;
  for (const f of followed.values()) if (await f.metrics.pull()) changed = true;
  const key = [...followed.keys()].join('|');
  if (changed || drawnFor !== key) {
    drawnFor = key;
    grid.update(curves());
    $('#metrics-note').textContent = [...followed]
      .filter(([, f]) => f.metrics.skipped > 0)
      .map(
        ([id, f]) =>
          `${id}: ${f.metrics.skipped} line${f.metrics.skipped === 1 ? '' : 's'} of metrics.jsonl ${f.metrics.skipped === 1 ? 'is' : 'are'} not a JSON record and ${f.metrics.skipped === 1 ? 'is' : 'are'} left out.`,
      )
      .join(' ');
  }
  await refreshTab();
}

async function refreshTab(): Promise<void> {
  const id = focus();
  if (tab === 'completions' && id) {
    const switched = completionsFile?.run !== id;
    if (switched) completionsFile = new FollowedFile('completions', id);
    if ((await completionsFile!.pull()) || switched)
      completions.setRecords(completionsFile!.rows, completionsFile!.skipped);
  } else if (tab === 'config') {
    $('#config-text').textContent = id
      ? (await api<{ text: string }>('config', { run: id })).text || '(no config.yaml in this run)'
      : '';
  }
}

for (const b of document.querySelectorAll<HTMLButtonElement>('nav button')) {
  b.addEventListener('click', () => {
    tab = b.dataset.tab!;
    document.querySelectorAll('nav button').forEach((x) => x.classList.toggle('active', x === b));
    document.querySelectorAll<HTMLElement>('.tab').forEach((s) => {
      s.hidden = s.id !== tab;
    });
    void refreshTab();
    if (tab === 'charts') grid.update(curves());
  });
}
$<HTMLInputElement>('#smoothing').addEventListener('input', (e) => {
  const w = Number((e.target as HTMLInputElement).value);
  $('#smoothing-value').textContent = w.toFixed(2);
  grid.setSmoothing(w);
});

// polls never overlap: the next one is scheduled when the last has finished (or failed, e.g. the server stopped)
const every = (ms: number, f: () => Promise<void>) => {
  const loop = () =>
    f()
      .catch((e) => console.warn(String(e)))
      .finally(() => setTimeout(loop, ms));
  loop();
};
await refreshRuns().catch((e) => console.warn(String(e)));
every(POLL_MS, poll);
setTimeout(() => every(RUNS_MS, refreshRuns), RUNS_MS);
