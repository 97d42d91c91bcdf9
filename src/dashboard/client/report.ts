/** The arena report page: the comparison table and each metric's curves, one per method (mean over seeds). */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { ChartGrid, runColor } from './chart-grid.ts';
import { metricCurves } from './metric-curves.ts';

interface Report {
  title: string;
  columns: string[];
  table: string[][];
  notes: string[];
  curves: { method: string; rows: Record<string, unknown>[] }[];
}

const report = JSON.parse(document.getElementById('grpo-data')!.textContent!) as Report;
const page = document.createElement('div');
page.className = 'report';
const h1 = document.createElement('h1');
h1.textContent = report.title;
const table = document.createElement('table');
table.className = 'summary';
const head = table.createTHead().insertRow();
for (const c of report.columns) {
  const th = document.createElement('th');
  th.textContent = c;
  head.append(th);
}
const body = table.createTBody();
report.table.forEach((cells, i) => {
  const tr = body.insertRow();
  cells.forEach((c, j) => {
    const td = tr.insertCell();
    if (j === 0) {
      const sw = document.createElement('i');
      sw.className = 'swatch';
      sw.style.background = runColor(i);
      td.append(sw, ` ${c}`);
    } else {
      td.textContent = c;
      td.className = 'num';
    }
  });
});
const notes = document.createElement('ul');
for (const n of report.notes) {
  const li = document.createElement('li');
  li.textContent = n;
  notes.append(li);
}
const controls = document.createElement('p');
controls.innerHTML = '<label>smoothing <input type="range" min="0" max="0.99" step="0.01" value="0"></label>';
const gridEl = document.createElement('div');
gridEl.className = 'grid';
page.append(h1, table, notes, controls, gridEl);
document.body.append(page);

const grid = new ChartGrid(gridEl);
grid.setSmoothing(0);
const curves = metricCurves(report.curves.map((c, i) => ({ label: c.method, color: runColor(i), rows: c.rows })));
// held-out accuracy leads: it is what the table compares
const heldout = curves.get('heldout_accuracy');
grid.update(
  heldout ? new Map([['heldout_accuracy', heldout], ...[...curves].filter(([k]) => k !== 'heldout_accuracy')]) : curves,
);
controls
  .querySelector('input')!
  .addEventListener('input', (e) => grid.setSmoothing(Number((e.target as HTMLInputElement).value)));
