// Pinned upstream sources: loading packaging/sources.yaml and fetching each tarball into the
// local source cache. Routes, in order: the cache itself, the upstream URLs, then Debian's
// source archive (through the machine's configured apt mirror). Whatever the route, a file
// whose sha256 differs from the pin is refused and never enters the cache.
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { $ } from 'zx'
import { repoRoot } from './paths.ts'
import { Fields, ValidationError } from './validate.ts'

export const SOURCES_FILE = path.join(repoRoot, 'packaging', 'sources.yaml')

export interface SourceSpec {
  id: string
  version: string
  file: string
  // SPDX license expression of the source (what the SBOM reports).
  license: string
  sha256: string
  urls: string[]
  debian?: { package: string; suite: string }
}

export interface SourcesConfig {
  sources: Record<string, SourceSpec>
  fipsProvider: { source: string; validatedVersions: string[] }
}

export class SourcesError extends ValidationError {}
export class ChecksumError extends Error {}

export function loadSources(file = SOURCES_FILE): SourcesConfig {
  const f = new Fields(parse(readFileSync(file, 'utf8')), file, SourcesError)
  const sources = Object.fromEntries(
    f.entries('sources').map(([id, s]) => {
      const debian = s.get('debian') === undefined ? undefined : s.mapping('debian')
      const spec: SourceSpec = {
        id,
        version: s.str('version', /^\d+\.\d+\.\d+$/),
        file: s.str('file', /^[A-Za-z0-9._+-]+\.tar\.(gz|xz|bz2)$/),
        license: s.str('license', /^[A-Za-z0-9.+-]+( (AND|OR) [A-Za-z0-9.+-]+)*$/),
        sha256: s.str('sha256', /^[0-9a-f]{64}$/),
        urls: s.strings('urls', /^https:\/\//),
        debian: debian && { package: debian.str('package', /^[a-z0-9.+-]+$/), suite: debian.str('suite', /^[a-z]+(-[a-z]+)?$/) },
      }
      return [id, spec]
    }),
  )
  const providerSource = f.str('fips_provider.source')
  f.require(providerSource in sources, 'fips_provider.source', `'${providerSource}' is not one of the sources (${Object.keys(sources).join(', ')})`)
  return {
    sources,
    fipsProvider: { source: providerSource, validatedVersions: f.strings('fips_provider.validated_versions', /^\d+\.\d+\.\d+$/) },
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk)
  return hash.digest('hex')
}

export type Route = 'cache' | 'upstream' | 'debian'

export interface FetchOptions {
  cacheDir: string
  routes?: Route[]
  aptEtc?: string
}

export interface Fetched {
  path: string
  route: Route
}

async function verify(spec: SourceSpec, file: string, route: string): Promise<void> {
  const actual = await sha256File(file)
  if (actual !== spec.sha256) {
    throw new ChecksumError(
      `checksum mismatch for ${spec.file} (from ${route}): expected sha256 ${spec.sha256}, got ${actual}. ` +
        `The file is not the pinned ${spec.id} ${spec.version}; nothing was built from it.`,
    )
  }
}

// Returns the path of the verified tarball in the source cache, fetching it if needed.
export async function fetchSource(spec: SourceSpec, opts: FetchOptions): Promise<Fetched> {
  const dir = path.join(opts.cacheDir, 'sources')
  const cached = path.join(dir, spec.file)
  const routes = opts.routes ?? ['cache', 'upstream', 'debian']
  const tried: string[] = []
  if (routes.includes('cache') && existsSync(cached)) {
    await verify(spec, cached, `the source cache ${cached}; delete it to fetch it again`)
    return { path: cached, route: 'cache' }
  }
  mkdirSync(dir, { recursive: true })
  const partial = `${cached}.partial-${process.pid}`
  try {
    for (const route of routes.filter((r) => r !== 'cache')) {
      const origin = route === 'upstream' ? await downloadUpstream(spec, partial) : await downloadFromDebian(spec, partial, opts)
      if (!origin.ok) {
        tried.push(origin.detail)
        continue
      }
      await verify(spec, partial, origin.detail)
      renameSync(partial, cached)
      return { path: cached, route }
    }
  } finally {
    rmSync(partial, { force: true })
  }
  throw new SourcesError(
    `cannot fetch ${spec.file} (${spec.id} ${spec.version}); tried: ${tried.join('; ') || 'no route'}. ` +
      `Put the file in ${dir}/ (sha256 ${spec.sha256}) and run again.`,
  )
}

interface Attempt {
  ok: boolean
  detail: string
}

async function downloadUpstream(spec: SourceSpec, dest: string): Promise<Attempt> {
  const failures: string[] = []
  for (const url of spec.urls) {
    const r = await $({ nothrow: true, quiet: true })`curl -fsSL --connect-timeout 10 --max-time 600 -o ${dest} ${url}`
    if (r.exitCode === 0) return { ok: true, detail: url }
    failures.push(`${url} (${r.stderr.trim().split('\n').pop() || `curl exit ${r.exitCode}`})`)
  }
  return { ok: false, detail: failures.join('; ') }
}

// --- Debian's source archive --------------------------------------------------------------

export interface DebianMirror {
  uri: string
  signedBy?: string
}

// The main-archive mirrors among the machine's apt sources (security and updates pockets are
// skipped: their source packages are not served by every mirror). Hosts are read, never named.
export function configuredDebianMirrors(aptEtc = '/etc/apt'): DebianMirror[] {
  const mirrors: DebianMirror[] = []
  const dir = path.join(aptEtc, 'sources.list.d')
  const files = existsSync(dir) ? readdirSync(dir).map((f) => path.join(dir, f)) : []
  for (const file of files.filter((f) => f.endsWith('.sources'))) mirrors.push(...parseDeb822Sources(readFileSync(file, 'utf8')))
  for (const file of [path.join(aptEtc, 'sources.list'), ...files.filter((f) => f.endsWith('.list'))]) {
    if (existsSync(file)) mirrors.push(...parseOneLineSources(readFileSync(file, 'utf8')))
  }
  return mirrors.filter((m, i) => mirrors.findIndex((o) => o.uri === m.uri) === i)
}

const isMainSuite = (suite: string) => /^[a-z]+$/.test(suite)

export function parseDeb822Sources(text: string): DebianMirror[] {
  const mirrors: DebianMirror[] = []
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'))?.[1].trim()
    if (!/\bdeb\b/.test(field('Types') ?? '') || field('Enabled') === 'no') continue
    if (!(field('Suites') ?? '').split(/\s+/).some(isMainSuite)) continue
    for (const uri of (field('URIs') ?? '').split(/\s+/).filter(Boolean)) mirrors.push({ uri: uri.replace(/\/$/, ''), signedBy: field('Signed-By') })
  }
  return mirrors
}

