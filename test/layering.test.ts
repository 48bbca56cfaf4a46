// One-way layering. Each TypeScript file belongs to one layer; an import may go to its own layer or
// a lower one, never up:
//   1. release  scripts/                        the release toolchain (make proxy, packages, image, repos)
//   2. harness  test/{harness,helpers,matrix,bench,fixtures}/
//                                               engines, hosts, the matrix, the bench, the fixtures,
//                                               and the entry points of make matrix, bench, ci-files
//   3. tests    test/*.ts                       the AVA suite
// And nothing imports an entry point (a file that runs main(): scripts/*.ts, test/harness/*.ts
// that are run by the Makefile), so that importing a module never runs a build.
import test from 'ava'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../scripts/lib/paths.ts'
import { typescriptFiles } from './helpers/repo-files.ts'

const LAYERS = [
  { name: 'release', dirs: ['scripts'] },
  { name: 'harness', dirs: ['test/harness', 'test/helpers', 'test/matrix', 'test/bench', 'test/fixtures'] },
  { name: 'tests', dirs: ['test'] },
]

// The layer of a repository-relative path: the first whose directories hold it (the most specific
// directories come first in LAYERS' order for test/).
function layerOf(file: string): number {
  const rank = LAYERS.findIndex((l) => l.dirs.some((d) => file.startsWith(d + '/')))
  if (rank < 0) throw new Error(`${file} is in no layer`)
  return rank
}

const isEntryPoint = (text: string) => /^await main\(/m.test(text)

// The imports against the layering in a tree given as path -> text (paths relative to the root).
function layeringViolations(tree: Map<string, string>): string[] {
  return [...tree].flatMap(([file, text]) =>
    [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)]
      .map((m) => m[1] ?? m[2])
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => ({ spec, target: path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)) }))
      .flatMap(({ spec, target }) => {
        const problems: string[] = []
        if (layerOf(target) > layerOf(file)) problems.push(`${file} (${LAYERS[layerOf(file)].name}) -> ${spec} (${LAYERS[layerOf(target)].name})`)
        if (tree.has(target) && isEntryPoint(tree.get(target)!)) problems.push(`${file} -> ${spec}: an entry point`)
        return problems
      }))
}

const projectTree = () =>
  new Map(['scripts', 'test'].flatMap((d) => typescriptFiles(d)).map((f) => [f, readFileSync(path.join(repoRoot, f), 'utf8')]))

test('every import runs down the layers (release <- harness <- tests), and none names an entry point', (t) => {
  const tree = projectTree()
  t.true([...tree.keys()].filter((f) => layerOf(f) === 1).length > 10, 'the harness layer is populated')
  t.deepEqual(layeringViolations(tree), [])
})

test('the check names an import up the layers and an import of an entry point', (t) => {
  const tree = new Map([
    ['scripts/lib/packages.ts', "import { withHost } from '../../test/helpers/installer-host.ts'\n"],
    ['test/helpers/installer-host.ts', "import { thing } from '../packages.test.ts'\nimport { main } from '../../scripts/lib/main.ts'\n"],
    ['test/packages.test.ts', "import '../scripts/packages.ts'\n"],
    ['scripts/packages.ts', "import { main } from './lib/main.ts'\nawait main(async () => {})\n"],
  ])
  t.deepEqual(layeringViolations(tree), [
    'scripts/lib/packages.ts (release) -> ../../test/helpers/installer-host.ts (harness)',
    'test/helpers/installer-host.ts (harness) -> ../packages.test.ts (tests)',
    'test/packages.test.ts -> ../scripts/packages.ts: an entry point',
  ])
})
