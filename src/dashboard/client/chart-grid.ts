/**
 * One uPlot chart per metric, every selected run overlaid on it: x is the step, y the metric, optionally
 * smoothed (the raw line stays faint behind) and on a log scale (chosen by default for positive metrics that
 * span three decades or more, such as KL, loss and the learning rate). Charts are updated in place as lines arrive.
 */
import uPlot from 'uplot';
import { smooth } from './smoothing.ts';

export interface Curve {
  label: string;
  color: string;
  /** [x, y] pairs in x order */
  points: [number, number][];
}

interface Panel {
  root: HTMLElement;
  plot: uPlot | null;
  shape: string;
  log: boolean | null;
}

const HEIGHT = 190;
// light grid lines: a log axis draws one per minor tick
const GRID = { stroke: 'rgba(0, 0, 0, 0.06)', width: 1 };

export class ChartGrid {
  private readonly panels = new Map<string, Panel>();
  private curves = new Map<string, Curve[]>();
  private smoothing = 0.6;

  constructor(private readonly container: HTMLElement) {
    window.addEventListener('resize', () => this.draw());
  }

  setSmoothing(weight: number): void {
    this.smoothing = weight;
    this.draw(true);
  }

  /** metric name → its curves (one per run); charts appear in the order given */
  update(curves: Map<string, Curve[]>): void {
    this.curves = curves;
    this.draw();
  }

  private draw(rebuild = false): void {
    for (const [metric, panel] of this.panels) {
      if (!this.curves.has(metric)) {
        panel.plot?.destroy();
        panel.root.remove();
        this.panels.delete(metric);
      }
    }
    for (const [metric, curves] of this.curves) {
      const panel = this.panels.get(metric) ?? this.addPanel(metric);
      this.container.appendChild(panel.root); // keeps the given order
      this.drawPanel(panel, curves, rebuild);
    }
  }

  private addPanel(metric: string): Panel {
    const root = document.createElement('div');
    root.className = 'chart';
    root.dataset.metric = metric;
    const head = document.createElement('div');
    head.className = 'chart-head';
    const title = document.createElement('span');
    title.textContent = metric;
    const logLabel = document.createElement('label');
    const logBox = document.createElement('input');
    logBox.type = 'checkbox';
    logLabel.append(logBox, ' log');
    head.append(title, logLabel);
    root.append(head);
    const panel: Panel = { root, plot: null, shape: '', log: null };
    logBox.addEventListener('change', () => {
      panel.log = logBox.checked;
      this.drawPanel(panel, this.curves.get(metric) ?? [], true);
    });
    this.panels.set(metric, panel);
    return panel;
  }

  private drawPanel(panel: Panel, curves: Curve[], rebuild: boolean): void {
    const ys = curves.flatMap((c) => c.points.map((p) => p[1])).filter((y) => Number.isFinite(y));
    const min = Math.min(...ys),
      max = Math.max(...ys);
    const log = panel.log ?? (ys.length > 1 && min > 0 && max / min >= 1e3);
    (panel.root.querySelector('input') as HTMLInputElement).checked = log;
    const { xs, columns, series } = plotSeries(curves, log, this.smoothing);
    panel.root.dataset.points = String(xs.length);
    panel.root.dataset.runs = String(curves.length);
    const data = [xs, ...columns] as uPlot.AlignedData;
    const shape = JSON.stringify([series.map((s) => s.label), log]);
    const width = Math.max(240, panel.root.clientWidth - 16 || 420);
    if (panel.plot && panel.shape === shape && !rebuild) {
      if (panel.plot.width !== width) panel.plot.setSize({ width, height: HEIGHT });
      panel.plot.setData(data);
      return;
    }
    panel.plot?.destroy();
    panel.shape = shape;
    panel.plot = newPlot(panel.root, { series, data, width, log });
  }
}

/**
 * The steps of all runs (x), and per run its column of values at each step (null: no point there, or one a log
 * scale cannot show) with its series; when smoothed, a faint raw line comes first and the smoothed one over it.
 */
function plotSeries(
  curves: Curve[],
  log: boolean,
  smoothing: number,
): { xs: number[]; columns: (number | null)[][]; series: uPlot.Series[] } {
  const xs = [...new Set(curves.flatMap((c) => c.points.map((p) => p[0])))].sort((a, b) => a - b);
  const smoothed = smoothing > 0;
  const columns: (number | null)[][] = [];
  const series: uPlot.Series[] = [{ label: 'step' }];
  for (const c of curves) {
    const byX = new Map(c.points);
    const raw = xs.map((x) => {
      const y = byX.get(x);
      return y === undefined || (log && y <= 0) ? null : y;
    });
    if (smoothed) {
      columns.push(raw);
      series.push({
        label: `${c.label} (raw)`,
        stroke: fade(c.color),
        width: 1,
        spanGaps: true,
        points: { show: false },
      });
    }
    columns.push(smoothed ? smooth(raw, smoothing) : raw);
    series.push({
      label: c.label,
      stroke: c.color,
      width: smoothed ? 2 : 1.5,
      spanGaps: true,
      points: { show: xs.length < 40 },
    });
  }
  return { xs, columns, series };
}

/** A chart in `root`, its y axis linear or log; the faint raw lines stay out of the legend. */
function newPlot(
  root: HTMLElement,
  p: { series: uPlot.Series[]; data: uPlot.AlignedData; width: number; log: boolean },
): uPlot {
  const plot = new uPlot(
    {
      width: p.width,
      height: HEIGHT,
      series: p.series,
      scales: { x: { time: false }, y: p.log ? { distr: 3 } : { range: linearRange } },
      // steps are whole numbers: no ticks between them
      axes: [
        { incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000], grid: GRID },
        { size: 60, values: (_u, ticks) => ticks.map(formatTick), grid: GRID },
      ],
      legend: { live: true },
    },
    p.data,
    root,
  );
  root.querySelectorAll<HTMLElement>('.u-legend .u-series').forEach((row, i) => {
    if (p.series[i]?.label?.toString().endsWith('(raw)')) row.style.display = 'none';
  });
  return plot;
}

/**
 * uPlot's automatic range with a floor on its span: a metric that moves by 1e-9 (an importance ratio of ~1)
 * would otherwise get tick steps below float resolution, and uPlot's tick loop never ends.
 */
function linearRange(_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const floor = 1e-6 * Math.max(1, Math.abs(min), Math.abs(max));
  if (max - min < floor) [min, max] = [(min + max) / 2 - floor, (min + max) / 2 + floor];
  return uPlot.rangeNum(min, max, 0.1, true);
}

function fade(color: string): string {
  return color.startsWith('hsl(') ? color.replace('hsl(', 'hsla(').replace(')', ', 0.25)') : color;
}

/** uPlot leaves some log-scale ticks unlabelled (null) */
function formatTick(v: number | null): string {
  if (v === null) return '';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

/** Distinct colours for runs, stable by index. */
export function runColor(i: number): string {
  return `hsl(${(i * 137.5 + 210) % 360}, 70%, 45%)`;
}
