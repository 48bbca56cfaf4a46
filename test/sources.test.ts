import test from 'ava'
import { createServer } from 'node:http'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import * as tar from 'tar'
import {
  ChecksumError,
  SourcesError,
  type SourceSpec,
  configuredDebianMirrors,
  downloadDebianBinaries,
  fetchSource,
  loadSources,
  parseSourceRecords,
  sha256File,
} from '../scripts/lib/sources.ts'

// A small tarball made by the test, standing in for an upstream release.
async function makeTarball(): Promise<{ dir: string; file: string; sha256: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sources-test-'))
  mkdirSync(path.join(dir, 'demo-1.0.0'))
  writeFileSync(path.join(dir, 'demo-1.0.0', 'README'), 'demo source\n')
  const file = path.join(dir, 'demo-1.0.0.tar.gz')
  await tar.c({ gzip: true, file, cwd: dir }, ['demo-1.0.0'])
  return { dir, file, sha256: await sha256File(file) }
}

const spec = (sha256: string, urls = ['https://example.invalid/demo-1.0.0.tar.gz']): SourceSpec => ({
  id: 'demo', version: '1.0.0', file: 'demo-1.0.0.tar.gz', license: 'MIT', sha256, urls,
})

const WRONG = 'f'.repeat(64)

test('the pinned sources load; the FIPS provider source is one of them', (t) => {
  const s = loadSources()
  t.truthy(s.sources.haproxy && s.sources.openssl)
  t.true(s.fipsProvider.source in s.sources)
  t.deepEqual(s.fipsProvider.validatedVersions, ['3.0.8', '3.0.9'])
  t.true(Object.values(s.sources).every((x) => /^[0-9a-f]{64}$/.test(x.sha256)))
})

test('a sources file naming an unknown FIPS provider source is rejected', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sources-yaml-'))
  const file = path.join(dir, 'sources.yaml')
  writeFileSync(file, readFileSync(path.join('packaging', 'sources.yaml'), 'utf8').replace('source: openssl\n', 'source: libressl\n'))
  t.throws(() => loadSources(file), { instanceOf: SourcesError, message: /fips_provider\.source: 'libressl' is not one of the sources/ })
})

test('a cached tarball with the wrong hash is refused, naming file, expected and actual hash', async (t) => {
  const { file, sha256 } = await makeTarball()
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'cache-'))
  mkdirSync(path.join(cacheDir, 'sources'))
  copyFileSync(file, path.join(cacheDir, 'sources', 'demo-1.0.0.tar.gz'))
  const err = await t.throwsAsync(fetchSource(spec(WRONG), { cacheDir, routes: ['cache'] }), { instanceOf: ChecksumError })
  t.regex(err!.message, /demo-1\.0\.0\.tar\.gz/)
  t.regex(err!.message, new RegExp(`expected sha256 ${WRONG}`))
  t.regex(err!.message, new RegExp(`got ${sha256}`))
})

test('a downloaded tarball with the wrong hash is refused and never enters the cache', async (t) => {
  const { file, sha256 } = await makeTarball()
  const server = createServer((_, res) => res.end(readFileSync(file)))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/demo-1.0.0.tar.gz`
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'cache-'))

  const err = await t.throwsAsync(fetchSource(spec(WRONG, [url]), { cacheDir, routes: ['upstream'] }), { instanceOf: ChecksumError })
  t.regex(err!.message, new RegExp(`expected sha256 ${WRONG}, got ${sha256}`))
  t.false(existsSync(path.join(cacheDir, 'sources', 'demo-1.0.0.tar.gz')))

  // The same file with the right pin is accepted, then served from the cache.
  const fetched = await fetchSource(spec(sha256, [url]), { cacheDir, routes: ['cache', 'upstream'] })
  t.is(fetched.route, 'upstream')
  t.is(await sha256File(fetched.path), sha256)
  t.is((await fetchSource(spec(sha256, [url]), { cacheDir, routes: ['cache', 'upstream'] })).route, 'cache')
})

test('when no route has the file, the error says where to put it', async (t) => {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'cache-'))
  const err = await t.throwsAsync(fetchSource(spec(WRONG, ['http://127.0.0.1:9/none.tar.gz']), { cacheDir, routes: ['cache', 'upstream'] }), { instanceOf: SourcesError })
  t.regex(err!.message, /cannot fetch demo-1\.0\.0\.tar\.gz .*tried: http:\/\/127\.0\.0\.1:9\/none\.tar\.gz/)
  t.regex(err!.message, new RegExp(`Put the file in ${cacheDir}/sources/`))
})

test('Debian mirrors are read from the apt sources: main suites only, both formats', (t) => {
  const etc = mkdtempSync(path.join(os.tmpdir(), 'apt-etc-'))
  mkdirSync(path.join(etc, 'sources.list.d'))
  writeFileSync(path.join(etc, 'sources.list.d', 'debian.sources'), [
    'Types: deb', 'URIs: http://mirror.test/debian', 'Suites: bookworm bookworm-updates', 'Components: main', 'Signed-By: /usr/share/keyrings/k.gpg', '',
    'Types: deb', 'URIs: http://mirror.test/debian-security', 'Suites: bookworm-security', 'Components: main', '',
  ].join('\n'))
  writeFileSync(path.join(etc, 'sources.list'), 'deb [arch=amd64 signed-by=/k2.gpg] http://other.test/debian/ trixie main\n# deb http://x.test/ y main\n')
  t.deepEqual(configuredDebianMirrors(etc), [
    { uri: 'http://mirror.test/debian', signedBy: '/usr/share/keyrings/k.gpg' },
    { uri: 'http://other.test/debian', signedBy: '/k2.gpg' },
  ])
})

test('Debian source records are parsed with their sha256 file list', (t) => {
  const records = parseSourceRecords([
    'Package: haproxy', 'Version: 3.0.11-1', 'Directory: pool/main/h/haproxy', 'Checksums-Sha256:',
    ` ${'a'.repeat(64)} 4738655 haproxy_3.0.11.orig.tar.gz`, ` ${'b'.repeat(64)} 2000 haproxy_3.0.11-1.debian.tar.xz`, 'Format: 3.0 (quilt)', '',
  ].join('\n'))
  t.is(records.length, 1)
  t.is(records[0].directory, 'pool/main/h/haproxy')
  t.deepEqual(records[0].files.map((f) => f.name), ['haproxy_3.0.11.orig.tar.gz', 'haproxy_3.0.11-1.debian.tar.xz'])
})

// Reaches the machine's configured Debian mirror (as make image does), with a cache of its own.
test('base packages downloaded side by side in one process share one index update: apt would refuse a second on the same lists', async (t) => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'apt-binary-test-'))
  t.teardown(() => rmSync(cache, { recursive: true, force: true }))
  const [first, second] = await Promise.all([
    downloadDebianBinaries(['dash'], 'arm64', 'bookworm', cache),
    downloadDebianBinaries(['dash'], 'arm64', 'bookworm', cache),
  ])
  t.is(first.length, 1)
  t.deepEqual(second, first)
  t.true(existsSync(first[0].file), first[0].file)
})
