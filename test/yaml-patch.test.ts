// datadog.yaml's one reader and editor (packaging/datadog-yaml.awk: the package ships it, the
// install script carries it) on a wide set of inputs, with mawk, gawk and busybox awk, the `yaml`
// package as the oracle. The patch: each result is parsed and compared with what the input means
// plus the fips settings; comments must survive, a second run must change nothing, CRLF must stay
// CRLF, and invalid YAML must be refused with nothing written. The reader (mode=get): every key
// reads as the yaml package reads it.
import test from 'ava'
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Node, isMap, isScalar, parseDocument } from 'yaml'
import { $ } from 'zx'
import { DATADOG_YAML_AWK, repoRoot } from '../scripts/lib/paths.ts'
import { parseKeys, readKeysCommand } from './helpers/datadog-yaml.ts'
import { renderedInstaller } from './helpers/installer-lib.ts'
import { rng } from './helpers/rng.ts'
import { loadProduct } from '../scripts/lib/product.ts'

const product = loadProduct()
// A moved range (DD_FIPS_PORT_RANGE_START), so that the port written is the one given.
const PORT = product.ports.rangeStart + 1000
const SCRIPT = renderedInstaller()
const MANAGED = ['enabled', 'https', 'port_range_start']
const work = mkdtempSync(path.join(os.tmpdir(), 'yaml-patch-'))

// One directory per awk, put first in PATH so that the script's `awk` is that one.
const AWKS: Record<string, string> = { mawk: '/usr/bin/mawk', gawk: '/usr/bin/gawk', busybox: '/bin/busybox' }
for (const [name, bin] of Object.entries(AWKS)) {
  mkdirSync(path.join(work, name))
  symlinkSync(bin, path.join(work, name, 'awk'))
}

let counter = 0
const inputFile = (input: string) => {
  const file = path.join(work, `in-${counter++}.yaml`)
  writeFileSync(file, input)
  return file
}

// mode: set (DD_FIPS_MODE) or revert (DD_FIPS_REVERT), by the awk itself.
async function patch(input: string, awk = 'mawk', mode = 'set') {
  const file = inputFile(input)
  const r = await $({ nothrow: true, quiet: true })`${AWKS[awk]} ${awk === 'busybox' ? ['awk'] : []} -v mode=${mode} -v port=${PORT} -v site=${product.site} -f ${DATADOG_YAML_AWK} ${file}`
  return { code: r.exitCode, out: r.stdout, err: r.stderr, unchanged: readFileSync(file, 'utf8') === input }
}

// The same edit by the install script's fips_yaml_edit, with its own copy of the program.
async function patchByInstaller(input: string, mode = 'set') {
  const r = await $({ nothrow: true, quiet: true, env: { ...process.env, DD_INSTALL_SCRIPT_LIB: '1' } })`bash -c ${'. "$0"; port_start=$2; fips_yaml_edit "$3" "$1"'} ${SCRIPT} ${inputFile(input)} ${PORT} ${mode}`
  return { code: r.exitCode, out: r.stdout, err: r.stderr }
}

// mode=get of every key in file, with the given awk (busybox's through its applet).
async function readKeys(file: string, keys: string[], awk = 'mawk'): Promise<Record<string, string>> {
  return parseKeys((await $({ quiet: true })`sh -c ${readKeysCommand(DATADOG_YAML_AWK, file, keys, awk === 'busybox' ? 'busybox awk' : AWKS[awk])}`).stdout)
}

// Every dotted key of a document through its mappings (block or flow), with what the reader must
// print: a scalar's text as YAML reads it (a plain one as written: the reader does not resolve
// types), nothing for a mapping, a list, a block scalar or an empty value.
function expectedKeys(input: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (node: unknown, prefix: string) => {
    if (!isMap(node)) return
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : ''
      if (!key || key.includes('.') || key.includes('=')) continue
      const name = prefix + key
      const value = pair.value as Node | null
      out[name] = isScalar(value) && ['PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'].includes(String(value.type)) ? (value.type === 'PLAIN' ? String(value.source) : String(value.value)) : ''
      walk(value, name + '.')
    }
  }
  walk(parseDocument(input.replace(/\r\n/g, '\n')).contents, '')
  return out
}

async function checkReader(t: any, name: string, input: string, awk = 'mawk') {
  const expected = expectedKeys(input)
  const keys = [...Object.keys(expected), 'no_such_key', 'fips.no_such_key']
  t.deepEqual(await readKeys(inputFile(input), keys, awk), { no_such_key: '', 'fips.no_such_key': '', ...expected }, `${name} (${awk}): every key reads as the yaml package reads it`)
}

