/**
 * `{{name}}` placeholders in user-written prompt templates. Unknown names are an error when the template is
 * checked (config time), not a silent empty string in the middle of a run.
 */
import { GrpoError } from '../../errors.ts';

const PLACEHOLDER = /\{\{\s*([\w.-]+)\s*\}\}/g;

export function templateNames(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** Throws naming the config key when the template uses a placeholder outside `allowed`. */
export function checkTemplate(template: string, allowed: readonly string[], key: string): void {
  const unknown = templateNames(template).filter((n) => !allowed.includes(n));
  if (unknown.length > 0) {
    throw new GrpoError(
      'config',
      `${key}: unknown placeholder(s) ${unknown.map((n) => `{{${n}}}`).join(', ')}; available: ${allowed.map((n) => `{{${n}}}`).join(', ')}`,
    );
  }
}

export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (name in vars ? vars[name] : whole));
}
