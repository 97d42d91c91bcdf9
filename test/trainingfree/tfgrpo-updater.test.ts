// Training-Free GRPO's library update with a scripted critic: mixed-group filtering, the four stages,
// parse-failure tolerance, batch-update retries and a broken critic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpoError } from '../../src/errors.ts';
import { ExperienceLibrary } from '../../src/trainingfree/tfgrpo/experience-library.ts';
import { updateExperienceLibrary, type UpdaterOptions } from '../../src/trainingfree/tfgrpo/experience-updater.ts';
import { isMixedGroup, type RolloutGroup } from '../../src/trainingfree/tfgrpo/rollout.ts';
import type { ChatModel } from '../../src/rollout/chat-model.ts';
import { criticStage, scriptedModel, userOf } from './scripted-models.ts';

function group(id: string, scores: number[]): RolloutGroup {
  return {
    example: { id, input: `question ${id}`, answer: `answer ${id}`, fields: {} },
    responses: scores.map((score, k) => ({
      text: `response ${k} to ${id}`,
      finishReason: 'stop',
      score,
      feedback: '',
    })),
    meanScore: scores.reduce((a, b) => a + b, 0) / scores.length,
  };
}

const LESSON = 'When adding, check each carry.';
const goodOps = (content: string) => '```json\n[{"operation": "ADD", "id": null, "content": "' + content + '"}]\n```';

function goodCritic(overrides: Partial<Record<ReturnType<typeof criticStage>, () => string>> = {}) {
  return scriptedModel('critic', (messages) => {
    const stage = criticStage(messages);
    if (overrides[stage]) return overrides[stage]!();
    if (stage === 'summary') return 'Approach: added digits. Errors: forgot a carry.';
    if (stage === 'critique') return `Comparison...\n<experiences>\n1. ${LESSON}\n</experiences>`;
    if (stage === 'group_update') return goodOps(LESSON);
    return `Merged.\n${goodOps(LESSON)}`;
  });
}

function options(critic: ChatModel, warnings: string[], extra: Partial<UpdaterOptions> = {}): UpdaterOptions {
  return {
    critic,
    context: { agentObjective: 'add numbers', learningObjective: 'accurate addition' },
    temperature: 0,
    lessonsPerGroup: 2,
    givenGroundTruth: true,
    batchUpdateAttempts: 3,
    warn: (m) => warnings.push(m),
    ...extra,
  };
}

const stages = (calls: { messages: Parameters<typeof criticStage>[0] }[]) => calls.map((c) => criticStage(c.messages));
const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;

test('mixed groups are those with 0 < mean < 1 (youtu-agent rule; an all-0.5 group counts)', () => {
  assert.equal(isMixedGroup([1, 1, 1]), false);
  assert.equal(isMixedGroup([0, 0, 0]), false);
  assert.equal(isMixedGroup([0, 1, 0]), true);
  assert.equal(isMixedGroup([0.5, 0.5]), true);
});

test('only mixed groups are summarised and critiqued; the batch result is applied and renumbered', async () => {
  const critic = goodCritic();
  const warnings: string[] = [];
  const groups = [group('a', [1, 1]), group('b', [0, 0]), group('c', [0, 1]), group('d', [0.5, 0.5])];
  const start = ExperienceLibrary.fromRecord({ G0: 'Read carefully.' });
  const r = await updateExperienceLibrary(start, groups, options(critic, warnings));
  const s = stages(critic.calls);
  // groups c and d are mixed: 2 answers each → 4 summaries, then 2 critiques, 2 group updates, 1 batch update
  assert.deepEqual(
    [count(s, 'summary'), count(s, 'critique'), count(s, 'group_update'), count(s, 'batch_update')],
    [4, 2, 2, 1],
  );
  const summarised = critic.calls.filter((c) => criticStage(c.messages) === 'summary').map((c) => userOf(c.messages));
  assert.ok(summarised.every((u) => u.includes('question c') || u.includes('question d')));
  assert.ok(
    summarised.some((u) => u.includes('answer c')),
    'with ground truth the critic sees the reference answer',
  );
  assert.deepEqual(r.library.toRecord(), { G0: 'Read carefully.', G1: LESSON });
  assert.equal(r.stats.learnedGroups, 2);
  assert.equal(r.stats.added, 1);
  assert.deepEqual(warnings, []);
  // the batch-update prompt lists the two proposed ADDs under "no existing lesson"
  const batchPrompt = userOf(critic.calls.find((c) => criticStage(c.messages) === 'batch_update')!.messages);
  assert.equal(batchPrompt.split(`ADD: ${LESSON}`).length - 1, 2);
});

