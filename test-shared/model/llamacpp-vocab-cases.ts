// llama.cpp's tokenizer test vectors from ../shared/data/tokenizers/llamacpp-vocab.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SHARED_DATA } from './shared-data.ts';

/** As tests/test-tokenizer-0.cpp read_tests: inputs split on the separator, one line of ids per input. */
export function llamaCppVocabCases(name: string): { text: string; ids: number[] }[] {
  const dir = path.join(SHARED_DATA, 'tokenizers', 'llamacpp-vocab');
  const inp = readFileSync(path.join(dir, `ggml-vocab-${name}.gguf.inp`), 'utf8');
  const out = readFileSync(path.join(dir, `ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  const sep = '\n__ggml_vocab_test__\n';
  const texts: string[] = [];
  for (let pos = 0; pos < inp.length; ) {
    const next = inp.indexOf(sep, pos);
    if (next < 0) {
      texts.push(inp.slice(pos));
      break;
    }
    texts.push(inp.slice(pos, next));
    pos = next + sep.length;
  }
  return texts.map((text, i) => ({ text, ids: out[i].trim() === '' ? [] : out[i].trim().split(' ').map(Number) }));
}
