import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared/data relative to the repository root, or GRPO_SHARED_DATA. */
export const SHARED_DATA =
  process.env.GRPO_SHARED_DATA ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
