/**
 * The full `grpo train` configuration as commented YAML: every key with its default (method knobs as the chosen
 * preset resolves them) and its one-line doc, read from the schema itself so it never drifts.
 */
import YAML from 'yaml';
import type { z } from 'zod';
import { trainConfigSchema } from './schema.ts';
import { unwrapObject } from '../../config/validate.ts';
import { sharedAlgorithmSchema } from './algorithm-schema.ts';
import { resolveAlgorithm } from './presets.ts';
import { advantageEstimators, policyLosses } from '../../algorithms/index.ts';
import { batchTransforms } from '../transforms/index.ts';

interface SchemaNode {
  description?: string;
  shape?: Record<string, SchemaNode>;
  def: { type: string; innerType?: SchemaNode; defaultValue?: unknown };
}

function defaultOf(node: SchemaNode): unknown {
  let cur: SchemaNode | undefined = node;
  while (cur) {
    if (cur.def.type === 'default' || cur.def.type === 'prefault') return cur.def.defaultValue;
    cur = cur.def.innerType;
  }
  return undefined;
}

function flow(value: unknown): string {
  return YAML.stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
}

export function configReference(preset = 'grpo', run = { groupSize: 8, maxTokens: 256 }): string {
  const a = resolveAlgorithm({ preset }, run);
  const resolved = { ...a, ...a.advantage_options, ...a.loss_options, ...a.transform_options } as Record<
    string,
    unknown
  >;
  // the algorithm section: the shared knobs, the batch transforms' options, then the options of the preset's
  // advantage estimator and policy loss
  const algorithmShape = {
    ...(sharedAlgorithmSchema as unknown as SchemaNode).shape,
    ...(Object.assign({}, ...batchTransforms.all().map((t) => (t.options as unknown as SchemaNode).shape)) as Record<
      string,
      SchemaNode
    >),
    ...(advantageEstimators.get(a.advantage).options as unknown as SchemaNode).shape,
    ...(policyLosses.get(a.loss).options as unknown as SchemaNode).shape,
  };
  const lines: string[] = [
    `# grpo train configuration: every key, its default, and what it does (algorithm knobs as preset '${preset}' sets them)`,
  ];
  const root = trainConfigSchema as unknown as SchemaNode;
  for (const [key, node] of Object.entries(root.shape!)) {
    const section = unwrapObject<SchemaNode>(node);
    if (section && key !== 'rewards') {
      // an optional section (environment) is off unless written: shown commented out, with its defaults
      const off = node.def.type === 'optional' ? '# ' : '';
      lines.push('', `${off}${key}:${node.description ? `  # ${node.description}` : ''}`);
      for (const [k, child] of Object.entries(key === 'algorithm' ? algorithmShape : section.shape!)) {
        const value =
          key === 'algorithm' && k !== 'preset' ? resolved[k] : key === 'algorithm' ? preset : defaultOf(child);
        const optional = (child as unknown as z.ZodType).safeParse(undefined).success;
        const text = value !== undefined ? ` ${flow(value)}` : optional ? '' : ' <required>';
        lines.push(
          `${off}  ${value === undefined && optional ? '# ' : ''}${k}:${text}${child.description ? `  # ${child.description}` : ''}`,
        );
      }
    } else {
      // an optional key without a default (plugins) is shown commented out
      const value = defaultOf(node);
      const optional = value === undefined && (node as unknown as z.ZodType).safeParse(undefined).success;
      const text = value !== undefined ? ` ${flow(value)}` : optional ? '' : ' <required>';
      lines.push(`${optional ? '# ' : ''}${key}:${text}${node.description ? `  # ${node.description}` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}
