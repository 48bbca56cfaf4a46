// Configs in the vendor's dialect against our HAProxy (haproxy -c of the x86_64 proxy tree): the
// FIXTURE vendor-dialect config needs ca-certificates.crt next to it and nothing else, and the table of
// packaging/README.md of HAProxy 2.4-era keywords that HAProxy 3.0 refuses is true, line by line, replacements too.
import test from 'ava'
import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { repoRoot } from '../scripts/lib/paths.ts'
import { loadProduct } from '../scripts/lib/product.ts'
import { ProxyTree } from './helpers/proxy-tree.ts'
import { VENDOR_DIALECT_CONFIG, vendorDialectHosts } from './helpers/vendor-dialect.ts'

const product = loadProduct()
const tree = () => new ProxyTree(product, 'x86_64')
const work = mkdtempSync(path.join(os.tmpdir(), 'vendor-dialect-'))
// haproxy -c loads the CA files but needs no FIPS provider.
const check = (cfg: string) => tree().run('sbin/haproxy', ['-c', '-f', cfg], { OPENSSL_CONF: '/dev/null' })

test('the FIXTURE vendor-dialect config passes haproxy -c with ca-certificates.crt next to it, and only then', async (t) => {
  const dir = mkdtempSync(path.join(work, 'cfg-'))
  const cfg = path.join(dir, 'datadog-fips-proxy.cfg')
  copyFileSync(VENDOR_DIALECT_CONFIG, cfg)
  const without = await check(cfg)
  t.is(without.exitCode, 1)
  t.regex(without.stderr, /Couldn't open the ca-file 'ca-certificates\.crt'/, 'what the issue saw')
  symlinkSync(product.packages.find((f) => f.kind === 'deb')!.caBundle, path.join(dir, 'ca-certificates.crt'))
  const withBundle = await check(cfg)
  t.is(withBundle.exitCode, 0, withBundle.stderr)
  // Every host it sends to is the site's (the FIXTURE intake answers as each: fixtureIntakeHosts).
  for (const [, host] of vendorDialectHosts()) t.true(host.endsWith(`.${product.site}`), host)
})

// packaging/README.md's table: | section | HAProxy 2.4 line | HAProxy 3.0 says | instead |
const rows = readFileSync(path.join(repoRoot, 'packaging', 'README.md'), 'utf8').split('\n')
  .filter((l) => /^\| (global|frontend|backend) \| `/.test(l))
  .map((l) => {
    const cells = l.split(' | ').map((c) => c.replace(/^\| |\|$/g, '').trim())
    const code = (c: string) => [...c.matchAll(/`([^`]+)`/g)].map((m) => m[1])
    // "`grace 1s` in `global`": the replacement goes to another section.
    const moved = cells[3].match(/ in `(global|frontend|backend)`$/)?.[1]
    return { section: cells[0], old: code(cells[1]), says: cells[2].replace(/ \(.*\)$/, ''), instead: code(cells[3].replace(/ in `\w+`$/, '')), insteadSection: moved ?? cells[0] }
  })

// A minimal config with `lines` in `section`.
function config(section: string, lines: string[]): string {
  const within = (s: string) => (s === section ? lines.map((l) => `    ${l}`) : [])
  const bind = section === 'frontend' && lines.some((l) => l.startsWith('bind ')) ? [] : ['    bind 127.0.0.1:19999']
  return ['global', ...within('global'), 'defaults', '    mode http', '    timeout client 5s', '    timeout server 5s', '    timeout connect 5s',
    'frontend f', ...bind, ...within('frontend'), '    default_backend b', 'backend b', ...within('backend'), '    server s 127.0.0.1:1', ''].join('\n')
}

test('packaging/README.md lists HAProxy 2.4-era keywords: each refused by our HAProxy with the message quoted, each replacement accepted', async (t) => {
  t.true(rows.length >= 5, `${rows.length} rows read`)
  for (const [i, row] of rows.entries()) {
    const old = path.join(work, `old-${i}.cfg`)
    writeFileSync(old, config(row.section, row.old))
    const refused = await check(old)
    t.is(refused.exitCode, 1, `${row.old.join('; ')} is refused`)
    t.true(refused.stderr.includes(row.says), `${row.old.join('; ')}: "${row.says}" in ${refused.stderr}`)
    const instead = path.join(work, `instead-${i}.cfg`)
    writeFileSync(instead, config(row.insteadSection, row.instead))
    const accepted = await check(instead)
    t.is(accepted.exitCode, 0, `${row.instead.join('; ') || 'without it'}: ${accepted.stderr}`)
  }
})
