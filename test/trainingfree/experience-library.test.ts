// Training-Free GRPO's experience library: ADD / UPDATE / DELETE / NONE, id normalisation, renumbering, save/load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ExperienceLibrary,
  normalizeExperienceId,
  normalizeOperation,
} from '../../src/trainingfree/tfgrpo/experience-library.ts';

const lib3 = () => ExperienceLibrary.fromRecord({ G0: 'zero', G1: 'one', G2: 'two' });

test('ADD appends under a fresh id past the largest existing one; UPDATE replaces in place; DELETE removes', () => {
  const { library, report } = lib3().applied([
    { operation: 'DELETE', id: 'G1' },
    { operation: 'ADD', id: null, content: 'three' },
    { operation: 'UPDATE', id: 'G0', content: 'zero v2' },
    { operation: 'ADD', content: 'four' },
  ]);
  // G1 is gone, so the largest id is G2: the adds become G3 and G4 (never reusing G1)
  assert.deepEqual(library.entries(), [
    ['G0', 'zero v2'],
    ['G2', 'two'],
    ['G3', 'three'],
    ['G4', 'four'],
  ]);
  assert.deepEqual(
    { ...report, skipped: report.skipped.length },
    { added: 2, updated: 1, deleted: 1, none: 0, skipped: 0 },
  );
});

test('renumbering keeps order and gives G0..Gn-1', () => {
  const { library } = lib3().applied([
    { operation: 'DELETE', id: 'G0' },
    { operation: 'ADD', content: 'three' },
  ]);
  assert.deepEqual(library.renumbered().toRecord(), { G0: 'one', G1: 'two', G2: 'three' });
});

test('UPDATE of an unknown id adds the lesson (youtu-agent); the original library is not modified', () => {
  const original = lib3();
  const { library, report } = original.applied([{ operation: 'UPDATE', id: 'G9', content: 'nine' }]);
  assert.deepEqual(library.ids(), ['G0', 'G1', 'G2', 'G3']);
  assert.equal(library.get('G3'), 'nine');
  assert.equal(report.added, 1);
  assert.equal(original.size, 3);
});

test('operations that cannot apply are skipped with a reason, not thrown', () => {
  const { library, report } = lib3().applied([
    { operation: 'DELETE', id: 'G7' },
    { operation: 'ADD', content: '   ' },
    { operation: 'UPDATE', id: 'G1' },
    { operation: 'MERGE', id: 'G1', content: 'x' },
    'not an object',
    { operation: 'NONE', id: null, content: 'covered already' },
  ]);
  assert.deepEqual(library.toRecord(), lib3().toRecord());
  assert.equal(report.none, 1);
  assert.deepEqual(
    report.skipped.map((s) => s.reason),
    [
      "DELETE of unknown id 'G7'",
      'ADD without content',
      'UPDATE without content',
      "unknown operation 'MERGE'",
      'not an object',
    ],
  );
});

test('ids and operation names as models write them are normalised', () => {
  assert.equal(normalizeExperienceId('[G3]'), 'G3');
  assert.equal(normalizeExperienceId('g12'), 'G12');
  assert.equal(normalizeExperienceId('4'), 'G4');
  assert.equal(normalizeExperienceId(5), 'G5');
  assert.equal(normalizeExperienceId('Experience G2.'), 'G2');
  assert.equal(normalizeExperienceId('null'), null);
  assert.equal(normalizeExperienceId(null), null);
  assert.deepEqual(normalizeOperation({ operation: 'remove', id: '[G1]' }), {
    operation: 'DELETE',
    id: 'G1',
    content: '',
  });
  // a missing operation defaults to ADD, as in youtu-agent
  assert.deepEqual(normalizeOperation({ content: ' new ' }), { operation: 'ADD', id: null, content: 'new' });
  const { library } = lib3().applied([{ operation: 'update', id: 1, content: 'one v2' }]);
  assert.equal(library.get('G1'), 'one v2');
});

test('format, save and load round trip; a bare record loads too; a wrong shape is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-lib-'));
  const lib = ExperienceLibrary.fromRecord({ G0: 'Check units.', G1: 'Restate the question.' });
  assert.equal(lib.format(), '[G0]. Check units.\n[G1]. Restate the question.');
  lib.save(join(dir, 'library.json'));
  assert.deepEqual(ExperienceLibrary.load(join(dir, 'library.json')).entries(), lib.entries());
  writeFileSync(join(dir, 'bare.json'), JSON.stringify({ G0: 'a' }));
  assert.deepEqual(ExperienceLibrary.load(join(dir, 'bare.json')).toRecord(), { G0: 'a' });
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ experiences: ['a'] }));
  assert.throws(() => ExperienceLibrary.load(join(dir, 'bad.json')), /expected \{"experiences"/);
  assert.equal(new ExperienceLibrary().format(), '');
});
