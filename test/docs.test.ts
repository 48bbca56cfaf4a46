// The pages (README.md, and the README.md of installer/, packaging/, scripts/ and test/) against
// what they describe, so that they cannot drift from it unnoticed: every relative link and anchor
// resolves; the front page names every make target, every variable the toolchain reads and every
// package of make deps; scripts/README.md names every module of scripts/lib/; the install script's
// variable table has every variable the script reads, and no other; packaging's page shows the
// platform files exactly as make image writes them; the test page has one row per test file, its
// `check` rows being make check's. Part of make check.
import test from 'ava'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { ECS_LAUNCH_TYPES, ecsTaskDefinition, helmValues, operatorSpec } from '../scripts/lib/image-platforms.ts'
import { repoRoot } from '../scripts/lib/paths.ts'
import { loadProduct } from '../scripts/lib/product.ts'
import { allPackages } from '../scripts/lib/tools.ts'
import { typescriptFiles } from './helpers/repo-files.ts'

const PAGES = ['README.md', 'installer/README.md', 'packaging/README.md', 'scripts/README.md', 'test/README.md']
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8')
const sorted = (names: Iterable<string>) => [...new Set(names)].sort()

// A page without its fenced code blocks (a `# comment` in a snippet is no heading, a JSON list no link).
const prose = (markdown: string) => markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '')

// GitHub's anchors: the heading's text lower-cased, without punctuation (backticks, colons, ...),
// spaces made hyphens; a repeated heading gets -1, -2, ...
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  for (const [, text] of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = text.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')
    const n = seen.get(slug) ?? 0
    seen.set(slug, n + 1)
    result.add(n === 0 ? slug : `${slug}-${n}`)
  }
  return result
}

// Every relative link of a page that points nowhere: a missing file, or an anchor its page lacks.
function brokenLinks(page: string): string[] {
  const dir = path.dirname(path.join(repoRoot, page))
  return [...prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1])
    .filter((target) => !/^[a-z]+:/.test(target))
    .filter((target) => {
      const [file, anchor] = target.split('#')
      let resolved = file ? path.resolve(dir, file) : path.join(repoRoot, page)
      if (!existsSync(resolved)) return true
      if (statSync(resolved).isDirectory()) resolved = path.join(resolved, 'README.md')
      return anchor !== undefined && !(existsSync(resolved) && anchors(readFileSync(resolved, 'utf8')).has(anchor))
    })
    .map((target) => `${page}: ${target}`)
}

// The words of a Makefile line `NAME := a b c` (a variable) or `.PHONY: a b c` (the targets).
const makeList = (name: string) =>
  new RegExp(`^${name.replace('.', '\\.')}\\s*:=?\\s*(.*)$`, 'm').exec(read('Makefile'))?.[1].trim().split(/\s+/) ?? []

test('every relative link and anchor of the pages resolves', (t) => {
  t.deepEqual(PAGES.flatMap(brokenLinks), [])
})

test("the front page's target table is the Makefile's targets", (t) => {
  const documented = [...read('README.md').matchAll(/^\| `make ([a-z-]+)` \|/gm)].map((m) => m[1])
  t.deepEqual(sorted(documented), sorted(makeList('.PHONY')))
})

test("the front page's make deps row names every package of the tool table", (t) => {
  const row = read('README.md').split('\n').find((l) => l.startsWith('| `make deps` |')) ?? ''
  const named = (pkg: string) => new RegExp(`(?<![\\w.-])${pkg.replace(/[.+]/g, '\\$&')}(?![\\w.-])`).test(row)
  t.deepEqual(allPackages().filter((pkg) => !named(pkg)), [])
})

test('the front page names every variable that the toolchain and the harness read', (t) => {
  const readme = read('README.md')
  const read_ = typescriptFiles('scripts').concat(['harness', 'matrix', 'bench'].flatMap((d) => typescriptFiles(path.join('test', d))))
    .flatMap((file) => [...read(file).matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]))
  t.true(read_.length > 10, `${read_.length} variables found`)
  t.deepEqual(sorted(read_).filter((name) => !new RegExp(`\\b${name}\\b`).test(readme)), [])
})

test("scripts/README.md's module table names every module of scripts/lib/", (t) => {
  const rows = read('scripts/README.md').split('\n').filter((l) => /^\| `[a-z-]+`/.test(l)).map((l) => l.split(' | ')[0])
  const named = new Set(rows.flatMap((cell) => [...cell.matchAll(/`([a-z-]+)`/g)].map((m) => m[1])))
  const modules = readdirSync(path.join(repoRoot, 'scripts', 'lib')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''))
  t.deepEqual(modules.filter((m) => !named.has(m)), [])
})

test("installer/README.md's table has every variable the install script reads, and no other", (t) => {
  const parts = readdirSync(path.join(repoRoot, 'installer', 'parts')).map((f) => read(path.join('installer', 'parts', f))).join('\n')
  // DD_INSTALL_SCRIPT_LIB is for the tests that source the script's functions, not for a host.
  const used = [...parts.matchAll(/\bDD_[A-Z0-9_]+/g)].map((m) => m[0]).filter((name) => name !== 'DD_INSTALL_SCRIPT_LIB')
  const documented = read('installer/README.md').split('\n').filter((l) => /^\| `DD_/.test(l))
    .flatMap((l) => [...l.split(' | ')[0].matchAll(/`(DD_[A-Z0-9_]+)`/g)].map((m) => m[1]))
  t.deepEqual(sorted(documented), sorted(used))
})

test("packaging/README.md shows make image's Helm values, Operator spec and ECS task definitions (EC2, Fargate) as generated", (t) => {
  const product = loadProduct()
  const page = read('packaging/README.md')
  t.true(page.includes(`\`\`\`yaml\n${helmValues(product)}\`\`\``), 'the Helm values')
  t.true(page.includes(`\`\`\`yaml\n${operatorSpec(product)}\`\`\``), 'the Operator spec')
  for (const launchType of ECS_LAUNCH_TYPES) t.true(page.includes(`\`\`\`json\n${ecsTaskDefinition(product, launchType)}\`\`\``), `the ${launchType} task definition`)
})

test("test/README.md has a row per test file; its `check` rows are make check's tests", (t) => {
  const rows = [...read('test/README.md').matchAll(/^\| `(test\/[\w.-]+\.test\.ts)` \| (check|test) \|/gm)].map((m) => ({ file: m[1], tier: m[2] }))
  const files = readdirSync(path.join(repoRoot, 'test')).filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`)
  t.deepEqual(sorted(rows.map((r) => r.file)), sorted(files))
  t.deepEqual(sorted(rows.filter((r) => r.tier === 'check').map((r) => r.file)), sorted(makeList('CHECK_TESTS')))
})
