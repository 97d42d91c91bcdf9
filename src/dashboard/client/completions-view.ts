/**
 * The completions browser: the sample groups a run logs (completions.jsonl: prompt, answer, each completion with
 * its reward and the value of every reward function) and the final evaluation's samples, filtered by step and by
 * correctness.
 */
interface LoggedCompletion {
  text: string;
  reward: number;
  rewards: Record<string, number>;
  correct?: boolean | null;
}
interface StepRecord {
  step: number;
  prompt: string;
  answer?: string;
  completions: LoggedCompletion[];
}
interface EvalSample {
  prompt: string;
  completion: string;
  answer?: string;
  correct: boolean;
  tokens?: number;
  finish_reason?: string;
}
interface EvalRecord {
  step: number;
  eval: { accuracy?: number };
  eval_samples: EvalSample[];
}
type Record_ = StepRecord | EvalRecord;

interface Row {
  text: string;
  correct: boolean | null;
  cells: (string | number)[];
}
interface Card {
  key: string;
  title: string;
  prompt: string;
  answer?: string;
  columns: string[];
  rows: Row[];
}

export class CompletionsView {
  private records: Record_[] = [];
  /** the cards of the records that have the shape of one; the others are counted in `malformed` */
  private shown: Card[] = [];
  private malformed = 0;
  private readonly note = document.createElement('p');
  private readonly stepSelect = document.createElement('select');
  private readonly correctSelect = document.createElement('select');
  private readonly list = document.createElement('div');

  constructor(container: HTMLElement) {
    const bar = document.createElement('div');
    bar.className = 'filters';
    for (const [v, t] of [
      ['all', 'all completions'],
      ['correct', 'correct only'],
      ['incorrect', 'incorrect only'],
    ])
      this.correctSelect.add(new Option(t, v));
    this.stepSelect.addEventListener('change', () => this.render());
    this.correctSelect.addEventListener('change', () => this.render());
    bar.append('step ', this.stepSelect, ' ', this.correctSelect);
    this.list.className = 'completions';
    this.note.className = 'note';
    container.append(bar, this.note, this.list);
  }

  /** The run's completions.jsonl records, and how many of its lines were not JSON records (left out by the server). */
  setRecords(records: unknown[], skippedLines = 0): void {
    this.records = records as Record_[];
    this.shown = [];
    this.malformed = 0;
    for (const r of this.records) {
      // a record edited by hand or cut short must not take the tab down: it is left out and counted
      try {
        this.shown.push(cardOf(r));
      } catch {
        this.malformed++;
      }
    }
    const left = this.malformed + skippedLines;
    this.note.textContent = left
      ? `${left} line${left === 1 ? '' : 's'} of completions.jsonl ${left === 1 ? 'is' : 'are'} not a completions record and ${left === 1 ? 'is' : 'are'} left out.`
      : '';
    const keep = this.stepSelect.value;
    this.stepSelect.innerHTML = '';
    this.stepSelect.add(new Option('all steps', 'all'));
    for (const c of this.shown) this.stepSelect.add(new Option(c.title, c.key));
    this.stepSelect.value = [...this.stepSelect.options].some((o) => o.value === keep) ? keep : 'all';
    this.render();
  }

  private render(): void {
    const step = this.stepSelect.value,
      want = this.correctSelect.value;
    const keep = (row: Row) => want === 'all' || (want === 'correct' ? row.correct === true : row.correct === false);
    this.list.innerHTML = '';
    let shown = 0;
    for (const card of [...this.shown].reverse()) {
      if (step !== 'all' && card.key !== step) continue;
      const rows = card.rows.filter(keep);
      if (!rows.length) continue;
      shown += rows.length;
      const el = document.createElement('section');
      el.className = 'card';
      const h = document.createElement('h3');
      h.textContent = card.title;
      el.append(h);
      if (card.prompt) el.append(labelled('prompt', card.prompt), labelled('answer', card.answer ?? ''));
      const table = document.createElement('table');
      const head = table.createTHead().insertRow();
      for (const c of card.columns) head.insertCell().outerHTML = `<th>${escapeHtml(c)}</th>`;
      const body = table.createTBody();
      for (const row of rows) {
        const tr = body.insertRow();
        tr.className = row.correct === true ? 'ok' : row.correct === false ? 'wrong' : '';
        const pre = document.createElement('pre');
        pre.textContent = row.text;
        tr.insertCell().append(pre);
        for (const cell of row.cells) {
          const td = tr.insertCell();
          td.textContent = String(cell);
          if (cell === '✓' || cell === '✗') td.className = 'mark';
        }
      }
      el.append(table);
      this.list.append(el);
    }
    this.list.dataset.count = String(shown);
    if (!shown)
      this.list.textContent = this.shown.length
        ? 'No completions match the filters.'
        : 'No completions logged yet (training.log_completions_every).';
  }
}

/** One record's card; throws on a record without the fields a card needs. */
function cardOf(r: Record_): Card {
  if ('eval_samples' in r) {
    const acc = typeof r.eval?.accuracy === 'number' ? ` · accuracy ${r.eval.accuracy.toFixed(3)}` : '';
    return {
      key: `eval-${r.step}`,
      title: `evaluation after step ${r.step}${acc}`,
      prompt: '',
      columns: ['completion', 'answer', 'correct', 'tokens'],
      rows: r.eval_samples.map((s) => ({
        text: `${s.prompt}${s.completion}`,
        correct: s.correct,
        cells: [s.answer ?? '', mark(s.correct), s.tokens ?? ''],
      })),
    };
  }
  const names = Object.keys(r.completions[0]?.rewards ?? {});
  return {
    key: `step-${r.step}`,
    title: `step ${r.step}`,
    prompt: String(r.prompt),
    answer: r.answer,
    columns: ['completion', 'reward', ...names, 'correct'],
    rows: r.completions.map((c) => ({
      text: String(c.text),
      correct: c.correct ?? null,
      cells: [round(c.reward), ...names.map((n) => round(c.rewards[n])), mark(c.correct ?? null)],
    })),
  };
}

function labelled(label: string, text: string): HTMLElement {
  const p = document.createElement('div');
  p.className = 'field';
  const b = document.createElement('b');
  b.textContent = `${label} `;
  const code = document.createElement('code');
  code.textContent = text;
  p.append(b, code);
  return p;
}

const mark = (c: boolean | null) => (c === true ? '✓' : c === false ? '✗' : '');
const round = (x: number | undefined) => (typeof x === 'number' ? Number(x.toFixed(4)) : '');
const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