export function parseOneLineSources(text: string): DebianMirror[] {
  const mirrors: DebianMirror[] = []
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/)
    if (!m || !isMainSuite(m[3])) continue
    const signedBy = m[1]?.match(/signed-by=(\S+)/)?.[1]
    mirrors.push({ uri: m[2].replace(/\/$/, ''), signedBy })
  }
  return mirrors
}

// A private apt configuration (its own sources.list, lists and cache under the source cache):
// the machine's apt setup is read, never changed. With an architecture, binary packages are of
// that architecture only, and no dpkg status is read (nothing is installed from it).
function privateApt(aptDir: string, arch?: string): string[] {
  return [
    `-o`, `Dir::Etc::SourceList=${path.join(aptDir, 'sources.list')}`,
    `-o`, `Dir::Etc::SourceParts=/dev/null`,
    `-o`, `Dir::State::Lists=${path.join(aptDir, 'lists')}`,
    `-o`, `Dir::Cache=${path.join(aptDir, 'cache')}`,
    `-o`, `APT::Sandbox::User=root`,
    ...(arch ? ['-o', `APT::Architecture=${arch}`, '-o', `APT::Architectures::=${arch}`, '-o', 'Dir::State::status=/dev/null'] : []),
  ]
}

// One update per index and process, shared by callers that come while it runs: apt refuses, rather
// than waits for, a second apt-get update on a lists directory that another holds (the image tests
// downloading base packages side by side once failed so).
const indexUpdates = new Map<string, Promise<void>>()

// Refreshes the private index of `type` (deb-src: source packages; deb: binaries of `arch`).
function updateIndex(aptDir: string, mirrors: DebianMirror[], suite: string, type: 'deb' | 'deb-src', arch?: string): Promise<void> {
  const list = mirrors
    .map((m) => `${type} ${m.signedBy ? `[signed-by=${m.signedBy}] ` : ''}${m.uri} ${suite} main`)
    .join('\n')
  const key = `${aptDir}\n${list}`
  let update = indexUpdates.get(key)
  if (!update) {
    update = (async () => {
      for (const d of ['lists/partial', 'cache/archives/partial']) mkdirSync(path.join(aptDir, d), { recursive: true })
      writeFileSync(path.join(aptDir, 'sources.list'), `${list}\n`)
      await $({ quiet: true })`apt-get ${privateApt(aptDir, arch)} update`
    })()
    indexUpdates.set(key, update)
    // A failed update is tried again by the next caller.
    update.catch(() => indexUpdates.delete(key))
  }
  return update
}