// Order-insensitive, normalised form for comparison.
function normal(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normal)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, normal(x)]))
  return v
}

function expected(input: string): unknown {
  const doc = (parseDocument(input.replace(/\r\n/g, '\n')).toJSON() ?? {}) as Record<string, any>
  const fips = doc.fips && typeof doc.fips === 'object' && !Array.isArray(doc.fips) ? Object.fromEntries(Object.entries(doc.fips).filter(([k]) => !MANAGED.includes(k))) : {}
  return normal({ ...doc, fips: { ...fips, enabled: true, https: false, port_range_start: PORT } })
}

// What DD_FIPS_REVERT makes of a patched input: the input less the managed fips settings (no fips
// key once nothing else is in it), with the FIPS site when it had no site.
function expectedReverted(input: string): unknown {
  const doc = (parseDocument(input.replace(/\r\n/g, '\n')).toJSON() ?? {}) as Record<string, any>
  const fips = doc.fips && typeof doc.fips === 'object' && !Array.isArray(doc.fips) ? Object.fromEntries(Object.entries(doc.fips).filter(([k]) => !MANAGED.includes(k))) : {}
  const { fips: _, ...rest } = doc
  return normal({ ...rest, ...(Object.keys(fips).length ? { fips } : {}), site: doc.site ?? product.site })
}

const yamlErrors = (input: string) => parseDocument(input.replace(/\r\n/g, '\n'), { uniqueKeys: true }).errors

