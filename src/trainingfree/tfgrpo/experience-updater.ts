/**
 * One Training-Free GRPO library update from a batch of scored rollout groups
 * (youtu-agent: utu/practice/experience_updater.py, `ExperienceUpdater.run`):
 *   1. summarise every answer of every mixed group (0 < mean < 1)
 *   2. per group, critique the summaries against each other → up to K lessons ("semantic group advantage")
 *   3. per group, turn its lessons into ADD / UPDATE / DELETE / NONE operations against the library
 *   4. reconcile all the batch's operations in one call, apply them, renumber G0..Gn
 * A model answer that cannot be parsed is logged and skipped, never fatal. A failed call is skipped too,
 * unless every call of a stage failed — then the critic endpoint is broken and the error is raised.
 */
import type { ChatMessage, ChatModel } from '../../rollout/chat-model.ts';
import { extractJson, listItems, taggedSection } from '../common/parse-output.ts';
import { type ExperienceLibrary, normalizeOperation, type ExperienceOperation } from './experience-library.ts';
import {
  batchUpdateMessages,
  formatLibraryWithOperations,
  groupCritiqueMessages,
  groupUpdateMessages,
  summaryMessages,
  type CriticContext,
} from './prompts.ts';
import { isMixedGroup, type RolloutGroup } from './rollout.ts';

export interface UpdaterOptions {
  critic: ChatModel;
  context: CriticContext;
  temperature: number;
  maxTokens?: number;
  /** lessons asked for per group critique (youtu: num_experiences_per_query) */
  lessonsPerGroup: number;
  /** show the critic reference answers and scores, and learn from mixed groups only (youtu: given_ground_truth) */
  givenGroundTruth: boolean;
  /** tries at a parsable batch-update answer (youtu: max_retries = 3) */
  batchUpdateAttempts: number;
  warn: (message: string) => void;
}

export interface UpdateStats {
  groups: number;
  learnedGroups: number;
  summaries: number;
  critiques: number;
  groupOperations: number;
  batchOperations: number;
  added: number;
  updated: number;
  deleted: number;
  unchanged: number;
  skippedOperations: number;
  parseFailures: number;
  callFailures: number;
}

export interface UpdateResult {
  library: ExperienceLibrary;
  stats: UpdateStats;
  /** the reconciled operations that were applied, as the critic wrote them */
  operations: ExperienceOperation[];
}

/** Operations from a parsed answer: an array, {"operations": [...]}, or one bare operation object. */
export function operationsFromJson(value: unknown): unknown[] | null {
  if (Array.isArray(value)) return value;
  if (value !== null && typeof value === 'object') {
    const ops = (value as { operations?: unknown }).operations;
    if (Array.isArray(ops)) return ops;
    if ('operation' in value) return [value];
  }
  return null;
}

/** One stage's critic calls: a failed call is skipped and counted; a stage whose every call failed is fatal. */
class CriticStage {
  failures = 0;
  private firstError: unknown = null;
  private calls = 0;
  constructor(
    readonly name: string,
    private readonly opts: UpdaterOptions,
    private readonly stats: UpdateStats,
  ) {}

  async ask(messages: ChatMessage[], what: string): Promise<string | null> {
    this.calls++;
    try {
      const res = await this.opts.critic.chat(messages, {
        temperature: this.opts.temperature,
        maxTokens: this.opts.maxTokens,
      });
      return res.choices[0]?.text ?? '';
    } catch (e) {
      this.failures++;
      this.stats.callFailures++;
      this.firstError ??= e;
      this.opts.warn(`${this.name}: critic call for ${what} failed, skipped: ${(e as Error).message}`);
      return null;
    }
  }

  /** a stage whose every call failed means the critic is unreachable or misconfigured: stop the run */
  throwIfAllFailed(): void {
    if (this.calls > 0 && this.failures === this.calls) throw this.firstError;
  }
}

export function emptyUpdateStats(): UpdateStats {
  return {
    groups: 0,
    learnedGroups: 0,
    summaries: 0,
    critiques: 0,
    groupOperations: 0,
    batchOperations: 0,
    added: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    skippedOperations: 0,
    parseFailures: 0,
    callFailures: 0,
  };
}

export async function updateExperienceLibrary(
  library: ExperienceLibrary,
  groups: readonly RolloutGroup[],
  opts: UpdaterOptions,
): Promise<UpdateResult> {
  const stats = emptyUpdateStats();
  stats.groups = groups.length;
  const learnable = groups.filter(
    (g) => g.responses.length > 0 && (!opts.givenGroundTruth || isMixedGroup(g.responses.map((r) => r.score))),
  );
  stats.learnedGroups = learnable.length;
  const unchanged = (): UpdateResult => ({ library, stats, operations: [] });
  if (learnable.length === 0) return unchanged();
  const summarised = await summariseAnswers(learnable, opts, stats);
  const critiques = await critiqueGroups(summarised, opts, stats);
  if (critiques.length === 0) return unchanged();
  const proposed = await proposeGroupOperations(library, critiques, opts, stats);
  if (proposed.length === 0) return unchanged();
  const reconciled = await reconcileOperations(library, proposed, opts, stats);
  if (reconciled === null) return unchanged();
  return applyReconciled(library, reconciled, opts, stats);
}

interface Attempt {
  summary: string;
  /** the answer's score, shown to the critic only with given_ground_truth */
  score: number | null;
}

interface SummarisedGroup {
  group: RolloutGroup;
  attempts: Attempt[];
}

interface GroupLessons {
  id: string;
  lessons: string[];
}