export interface DebianBinary {
  package: string
  version: string
  file: string
}

// Binary packages of one Debian architecture (e.g. the container image's base), downloaded with
// apt from the machine's configured mirrors into the cache: apt checks each against the signed
// index. A package missing from the archive is an error naming it.
export async function downloadDebianBinaries(packages: string[], debArch: string, suite: string, cache: string): Promise<DebianBinary[]> {
  const mirrors = configuredDebianMirrors()
  if (mirrors.length === 0) throw new Error('no Debian mirror in the apt sources: cannot download the image\'s base packages')
  const aptDir = path.join(cache, 'apt-binary', `${suite}-${debArch}`)
  await updateIndex(aptDir, mirrors, suite, 'deb', debArch)
  const dest = path.join(aptDir, 'debs')
  mkdirSync(dest, { recursive: true })
  const result: DebianBinary[] = []
  for (const pkg of packages) {
    const shown = await $({ quiet: true, nothrow: true })`apt-cache ${privateApt(aptDir, debArch)} show --no-all-versions ${pkg}:${debArch}`
    const version = shown.stdout.match(/^Version:\s*(\S+)/m)?.[1]
    const arch = shown.stdout.match(/^Architecture:\s*(\S+)/m)?.[1]
    if (shown.exitCode !== 0 || !version || !arch) throw new Error(`Debian ${suite} has no package ${pkg} for ${debArch}: ${shown.stderr.trim()}`)
    const file = path.join(dest, `${pkg}_${version.replace(/^\d+:/, '')}_${arch}.deb`)
    if (!existsSync(file)) await $({ quiet: true, cwd: dest })`apt-get ${privateApt(aptDir, debArch)} download ${pkg}:${debArch}=${version}`
    if (!existsSync(file)) throw new Error(`apt-get download ${pkg}=${version} left no ${file}`)
    result.push({ package: pkg, version, file })
  }
  return result
}

export interface SourceRecord {
  package: string
  version: string
  directory: string
  files: { sha256: string; size: number; name: string }[]
}

export function parseSourceRecords(text: string): SourceRecord[] {
  return text
    .split(/\n\s*\n/)
    .filter((r) => r.includes('Package:'))
    .map((r) => {
      const field = (name: string) => r.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1].trim() ?? ''
      const block = r.match(/^Checksums-Sha256:\s*\n((?:[ \t]+.+\n?)+)/m)?.[1] ?? ''
      const files = block
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((p) => p.length === 3)
        .map(([sha256, size, name]) => ({ sha256, size: Number(size), name }))
      return { package: field('Package'), version: field('Version'), directory: field('Directory'), files }
    })
}

async function downloadFromDebian(spec: SourceSpec, dest: string, opts: FetchOptions): Promise<Attempt> {
  if (!spec.debian) return { ok: false, detail: 'Debian archive (no Debian source package is pinned)' }
  const { package: pkg, suite } = spec.debian
  const mirrors = configuredDebianMirrors(opts.aptEtc)
  if (mirrors.length === 0) return { ok: false, detail: 'Debian archive (no Debian mirror in the apt sources)' }
  const aptDir = path.join(opts.cacheDir, 'apt')
  await updateIndex(aptDir, mirrors, suite, 'deb-src')
  const shown = await $({ quiet: true, nothrow: true })`apt-cache ${privateApt(aptDir)} showsrc ${pkg}`
  // Find the Debian version whose orig tarball is byte-identical to the pinned upstream one.
  for (const record of parseSourceRecords(shown.stdout)) {
    const orig = record.files.find((f) => f.sha256 === spec.sha256 && /\.orig\.tar\./.test(f.name))
    if (!orig) continue
    for (const mirror of mirrors) {
      const url = `${mirror.uri}/${record.directory}/${orig.name}`
      // apt's own downloader, so that the machine's apt proxy settings apply. The hash is
      // checked by fetchSource, like on every other route.
      const r = await $({ quiet: true, nothrow: true })`/usr/lib/apt/apt-helper ${privateApt(aptDir)} download-file ${url} ${dest}`
      if (r.exitCode === 0) return { ok: true, detail: `Debian ${pkg} ${record.version} (${url})` }
    }
  }
  return { ok: false, detail: `Debian archive (no ${pkg} source in ${suite} carries a tarball with sha256 ${spec.sha256})` }
}