async function checkValid(t: any, name: string, input: string, awk = 'mawk') {
  t.deepEqual(yamlErrors(input).map((e) => e.message), [], `${name}: the test input itself is valid YAML`)
  const r = await patch(input, awk)
  t.is(r.code, 0, `${name} (${awk}): ${r.err}`)
  if (r.code !== 0) return
  const parsed = parseDocument(r.out)
  // Valid YAML, and a single fips key (the parser's uniqueKeys check is on by default).
  t.deepEqual(parsed.errors.map((e) => e.message), [], `${name} (${awk}): output is valid YAML:\n${r.out}`)
  t.deepEqual(normal(parsed.toJSON()), expected(input), `${name} (${awk}): every other key kept, fips set`)
  const comments = input.split(/\r?\n/).filter((l) => /^\s*#/.test(l)).map((l) => l.trim())
  for (const c of comments) t.true(r.out.includes(c), `${name}: comment kept: ${c}`)
  if (/\r\n/.test(input)) t.true(r.out.split('\n').slice(0, -1).every((l) => l.endsWith('\r')), `${name}: CRLF kept`)
  const again = await patch(r.out, awk)
  t.is(again.out, r.out, `${name} (${awk}): a second run changes nothing`)
  t.deepEqual(await readKeys(inputFile(r.out), ['fips.enabled', 'fips.https', 'fips.port_range_start'], awk), { 'fips.enabled': 'true', 'fips.https': 'false', 'fips.port_range_start': String(PORT) }, `${name} (${awk}): the reader reads the settings the editor wrote`)
  const reverted = await patch(r.out, awk, 'revert')
  t.is(reverted.code, 0, `${name} (${awk}) reverted: ${reverted.err}`)
  t.deepEqual(normal(parseDocument(reverted.out).toJSON() ?? {}), expectedReverted(input), `${name} (${awk}): DD_FIPS_REVERT takes out exactly the fips settings`)
  for (const c of comments) t.true(reverted.out.includes(c), `${name}: comment kept by the revert: ${c}`)
}

async function checkRefused(t: any, name: string, input: string, reason: RegExp, awk = 'mawk') {
  const r = await patch(input, awk)
  t.not(r.code, 0, `${name} (${awk}) must be refused`)
  t.regex(r.err, reason, name)
  t.is(r.out, '', `${name}: nothing written`)
  t.true(r.unchanged)
}

const example = readFileSync(path.join(repoRoot, 'test', 'fixtures', 'datadog-agent', 'datadog.yaml.example'), 'utf8')

const VALID: Record<string, string> = {
  'fresh example': example,
  'example with api key set': example.replace('api_key:\n', 'api_key: 0123456789abcdef\n'),
  'existing fips with other values': 'api_key: x\nfips:\n  enabled: false\n  https: true\n  port_range_start: 9900\n  local_address: 127.0.0.1\nsite: ddog-gov.com\n',
  'existing fips indented by 4, with comments': 'fips:\n    # keep this\n    local_address: localhost   # and this\n    enabled: false\n\n# next section\nlogs_enabled: true\n',
  'fips commented out': 'api_key: x\n# fips:\n#   enabled: false\n#   https: true\n',
  'flow style fips': 'api_key: x\nfips: {enabled: false, https: true, local_address: "127.0.0.1"}\nlogs_enabled: false\n',
  'flow style fips over lines': 'fips: {enabled: false,\n  local_address: localhost}\nsite: x\n',
  'empty flow fips': 'fips: {}\n',
  'fips null': 'fips: null\napi_key: x\n',
  'fips tilde': 'fips: ~\n',
  'fips empty value then another key': 'fips:\napi_key: x\n',
  'fips empty with comment': 'fips:   # set by hand\napi_key: x\n',
  'fips scalar true': 'fips: true\n',
  'quoted fips key': '"fips": {enabled: false}\napi_key: x\n',
  'fips at the end without newline': 'api_key: x\nfips:\n  enabled: false',
  'CRLF': 'api_key: x\r\n# comment\r\nlogs_config:\r\n  use_http: true\r\n',
  'CRLF with fips': 'fips:\r\n  enabled: false\r\n  local_address: localhost\r\napi_key: x\r\n',
  'no trailing newline': 'api_key: x\nsite: ddog-gov.com',
  'tabs in values and comments': 'api_key: "a\tb"\nname: x\ty\n\t# tab before a comment\nsite: ddog-gov.com\t# tab before a comment\n',
  'empty file': '',
  'only comments': '# nothing\n# here\n',
  'only blank lines': '\n\n\n',
  'document start marker': '---\napi_key: x\n',
  'document end marker': 'api_key: x\n...\n',
  'block scalar mentioning fips': 'motd: |\n  fips:\n    enabled: false\nother: >-\n  folded\n  text\napi_key: x\n',
  'nested key named fips': 'logs_config:\n  fips: keep\napi_key: x\n',
  'sequences of mappings': 'checks:\n  - name: a\n    value: 1\n  - name: b\ntags:\n- env:prod\n- team:x\n',
  'flow sequence over lines': 'tags: [a,\n  b, c]\nfips:\n  enabled: false\n',
  'quoted strings with hashes and colons': 'a: "x: #y"\nb: \'it\'\'s # fine\'\nurl: http://host:80/path#frag\n',
  'multi-line plain scalar': 'description: a long\n  value on two lines\napi_key: x\n',
  'indented top level': '  api_key: x\n  fips:\n    enabled: false\n',
  'unicode': 'hostname: "hôte-été"\n# commentaire: été\n',
  'dash-prefixed values': 'a: -1\nb: -x\n',
}

const INVALID: Record<string, [string, RegExp]> = {
  'tab indentation': ['a:\n\tb: 1\n', /tabs are not allowed as indentation/],
  'unclosed double quote': ['a: "abc\nb: 1\n', /unclosed quoted scalar/],
  'unclosed flow sequence': ['a: [1, 2\n', /multi-line value must be indented|unclosed flow/],
  'bad dedent': ['a:\n    b: 1\n  c: 2\n', /bad indentation/],
  'mapping after a plain value': ['a: hello\n  b: 1\n', /mapping cannot follow a plain value/],
  'colon in a plain value': ['a: b: c\n', /plain value cannot contain/],
  'duplicate keys': ['a: 1\nb: 2\na: 3\n', /duplicate key 'a'/],
  'two fips blocks': ['fips:\n  enabled: false\nfips:\n  enabled: true\n', /duplicate key 'fips'/],
  'top level list': ['- a\n- b\n', /top level is not a mapping/],
  'top level scalar': ['hello\n', /expected 'key: value'/],
  'several documents': ['a: 1\n---\nb: 2\n', /several YAML documents/],
  'unbalanced bracket': ['a: [1]]\n', /unbalanced|unexpected text/],
  'text after a quoted value': ['a: "x" y\n', /unexpected text after a value/],
  'inconsistent top level': ['  a: 1\nb: 2\n', /bad indentation/],
}

// Valid YAML, refused on purpose: features the awk editor does not understand.
const UNSUPPORTED: Record<string, string> = {
  anchors: 'base: &b 1\nother: *b\n',
  tags: 'a: !!str 1\n',
  'complex keys': '? a\n: 1\n',
}

for (const awk of Object.keys(AWKS)) {
  test(`${awk}: valid inputs are patched, everything else kept`, async (t) => {
    for (const [name, input] of Object.entries(VALID)) await checkValid(t, name, input, awk)
  })

  test(`${awk}: every key of the valid inputs reads as the yaml package reads it`, async (t) => {
    for (const [name, input] of Object.entries(VALID)) await checkReader(t, name, input, awk)
  })

  test(`${awk}: invalid YAML is refused, the file untouched`, async (t) => {
    for (const [name, [input, reason]] of Object.entries(INVALID)) {
      const notAMapping = !isMap(parseDocument(input).contents)
      t.true(yamlErrors(input).length > 0 || notAMapping, `${name}: the yaml package rejects it too, or it is not a mapping`)
      await checkRefused(t, name, input, reason, awk)
    }
  })
}

test('YAML this editor does not handle is refused with a clear reason, not mangled', async (t) => {
  for (const [name, input] of Object.entries(UNSUPPORTED)) {
    t.deepEqual(yamlErrors(input), [], name)
    await checkRefused(t, name, input, /not supported by this editor/)
  }
})

// Generated configurations: fragments in random order, with the fips block in each of its forms
// at a random place, random line endings and final newline. Seeded, so failures replay.
function generated(count: number, seed = 42): [string, string][] {
  const r = rng(seed)
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]
  const fragments = [
    '## @param api_key - string - required\napi_key: 0123abcd',
    'site: ddog-gov.com',
    '# hostname: <HOSTNAME>',
    'logs_config:\n  use_http: true\n  # nested comment\n  processing_rules:\n    - type: exclude_at_match\n      pattern: "#skip: this"',
    'tags:\n  - env:prod\n  - "team:a b"',
    'proxy:\n  https: http://proxy:3128\n  no_proxy: [localhost, "127.0.0.1"]',
    'motd: |\n  fips:\n    enabled: false\n  end',
    'apm_config:\n  enabled: true\n  env: "prod # not a comment"',
    "quoted: 'single # quoted'",
    'empty_value:',
    'inventories_enabled: false',
  ]
  const fipsForms = [
    '',
    '# fips:\n#   enabled: false',
    'fips:\n  enabled: false\n  https: true\n  port_range_start: 9999',
    'fips:\n    local_address: localhost\n    enabled: false',
    'fips: {enabled: false, local_address: localhost}',
    'fips:',
    'fips: null',
    'fips:\n  # only a comment\n  tls_verify: true',
  ]
  return Array.from({ length: count }, (_, i) => {
    const parts = fragments.filter(() => r() < 0.6).sort(() => r() - 0.5)
    const fips = pick(fipsForms)
    if (fips) parts.splice(Math.floor(r() * (parts.length + 1)), 0, fips)
    let text = parts.join(pick(['\n', '\n\n', '\n# ---\n']))
    if (r() < 0.8) text += '\n'
    if (r() < 0.25) text = text.replace(/\n/g, '\r\n')
    return [`generated #${i}`, text] as [string, string]
  })
}

