/**
 * GEPA's reflective mutation of one text component (gepa-ai/gepa: src/gepa/strategies/instruction_proposal.py):
 * the reflection model reads the current text and examples of inputs, outputs and feedback, and writes a new
 * text inside ``` fences; the last fenced block is taken. The default prompt wording is our own; a custom
 * template must contain both placeholders.
 */
import { GrpoError } from '../../errors.ts';
import type { ChatModel } from '../../rollout/chat-model.ts';
import { lastFencedBlock } from '../common/parse-output.ts';

export const CURRENT_INSTRUCTION = '<curr_instructions>';
export const EXAMPLES_WITH_FEEDBACK = '<inputs_outputs_feedback>';

export const defaultReflectionTemplate = `An assistant was given the instructions below for a task.

Current instructions:
\`\`\`
${CURRENT_INSTRUCTION}
\`\`\`

Below are some task inputs, the assistant's response to each, and feedback on each response:
\`\`\`
${EXAMPLES_WITH_FEEDBACK}
\`\`\`

Write improved instructions for the assistant.
- From the inputs, work out what the task is and the exact format of its inputs and expected outputs; describe both precisely.
- From the feedback, find what went wrong in the weak responses and what worked in the strong ones, and turn that into concrete rules, checks and strategies that carry over to new inputs.
- Write down any domain facts the feedback reveals that the assistant could not know otherwise: it will not see these examples again.
- Keep whatever in the current instructions already works.

Reply with the complete new instructions inside one \`\`\` block.`;

/** One example shown to the reflection model: field name → value (strings, numbers, nested records, lists). */
export type ReflectiveRecord = Record<string, unknown>;

export function checkReflectionTemplate(template: string, key: string): void {
  const missing = [CURRENT_INSTRUCTION, EXAMPLES_WITH_FEEDBACK].filter((p) => !template.includes(p));
  if (missing.length > 0)
    throw new GrpoError('config', `${key}: the reflection template lacks ${missing.join(' and ')}`);
}

function renderValue(value: unknown, level: number): string {
  const h = '#'.repeat(Math.min(level, 6));
  if (Array.isArray(value))
    return value.length === 0 ? '\n' : value.map((v, k) => `${h} Item ${k + 1}\n${renderValue(v, level + 1)}`).join('');
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.length === 0 ? '\n' : entries.map(([k, v]) => `${h} ${k}\n${renderValue(v, level + 1)}`).join('');
  }
  return `${String(value).trim()}\n\n`;
}

/** Examples as markdown: "# Example k", a "## field" section per field, nested values one level deeper. */
export function renderReflectiveRecords(records: readonly ReflectiveRecord[]): string {
  return records
    .map(
      (r, k) =>
        `# Example ${k + 1}\n${Object.entries(r)
          .map(([field, v]) => `## ${field}\n${renderValue(v, 3)}`)
          .join('')}`,
    )
    .join('\n\n');
}

export function reflectionPrompt(template: string, currentText: string, records: readonly ReflectiveRecord[]): string {
  // a function replacement, so "$&" and friends in user text are not interpreted
  return template
    .replace(CURRENT_INSTRUCTION, () => currentText)
    .replace(EXAMPLES_WITH_FEEDBACK, () => renderReflectiveRecords(records));
}

export interface ProposerOptions {
  model: ChatModel;
  template?: string;
  temperature?: number;
  maxTokens?: number;
}

/** Proposes a new text for each named component that has examples; components without examples are left out. */
export async function proposeComponentTexts(
  opts: ProposerOptions,
  program: Record<string, string>,
  dataset: Record<string, ReflectiveRecord[]>,
  components: readonly string[],
): Promise<Record<string, string>> {
  const template = opts.template ?? defaultReflectionTemplate;
  const out: Record<string, string> = {};
  for (const name of components) {
    const records = dataset[name];
    if (!records || records.length === 0) continue;
    const res = await opts.model.chat([{ role: 'user', content: reflectionPrompt(template, program[name], records) }], {
      temperature: opts.temperature,
      maxTokens: opts.maxTokens,
    });
    const text = lastFencedBlock(res.choices[0]?.text ?? '');
    if (text !== '') out[name] = text;
  }
  return out;
}
