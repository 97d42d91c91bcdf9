/** `grpo generate`: completions from a model on the command line. */
import type { ModelFlags } from './model-flags.ts';
import { modelOptions } from './model-flags.ts';
import { openModel } from '../model/open-model.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import { generate } from '../rollout/generate.ts';
import { GrpoError } from '../errors.ts';

export interface GenerateCliOptions extends ModelFlags {
  model: string;
  prompt?: string;
  maxTokens: number;
  temperature: number;
  topP?: number;
  topK?: number;
  minP?: number;
  n: number;
  seed: number;
  stop?: string[];
  json?: boolean;
}

export function runGenerate(o: GenerateCliOptions, print: (line: string) => void = console.log): void {
  const { model, tokenizer } = openModel(resolveModelPath(o.model), modelOptions(o));
  try {
    // no prompt: start from BOS alone, as llama2.c's `run` does
    const bos = model.config.bosTokenId ?? tokenizer.bosId;
    const prompt =
      o.prompt !== undefined && o.prompt !== ''
        ? tokenizer.encode(o.prompt)
        : bos !== undefined && bos !== null
          ? [bos]
          : [];
    if (prompt.length === 0) throw new GrpoError('config', 'this tokenizer has no BOS token: pass --prompt');
    const out = generate(model, [prompt], {
      n: o.n,
      maxTokens: o.maxTokens,
      temperature: o.temperature,
      topP: o.topP,
      topK: o.topK,
      minP: o.minP,
      seed: o.seed,
      stop: o.stop,
      decode: (ids) => tokenizer.decode(ids),
    });
    // decode prompt + completion and drop the prompt's text, so tokenizer rules at the boundary (BOS, merged bytes) hold
    const promptText = tokenizer.decode(prompt);
    for (const c of out) {
      const kept = c.tokens.filter((t) => !(model.config.eosTokenIds ?? []).includes(t));
      let text = tokenizer.decode([...prompt, ...kept]).slice(promptText.length);
      for (const s of o.stop ?? []) {
        const at = text.indexOf(s);
        if (at >= 0) text = text.slice(0, at);
      }
      if (o.json)
        print(
          JSON.stringify({
            index: c.sampleIndex,
            text,
            tokens: c.tokens,
            logprobs: c.logprobs,
            sampling_logprobs: c.samplingLogprobs,
            finish_reason: c.finishReason,
          }),
        );
      else print(o.n > 1 ? `--- sample ${c.sampleIndex} (${c.finishReason})\n${text}` : text);
    }
  } finally {
    model.free();
  }
}