// 200 in four tests, which AVA runs side by side.
const GENERATED = generated(200)
for (let from = 0; from < GENERATED.length; from += 50) {
  test(`generated configurations #${from}-#${from + 49} are patched like the yaml package reads them, and read like it`, async (t) => {
    for (const [name, input] of GENERATED.slice(from, from + 50)) {
      await checkValid(t, `${name}\n${input}`, input)
      await checkReader(t, `${name}\n${input}`, input)
    }
  })
}

test("the install script's fips_yaml_edit runs the same program: the same output for set and revert", async (t) => {
  for (const [name, input] of Object.entries(VALID).slice(0, 8)) {
    const byAwk = await patch(input)
    const byScript = await patchByInstaller(input)
    t.deepEqual(byScript, { code: byAwk.code, out: byAwk.out, err: byAwk.err }, name)
    t.deepEqual(await patchByInstaller(byAwk.out, 'revert'), (({ code, out, err }) => ({ code, out, err }))(await patch(byAwk.out, 'mawk', 'revert')), `${name} reverted`)
  }
})

test('the reader refuses what the editor refuses, and says why', async (t) => {
  for (const [name, [input, reason]] of Object.entries(INVALID)) {
    const r = await $({ nothrow: true, quiet: true })`awk -v mode=get -v key=a -f ${DATADOG_YAML_AWK} ${inputFile(input)}`
    t.is(r.exitCode, 3, name)
    t.regex(r.stderr, reason, name)
    t.is(r.stdout, '', `${name}: nothing read`)
  }
})