test('without ground truth every group is learned from and answers and scores are withheld', async () => {
  const critic = goodCritic();
  const groups = [group('a', [1, 1]), group('b', [0, 0])];
  const r = await updateExperienceLibrary(
    new ExperienceLibrary(),
    groups,
    options(critic, [], { givenGroundTruth: false }),
  );
  assert.equal(r.stats.learnedGroups, 2);
  const summaries = critic.calls.filter((c) => criticStage(c.messages) === 'summary').map((c) => userOf(c.messages));
  assert.equal(summaries.length, 4);
  assert.ok(
    summaries.every((u) => !u.includes('answer a') && !u.includes('answer b') && u.includes('(not available)')),
  );
});

test('no mixed group: no critic call, library unchanged', async () => {
  const critic = goodCritic();
  const start = ExperienceLibrary.fromRecord({ G0: 'x' });
  const r = await updateExperienceLibrary(start, [group('a', [1, 1]), group('b', [0, 0])], options(critic, []));
  assert.equal(critic.calls.length, 0);
  assert.equal(r.library, start);
});

test('unparsable critic answers are logged and skipped; the rest of the batch still updates the library', async () => {
  let groupUpdates = 0;
  const critic = goodCritic({
    // the first group's critique has no <experiences> list; of the remaining two group updates, the first is prose
    critique: (() => {
      let k = 0;
      return () =>
        k++ === 0 ? 'I compared them but forgot the format.' : `<experiences>\n1. ${LESSON}\n</experiences>`;
    })(),
    group_update: () => (groupUpdates++ === 0 ? 'We should add the lesson about carries.' : goodOps(LESSON)),
  });
  const warnings: string[] = [];
  const groups = [group('a', [0, 1]), group('b', [1, 0]), group('c', [0, 1])];
  const r = await updateExperienceLibrary(new ExperienceLibrary(), groups, options(critic, warnings));
  assert.equal(r.stats.parseFailures, 2);
  assert.equal(r.stats.critiques, 2);
  assert.equal(r.stats.groupOperations, 1);
  assert.deepEqual(r.library.toRecord(), { G0: LESSON });
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /group critique for 'a': no <experiences> list/);
  assert.match(warnings[1], /group update for '(b|c)': no parsable JSON/);
});

test('batch update is retried on unparsable answers; after the last attempt the library is left unchanged', async () => {
  let batchCalls = 0;
  const retrying = goodCritic({
    batch_update: () => (batchCalls++ < 2 ? 'Sure! Here are the merged operations.' : goodOps('merged lesson')),
  });
  const r = await updateExperienceLibrary(new ExperienceLibrary(), [group('a', [0, 1])], options(retrying, []));
  assert.equal(batchCalls, 3);
  assert.equal(r.stats.parseFailures, 2);
  assert.deepEqual(r.library.toRecord(), { G0: 'merged lesson' });

  const warnings: string[] = [];
  const hopeless = goodCritic({ batch_update: () => 'no json, ever' });
  const start = ExperienceLibrary.fromRecord({ G0: 'keep me' });
  const r2 = await updateExperienceLibrary(
    start,
    [group('a', [0, 1])],
    options(hopeless, warnings, { batchUpdateAttempts: 2 }),
  );
  assert.deepEqual(r2.library.toRecord(), { G0: 'keep me' });
  assert.match(warnings.at(-1)!, /no usable answer after 2 attempt\(s\); the library is unchanged/);
});

test('a critic whose every call fails stops the run with its error; one failed call is only skipped', async () => {
  const broken: ChatModel = {
    name: 'down',
    chat: async () => {
      throw new GrpoError('http', 'POST http://127.0.0.1:1/v1/chat/completions failed after 6 attempt(s)');
    },
  };
  await assert.rejects(
    updateExperienceLibrary(new ExperienceLibrary(), [group('a', [0, 1])], options(broken, [])),
    /failed after 6 attempt/,
  );

  let calls = 0;
  const good = goodCritic();
  const flaky: ChatModel = {
    name: 'flaky',
    chat: (m, o) => (calls++ === 0 ? Promise.reject(new Error('socket hang up')) : good.chat(m, o)),
  };
  const warnings: string[] = [];
  const r = await updateExperienceLibrary(new ExperienceLibrary(), [group('a', [0, 1])], options(flaky, warnings));
  assert.equal(r.stats.callFailures, 1);
  assert.equal(r.stats.summaries, 1);
  assert.deepEqual(r.library.toRecord(), { G0: LESSON });
  assert.match(warnings[0], /socket hang up/);
});
