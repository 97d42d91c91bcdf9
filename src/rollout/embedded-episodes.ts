/**
 * Multi-turn episodes on the embedded model: every episode is a multi-turn sequence of one SequenceDecoder, so
 * an environment's answer is prefilled into the episode's own KV cache at its position (the conversation is never
 * re-encoded), and episodes waiting for a tool leave the batch to the others until their answer comes.
 */
import type { LlamaModel } from '../model/llama-model.ts';
import { SequenceDecoder } from './sequence-decoder.ts';
import type { DecodeRequest } from './decode-request.ts';
import type { Completion } from './completion.ts';
import type { GenerateOptions } from './generate.ts';
import { checkAgentLoop, Episode, type AgentLoop } from './agent-loop.ts';
import { GrpoError } from '../errors.ts';

type OnPrompt = (promptIndex: number, group: Completion[]) => void;

export async function embeddedEpisodes(
  model: LlamaModel,
  prompts: number[][],
  opts: GenerateOptions,
  loop: AgentLoop,
  onPrompt?: OnPrompt,
): Promise<Completion[]> {
  checkAgentLoop(loop);
  const decoder = new SequenceDecoder(model, {
    precision: opts.precision,
    adapters: opts.adapters,
    spanBucket: opts.spanBucket,
  });
  try {
    const request = decoder.add(prompts, {
      ...opts,
      stop: [...(opts.stop ?? []), ...loop.format.stop],
      decode: (ids) => loop.decode(ids),
      multiTurn: true,
    });
    const answers = new EnvironmentAnswers(decoder, request, loop, opts, onPrompt);
    while (!request.finished) {
      if (answers.failure) throw answers.failure;
      if (decoder.canStep) {
        decoder.step();
        for (const c of decoder.takePaused()) answers.turnEnded(c);
        // let tool calls that finished meanwhile hand their answers over
        await new Promise((r) => setImmediate(r));
      } else if (answers.waiting.size > 0) await Promise.race(answers.waiting);
      else
        throw new GrpoError(
          'generation',
          'multi-turn decoding stalled: an episode is paused with no environment answer pending',
        );
    }
    await Promise.all(answers.waiting);
    if (answers.failure) throw answers.failure;
    return request.completions;
  } finally {
    decoder.free();
  }
}

/**
 * The environment side of a request's episodes: a sequence that ends a turn waits for its environment, which
 * resumes it with its answer or ends the episode; `onPrompt` gets a prompt's group once all its episodes ended.
 */
class EnvironmentAnswers {
  /** answers still being computed */
  readonly waiting = new Set<Promise<void>>();
  /** the first error an environment threw */
  failure: unknown = null;
  private readonly episodes = new Map<Completion, Episode>();
  /** per prompt, episodes not yet ended */
  private readonly left: number[];

  constructor(
    private readonly decoder: SequenceDecoder,
    private readonly request: DecodeRequest,
    loop: AgentLoop,
    opts: GenerateOptions,
    private readonly onPrompt?: OnPrompt,
  ) {
    for (const c of request.completions) this.episodes.set(c, new Episode(loop, c, opts.maxTokens));
    this.left = request.prompts.map(() => opts.n ?? 1);
  }

  turnEnded(c: Completion): void {
    const p = this.episodes
      .get(c)!
      .afterTurn()
      .then((ids) => {
        if (ids) this.decoder.resume(c, ids);
        else {
          this.decoder.stop(c);
          return this.ended(c);
        }
      })
      .catch((e) => {
        this.failure ??= e;
      })
      .finally(() => this.waiting.delete(p));
    this.waiting.add(p);
  }

  private async ended(c: Completion): Promise<void> {
    this.request.setText(c);
    await this.episodes.get(c)!.close();
    if (--this.left[c.promptIndex] === 0)
      this.onPrompt?.(
        c.promptIndex,
        this.request.completions.filter((x) => x.promptIndex === c.promptIndex),
      );
  }
}