/** 1. A summary of every answer in each learnable group (an empty or failed summary is left out). */
async function summariseAnswers(
  learnable: readonly RolloutGroup[],
  opts: UpdaterOptions,
  stats: UpdateStats,
): Promise<SummarisedGroup[]> {
  const gt = opts.givenGroundTruth;
  const stage = new CriticStage('trajectory summary', opts, stats);
  const summarised = await Promise.all(
    learnable.map(async (g) => {
      const summaries = await Promise.all(
        g.responses.map(async (r, k) => {
          const text = await stage.ask(
            summaryMessages(opts.context, g.example.input, gt ? g.example.answer : null, r.text, gt ? r.score : null),
            `'${g.example.id}' answer ${k + 1}`,
          );
          return text === null || text.trim() === '' ? null : { summary: text.trim(), score: gt ? r.score : null };
        }),
      );
      return { group: g, attempts: summaries.filter((s): s is Attempt => s !== null) };
    }),
  );
  stage.throwIfAllFailed();
  stats.summaries = summarised.reduce((a, s) => a + s.attempts.length, 0);
  return summarised;
}

/** 2. Each group's summaries critiqued against each other → up to K lessons ("semantic group advantage"). */
async function critiqueGroups(
  summarised: readonly SummarisedGroup[],
  opts: UpdaterOptions,
  stats: UpdateStats,
): Promise<GroupLessons[]> {
  const gt = opts.givenGroundTruth;
  const stage = new CriticStage('group critique', opts, stats);
  const lessons = await Promise.all(
    summarised
      .filter((s) => s.attempts.length > 0)
      .map(async ({ group, attempts }) => {
        const answer = await stage.ask(
          groupCritiqueMessages(
            opts.context,
            group.example.input,
            gt ? group.example.answer : null,
            attempts,
            opts.lessonsPerGroup,
          ),
          `'${group.example.id}'`,
        );
        if (answer === null) return null;
        const section = taggedSection(answer, 'experiences');
        if (section === null || listItems(section).length === 0) {
          stats.parseFailures++;
          opts.warn(`group critique for '${group.example.id}': no <experiences> list in the critic's answer, skipped`);
          return null;
        }
        return { id: group.example.id, lessons: listItems(section).slice(0, opts.lessonsPerGroup) };
      }),
  );
  stage.throwIfAllFailed();
  const critiques = lessons.filter((l): l is GroupLessons => l !== null);
  stats.critiques = critiques.length;
  return critiques;
}

/** 3. Each group's lessons against the current library → ADD / UPDATE / DELETE operations (NONE dropped). */
async function proposeGroupOperations(
  library: ExperienceLibrary,
  critiques: readonly GroupLessons[],
  opts: UpdaterOptions,
  stats: UpdateStats,
): Promise<ExperienceOperation[]> {
  const stage = new CriticStage('group update', opts, stats);
  const perGroupOps = await Promise.all(
    critiques.map(async (c) => {
      const numbered = c.lessons.map((l, i) => `${i + 1}. ${l}`).join('\n');
      const answer = await stage.ask(groupUpdateMessages(opts.context, library, numbered), `'${c.id}'`);
      if (answer === null) return [];
      const parsed = extractJson(answer);
      const ops = parsed.ok ? operationsFromJson(parsed.value) : null;
      if (ops === null) {
        stats.parseFailures++;
        opts.warn(
          `group update for '${c.id}': ${parsed.ok ? 'the JSON is not a list of operations' : parsed.reason}; skipped`,
        );
        return [];
      }
      return ops
        .map(normalizeOperation)
        .filter((o): o is ExperienceOperation => typeof o !== 'string' && o.operation !== 'NONE');
    }),
  );
  stage.throwIfAllFailed();
  const proposed = perGroupOps.flat();
  stats.groupOperations = proposed.length;
  return proposed;
}

/** 4a. The batch's operations reconciled in one call, retried until parsable; null when no attempt was. */
async function reconcileOperations(
  library: ExperienceLibrary,
  proposed: readonly ExperienceOperation[],
  opts: UpdaterOptions,
  stats: UpdateStats,
): Promise<unknown[] | null> {
  const stage = new CriticStage('batch update', opts, stats);
  let reconciled: unknown[] | null = null;
  for (let attempt = 0; attempt < opts.batchUpdateAttempts && reconciled === null; attempt++) {
    const answer = await stage.ask(
      batchUpdateMessages(opts.context, formatLibraryWithOperations(library, proposed)),
      `attempt ${attempt + 1}`,
    );
    if (answer === null) continue;
    const parsed = extractJson(answer);
    reconciled = parsed.ok ? operationsFromJson(parsed.value) : null;
    if (reconciled === null) {
      stats.parseFailures++;
      opts.warn(
        `batch update attempt ${attempt + 1}: ${parsed.ok ? 'the JSON is not a list of operations' : parsed.reason}`,
      );
    }
  }
  stage.throwIfAllFailed();
  if (reconciled === null)
    opts.warn(
      `batch update: no usable answer after ${opts.batchUpdateAttempts} attempt(s); the library is unchanged this step`,
    );
  return reconciled;
}

/** 4b. The reconciled operations applied to the library, renumbered G0..Gn; skipped ones are warned about. */
function applyReconciled(
  library: ExperienceLibrary,
  reconciled: unknown[],
  opts: UpdaterOptions,
  stats: UpdateStats,
): UpdateResult {
  stats.batchOperations = reconciled.length;
  const { library: next, report } = library.applied(reconciled);
  stats.added = report.added;
  stats.updated = report.updated;
  stats.deleted = report.deleted;
  stats.unchanged = report.none;
  stats.skippedOperations = report.skipped.length;
  for (const s of report.skipped)
    opts.warn(`batch update: operation ${JSON.stringify(s.operation)} skipped (${s.reason})`);
  const operations = reconciled.map(normalizeOperation).filter((o): o is ExperienceOperation => typeof o !== 'string');
  return { library: next.renumbered(), stats, operations };
}
