// One-way layering: the release toolchain (scripts/) never imports from test/; the tests and the
// harness (test/harness/: make matrix, make bench, make ci-files) may import from scripts/.
import test from 'ava'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../scripts/lib/paths.ts'

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))

test('nothing under scripts/ imports from test/', (t) => {
  const testDir = path.join(repoRoot, 'test')
  const against = sources(path.join(repoRoot, 'scripts')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/^\s*import\b[^'"]*['"]([^'"]+)['"]/gm)]
      .map((m) => m[1])
      .filter((spec) => spec.startsWith('.') && path.resolve(path.dirname(file), spec).startsWith(testDir + path.sep))
      .map((spec) => `${path.relative(repoRoot, file)} -> ${spec}`))
  t.deepEqual(against, [])
})
