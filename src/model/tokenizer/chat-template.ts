import { Template } from '@huggingface/jinja';
import { GrpoError } from '../../errors.ts';
import type { ChatMessage, ChatTemplateOptions } from './tokenizer.ts';

/**
 * A chat template (Jinja, as in tokenizer_config.json) rendered the way transformers'
 * `apply_chat_template` does: variables `messages`, `add_generation_prompt`, `tools`, the special token
 * strings (`bos_token`, `eos_token` ...), plus extra kwargs. @huggingface/jinja itself provides
 * `raise_exception` and `strftime_now` and applies trim_blocks / lstrip_blocks like transformers.
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly specialTokenStrings: Record<string, string | null> = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new GrpoError('template', `chat template does not parse: ${(e as Error).message}`);
    }
  }

  render(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    try {
      return this.template.render({
        ...this.specialTokenStrings,
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        tools: opts.tools,
        ...opts.extra,
      });
    } catch (e) {
      // raise_exception(msg) in a template surfaces here with the template's own message.
      throw new GrpoError('template', `chat template failed to render: ${(e as Error).message}`);
    }
  }
}

/**
 * `chat_template` in tokenizer_config.json is a string, or a list of {name, template} of which transformers
 * uses 'default' unless told otherwise.
 */
export function pickChatTemplate(value: unknown, name = 'default'): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: string; template?: string }[];
    return (named.find((t) => t.name === name) ?? (name === 'default' ? undefined : named[0]))?.template;
  }
  return undefined;
}
