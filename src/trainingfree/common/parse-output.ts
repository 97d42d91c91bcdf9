/**
 * Reading structure out of free-form LLM text. Models wrap JSON in code fences, add prose around it,
 * leave trailing commas or forget the closing fence; these readers tolerate all of that and report
 * failure as a value (never an exception) so a caller can log it and move on.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

interface Fence {
  lang: string;
  body: string;
}

/** Code-fenced blocks (``` at a line start), in order. An unclosed last fence runs to the end of the text. */
export function fencedBlocks(text: string): Fence[] {
  const lines = text.split('\n');
  const out: Fence[] = [];
  let open: { lang: string; body: string[] } | null = null;
  for (const line of lines) {
    const fence = /^\s*```(.*)$/.exec(line);
    if (fence && open === null) {
      // "```json" opens a block; text after the tag on the same line ("```json [1, 2]") belongs to the body
      const [, lang, rest] = /^([\w+-]*)\s*(.*)$/.exec(fence[1].trim())!;
      open = { lang: lang.toLowerCase(), body: rest ? [rest] : [] };
    } else if (fence && open !== null) {
      out.push({ lang: open.lang, body: open.body.join('\n') });
      open = null;
    } else if (open !== null) {
      open.body.push(line);
    }
  }
  if (open !== null) out.push({ lang: open.lang, body: open.body.join('\n') });
  return out;
}

/**
 * The text inside the last fenced block, the language tag dropped; the whole text (trimmed) when there is
 * no fence. GEPA asks the reflection model for its new instruction "within ``` blocks" and takes the last one
 * (gepa: strategies/instruction_proposal.py), since models often show a draft first.
 */
export function lastFencedBlock(text: string): string {
  const blocks = fencedBlocks(text);
  if (blocks.length === 0) return text.trim();
  return blocks[blocks.length - 1].body.trim();
}

/** The content of <tag>…</tag> (case-insensitive); an unclosed tag runs to the end. null when absent. */
export function taggedSection(text: string, tag: string): string | null {
  const escaped = tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const closed = new RegExp(`<${escaped}>([\\s\\S]*?)</${escaped}>`, 'i').exec(text);
  if (closed) return closed[1].trim();
  const opened = new RegExp(`<${escaped}>([\\s\\S]*)$`, 'i').exec(text);
  return opened ? opened[1].trim() : null;
}

/** Items of a numbered or bulleted list ("1. x", "2) y", "- z"); continuation lines join their item. */
export function listItems(text: string): string[] {
  const items: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(?:\d+[.)]|[-*•])\s+(.*)$/.exec(line);
    if (m) items.push(m[1].trim());
    else if (items.length > 0) items[items.length - 1] += ` ${line}`;
    else items.push(line);
  }
  return items.filter((s) => s !== '');
}

/** The first [ or { at or after `from`, and its balanced span (strings respected), or span null if unbalanced. */
function balancedSpan(text: string, from: number): { start: number; span: string | null } | null {
  const start = text.slice(from).search(/[[{]/);
  if (start < 0) return null;
  const s = from + start;
  const stack: string[] = [];
  let inString = false;
  for (let i = s; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') stack.push(ch === '[' ? ']' : '}');
    else if (ch === ']' || ch === '}') {
      if (stack.pop() !== ch) return { start: s, span: null };
      if (stack.length === 0) return { start: s, span: text.slice(s, i + 1) };
    }
  }
  return { start: s, span: null };
}

function tryParse(candidate: string): unknown {
  try {
    return JSON.parse(candidate);
  } catch {
    // common model slips: trailing commas and // line comments
    const repaired = candidate.replace(/^\s*\/\/.*$/gm, '').replace(/,\s*([\]}])/g, '$1');
    try {
      return JSON.parse(repaired);
    } catch {
      return undefined;
    }
  }
}

/**
 * The JSON value in an LLM answer: fenced blocks first (last one first, ```json preferred), then the whole
 * text, each tried as is and then as its first balanced [..]/{..} span.
 */
export function extractJson(text: string): Parsed<unknown> {
  const blocks = fencedBlocks(text);
  const ordered = [
    ...blocks.filter((b) => b.lang === 'json').reverse(),
    ...blocks.filter((b) => b.lang !== 'json').reverse(),
  ];
  const candidates = [...ordered.map((b) => b.body), text];
  for (const c of candidates) {
    const direct = tryParse(c.trim());
    if (direct !== undefined) return { ok: true, value: direct };
    for (let from = 0; from < c.length; ) {
      const found = balancedSpan(c, from);
      if (found === null) break;
      if (found.span !== null) {
        const v = tryParse(found.span);
        if (v !== undefined) return { ok: true, value: v };
      }
      from = found.start + 1;
    }
  }
  const preview = text.replace(/\s+/g, ' ').trim().slice(0, 120);
  return { ok: false, reason: `no parsable JSON in the model's answer ("${preview}${text.length > 120 ? '…' : ''}")` };
}
