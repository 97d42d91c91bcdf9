/**
 * Prompts of Training-Free GRPO's critic. The four stages follow youtu-agent
 * (utu/prompts/practice/experience.yaml: single-rollout summary, group advantage, group update, batch update);
 * the wording here is our own. Each builder returns the chat messages for one critic call.
 */
import type { ChatMessage } from '../../rollout/chat-model.ts';
import type { ExperienceLibrary } from './experience-library.ts';

export interface CriticContext {
  /** what the task model is for, e.g. "solve competition math problems" */
  agentObjective: string;
  /** what the lessons should improve, e.g. "reasoning strategies that lead to correct final answers" */
  learningObjective: string;
}

const WITHHELD = '(not available)';

function preamble(ctx: CriticContext): string {
  return [
    'You help a frozen language model (the "solver") get better at its job without changing its weights: you write short lessons that are placed in its prompt.',
    `The solver's job: ${ctx.agentObjective}`,
    `What the lessons should improve: ${ctx.learningObjective}`,
  ].join('\n');
}

/** Stage 1: describe one attempt, so the comparison in stage 2 works from compact, comparable notes. */
export function summaryMessages(
  ctx: CriticContext,
  input: string,
  answer: string | null,
  response: string,
  score: number | null,
): ChatMessage[] {
  const system = `${preamble(ctx)}

Read one attempt by the solver and write a compact account of it:
- Approach: the strategy it followed, in two or three sentences.
- Key steps: the decisive steps, with the concrete values or facts they used.
- Errors: each mistake, where it happened, and what it should have done instead ("none" if the attempt is sound).
- Outcome: the final answer and whether it matches the reference (when a reference is given).
Be specific and brief; do not solve the problem again from scratch.`;
  const user = `## Task given to the solver
${input}

## Reference answer
${answer ?? WITHHELD}

## Score of this attempt (0 = wrong, 1 = right)
${score === null ? WITHHELD : score}

## The solver's attempt
${response}`;
  return [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ];
}

/** Stage 2, the "semantic group advantage": compare the attempts at one task and distil lessons. */
export function groupCritiqueMessages(
  ctx: CriticContext,
  input: string,
  answer: string | null,
  attempts: { summary: string; score: number | null }[],
  maxLessons: number,
): ChatMessage[] {
  const system = `${preamble(ctx)}

You will see several attempts by the solver at the same task, each summarised and scored. Some succeeded and some failed.
1. Say which attempts were better and why; find what the successful attempts did that the failed ones did not.
2. Name the root cause of each failure (wrong method, careless arithmetic, misread question, missing check, …).
3. Turn the difference into at most ${maxLessons} general lesson(s) that would help on other tasks of this kind, not only this one.
   Write each as one or two sentences; when a lesson only holds under a condition, say so: "When <condition>, <do this>".
   Do not mention this task's specific numbers or answer.

End your answer with the lessons as a numbered list inside tags, exactly like this:
<experiences>
1. <lesson>
</experiences>`;
  const body = attempts
    .map((a, i) => `### Attempt ${i + 1} (score ${a.score === null ? WITHHELD : a.score})\n${a.summary}`)
    .join('\n\n');
  const user = `## Task
${input}

## Reference answer
${answer ?? WITHHELD}

## Attempts
${body}`;
  return [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ];
}

const OPERATIONS_SPEC = `Operations:
- ADD: the lesson is new; give its text as "content" and "id": null.
- UPDATE: the lesson refines or corrects an existing one; give that lesson's "id" and the merged text as "content".
- DELETE: an existing lesson is wrong, harmful or superseded; give its "id".
- NONE: nothing to change.
Keep lessons general, short (one or two sentences) and non-overlapping. Answer with a JSON array only, in a \`\`\`json block:
\`\`\`json
[{"operation": "ADD", "id": null, "content": "When ..., ..."}, {"operation": "UPDATE", "id": "G2", "content": "..."}]
\`\`\``;

function libraryText(library: ExperienceLibrary): string {
  return library.size === 0 ? '(empty)' : library.format();
}

/** Stage 3: decide, for one task's new lessons, how each should change the library. */
export function groupUpdateMessages(ctx: CriticContext, library: ExperienceLibrary, newLessons: string): ChatMessage[] {
  const system = `${preamble(ctx)}

You maintain the solver's library of lessons. Compare each new lesson with the existing library and choose one operation per new lesson.
${OPERATIONS_SPEC}`;
  const user = `## Current library
${libraryText(library)}

## New lessons
${newLessons}`;
  return [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ];
}

/** Renders the library with the operations proposed for each lesson, then the operations that name no lesson. */
export function formatLibraryWithOperations(
  library: ExperienceLibrary,
  operations: readonly { id: string | null; operation: string; content: string }[],
): string {
  const parts: string[] = [];
  for (const [id, text] of library.entries()) {
    const related = operations.filter((op) => op.id === id);
    const ops =
      related.length === 0
        ? '  (no proposed operations)'
        : related.map((op) => `  - ${op.operation}${op.content ? `: ${op.content}` : ''}`).join('\n');
    parts.push(`[${id}]. ${text}\n${ops}`);
  }
  const free = operations.filter((op) => op.id === null || !library.get(op.id));
  if (free.length > 0)
    parts.push(
      `Proposed operations that name no existing lesson:\n${free.map((op) => `  - ${op.operation}: ${op.content}`).join('\n')}`,
    );
  return parts.join('\n\n');
}

/** Stage 4: reconcile all operations proposed in one batch into one consistent edit of the library. */
export function batchUpdateMessages(ctx: CriticContext, libraryWithOperations: string): ChatMessage[] {
  const system = `${preamble(ctx)}

Several reviewers each proposed edits to the solver's library after looking at different tasks. Merge their proposals into one final list of operations:
- Several UPDATEs of the same lesson: write one UPDATE that keeps their common insight (do not just concatenate).
- A DELETE of a lesson wins over UPDATEs of it.
- Similar ADDs: merge them into one ADD; keep distinct ones separate.
- Conflicting advice: keep the better-supported, more general version.
- Keep the library compact: prefer improving an existing lesson over adding a near-duplicate.
${OPERATIONS_SPEC}`;
  const user = `## Library with proposed operations
${libraryWithOperations}`;
  return [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ];
}

/** The block appended to the task model's system prompt at rollout and at inference. */
export function experiencesBlock(library: ExperienceLibrary): string {
  if (library.size === 0) return '';
  return `Lessons learned from earlier attempts at problems like this one. Read them first and apply those that fit:\n${library.format()}`;
}
