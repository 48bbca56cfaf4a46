// The proxy build: OpenSSL 3 (libssl, libcrypto, openssl, the FIPS provider) and HAProxy,
// cross-compiled with `zig cc` against a glibc 2.17 symbol set so that one binary tree runs on
// every supported distro, laid out as it is installed:
//   opt/datadog-fips-proxy/embedded/{sbin/haproxy, bin/openssl, lib/*.so.3, lib/ossl-modules/fips.so, ssl/openssl.cnf}
// Results are cached outside the repository, keyed by the hash of everything that goes in.
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import * as tar from 'tar'
import { treeGlibcFloor, compareVersions } from './elf.ts'
import { PlannedObjects, Progress, formatDuration, runLogged } from './exec.ts'
import { buildDir, repoRoot } from './paths.ts'
import { type Architecture, type Product, architecture } from './product.ts'
import { type SourceSpec, type SourcesConfig, fetchSource } from './sources.ts'
import { render } from './template.ts'

const OPENSSL_CNF_TEMPLATE = path.join(repoRoot, 'packaging', 'templates', 'openssl.cnf')
export const ZIG = path.join(repoRoot, 'node_modules', '@ryoppippi', 'zig-linux-x64', 'zig')

// Per architecture: zig's target triple (with the glibc floor appended) and OpenSSL's target.
const TOOLCHAIN: Record<string, { triple: string; openssl: string }> = {
  x86_64: { triple: 'x86_64-linux-gnu', openssl: 'linux-x86_64' },
  aarch64: { triple: 'aarch64-linux-gnu', openssl: 'linux-aarch64' },
}

export class FipsProviderError extends Error {}

export interface BuildPlan {
  product: Product
  arch: Architecture
  target: string
  openssl: SourceSpec
  haproxy: SourceSpec
  provider: SourceSpec
  providerValidated: boolean
  key: string
  // The two-source build (a provider from another source than the library): the plan of the
  // library's own tree, whose libssl, libcrypto, openssl and HAProxy this tree reuses as they are;
  // only fips.so is compiled from the provider's source, all that OpenSSL's FIPS policy takes from it.
  library?: BuildPlan
}

export interface PlanOptions {
  arch: string
  providerSource?: string
}

// Everything that changes the output goes into the key: the sources, this recipe, the
// openssl.cnf template, the toolchain, the target and the install prefix.
function cacheKey(parts: unknown): string {
  const recipe = [fileURLToPath(import.meta.url), OPENSSL_CNF_TEMPLATE].map((f) => readFileSync(f, 'utf8'))
  const zig = zigPackage().version
  return createHash('sha256').update(JSON.stringify({ parts, recipe, zig })).digest('hex').slice(0, 16)
}

export function planProxyBuild(product: Product, sources: SourcesConfig, opts: PlanOptions): BuildPlan {
  const arch = architecture(product, opts.arch)
  const providerId = opts.providerSource ?? sources.fipsProvider.source
  const provider = sources.sources[providerId]
  if (!provider) throw new FipsProviderError(`FIPS provider source '${providerId}' is not in packaging/sources.yaml (${Object.keys(sources.sources).join(', ')})`)
  // A release refuses a provider that is not validated before this (release-gate.ts).
  const providerValidated = sources.fipsProvider.validatedVersions.includes(provider.version)
  const target = `${TOOLCHAIN[arch.name].triple}.${product.glibcFloor}`
  const { openssl, haproxy } = sources.sources
  const plan = { product, arch, target, openssl, haproxy, provider, providerValidated }
  if (provider.id === openssl.id) {
    return { ...plan, key: cacheKey({ arch: arch.name, target, prefix: product.paths.embedded, sources: [openssl, haproxy].map((s) => s.sha256) }) }
  }
  // The library tree's key is part of this one: whatever makes a new library tree makes a new
  // two-source tree.
  const library = planProxyBuild(product, sources, { arch: arch.name, providerSource: openssl.id })
  return { ...plan, library, key: cacheKey({ library: library.key, provider: provider.sha256 }) }
}

export interface BuildResult {
  outDir: string
  report: BuildReport
  fromCache: boolean
}

export interface BuildReport {
  product: string
  arch: string
  cache_key: string
  // Two-source trees: the cache key of the library tree whose libssl, libcrypto, openssl and
  // HAProxy they carry.
  library_cache_key?: string
  built_at: string
  build_seconds: number
  compiler: string
  target: string
  components: Record<string, { version: string; file: string; sha256: string; license: string }>
  // The toolchain that built every ELF file: zig cc, from its npm package.
  toolchain: { name: string; version: string; package: string; license: string }
  fips_provider: { source: string; version: string; validated: boolean; statement: string }
  glibc: { required_floor: string; measured_floor: string; files: Record<string, string> }
  haproxy_build_options: string[]
}

export function proxyOutDir(arch: string): string {
  return path.join(buildDir, 'proxy', arch)
}

// Builds (or takes from the cache) the tree for one architecture into outDir (build/proxy/<arch>/,
// which the packages are made from, unless told otherwise).
export async function buildProxy(plan: BuildPlan, cacheDir: string, outDir = proxyOutDir(plan.arch.name)): Promise<BuildResult> {
  const progress = new Progress(`proxy ${plan.arch.name}`)
  const { tree, fromCache } = await cachedTree(plan, cacheDir, progress)
  await progress.step(fromCache ? `cache hit ${plan.key}, copy tree` : 'copy tree', () => {
    rmSync(outDir, { recursive: true, force: true })
    cpSync(tree, outDir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true })
  })
  const report: BuildReport = JSON.parse(readFileSync(path.join(outDir, 'build-report.json'), 'utf8'))
  if (!plan.providerValidated) progress.note(`WARNING: ${report.fips_provider.statement}`)
  return { outDir, report, fromCache }
}

// The plan's tree in the cache, built first if it is not there (a two-source tree: the library's
// tree first, from the cache too if it is there).
async function cachedTree(plan: BuildPlan, cacheDir: string, progress: Progress): Promise<{ tree: string; fromCache: boolean }> {
  const tree = path.join(cacheDir, 'proxy', `${plan.arch.name}-${plan.key}`)
  const fromCache = existsSync(path.join(tree, 'build-report.json'))
  if (!fromCache && plan.library) {
    const library = await cachedTree(plan.library, cacheDir, progress)
    progress.note(`library tree ${plan.library.key} (${library.fromCache ? 'from the cache' : 'built'}); fips.so from ${plan.provider.id}`)
    await buildProviderIntoCache(plan, library.tree, cacheDir, tree, progress)
  } else if (!fromCache) {
    await buildLibraryIntoCache(plan, cacheDir, tree, progress)
  }
  return { tree, fromCache }
}

// A build's scratch space (build/work/<arch>/), its log, and its ways of running commands.
interface Workspace {
  plan: BuildPlan
  started: number
  work: string
  log: string
  run: (argv: string[], cwd: string) => Promise<void>
  // A make that compiles: one progress line every 30 s with the objects done of the total.
  compile: (step: string, argv: string[], cwd: string) => Promise<void>
  unpack: (spec: SourceSpec) => Promise<string>
}

function openWorkspace(plan: BuildPlan, cacheDir: string, progress: Progress): Workspace {
  const started = Date.now()
  const work = path.join(buildDir, 'work', plan.arch.name)
  const log = path.join(buildDir, 'logs', `proxy-${plan.arch.name}.log`)
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  mkdirSync(path.dirname(log), { recursive: true })
  writeFileSync(log, `proxy build ${plan.arch.name}, cache key ${plan.key}, ${new Date().toISOString()}\n`)
  progress.note(`building (cache key ${plan.key}); full output in ${log}`)
  const env = toolchainEnv(plan, cacheDir)
  const run = (argv: string[], cwd: string) => runLogged(argv, { cwd, env, log })
  const compile = async (step: string, argv: string[], cwd: string) => {
    const objects = await PlannedObjects.of(argv, { cwd, env })
    await progress.step(step, () => run(argv, cwd), { status: () => objects.status() })
  }
  const unpack = async (spec: SourceSpec) => {
    const fetched = await progress.step(`${spec.id}: fetch ${spec.version}`, () => fetchSource(spec, { cacheDir }))
    return progress.step(`${spec.id}: unpack`, () => extract(fetched.path, path.join(work, spec.id)))
  }
  return { plan, started, work, log, run, compile, unpack }
}

const jobs = () => `-j${os.availableParallelism()}`

// OpenSSL's shipped files only (libcrypto.so, libssl.so, the openssl command, fips.so): not
// build_sw, which also compiles the static libraries (a second copy of every libcrypto object),
// the engines and the legacy provider, none of which is shipped; and no install step: HAProxy
// compiles against the source tree's headers and links against its libraries.
const OPENSSL_SHIPPED_TARGETS = ['libcrypto.so', 'libssl.so', 'apps/openssl', 'providers/fips.so']

async function buildLibraryIntoCache(plan: BuildPlan, cacheDir: string, cached: string, progress: Progress): Promise<void> {
  const ws = openWorkspace(plan, cacheDir, progress)
  const opensslSrc = await ws.unpack(plan.openssl)
  await compileOpenssl(ws, progress, opensslSrc, { label: 'openssl', options: LIBRARY_LEAVES_OUT, targets: OPENSSL_SHIPPED_TARGETS, what: 'libraries, openssl, fips.so' })

  const haproxySrc = await ws.unpack(plan.haproxy)
  const haproxyArgs = haproxyMakeArgs(plan, opensslSrc)
  await ws.compile('haproxy: make', ['make', jobs(), ...haproxyArgs], haproxySrc)

  const staging = stagingOf(cached)
  const tree = embeddedIn(plan, staging)
  await progress.step('assemble tree (strip, openssl.cnf)', async () => {
    const install = async (from: string, to: string, mode: number, strip = false) => {
      mkdirSync(path.dirname(path.join(tree, to)), { recursive: true })
      if (strip) await ws.run([ZIG, 'objcopy', '--strip-all', from, path.join(tree, to)], ws.work)
      else copyFileSync(from, path.join(tree, to))
      chmodSync(path.join(tree, to), mode)
    }
    await install(path.join(haproxySrc, 'haproxy'), 'sbin/haproxy', 0o755, true)
    await install(path.join(opensslSrc, 'apps', 'openssl'), 'bin/openssl', 0o755, true)
    for (const lib of ['libssl.so.3', 'libcrypto.so.3']) await install(path.join(opensslSrc, lib), `lib/${lib}`, 0o644, true)
    await install(path.join(opensslSrc, 'providers', 'fips.so'), FIPS_MODULE, 0o644)
    await install(path.join(haproxySrc, 'LICENSE'), 'share/licenses/haproxy/LICENSE', 0o644)
    await install(path.join(opensslSrc, 'LICENSE.txt'), 'share/licenses/openssl/LICENSE.txt', 0o644)
    mkdirSync(path.join(tree, 'ssl'), { recursive: true })
    const cnf = render(readFileSync(OPENSSL_CNF_TEMPLATE, 'utf8'), { NAME: plan.product.name, EMBEDDED: plan.product.paths.embedded }, 'openssl.cnf')
    writeFileSync(path.join(tree, 'ssl', 'openssl.cnf'), cnf, { mode: 0o644 })
  })
  await finishIntoCache(plan, ws, staging, cached, progress, { haproxyBuildOptions: haproxyArgs.filter((a) => a.startsWith('USE_') || a.startsWith('TARGET=')) })
}

// The two-source build: the library's tree as it is, with fips.so compiled from the provider's
// source (configured as the library is, less what the library leaves out: the provider is built
// as its release builds it).
async function buildProviderIntoCache(plan: BuildPlan, libraryTree: string, cacheDir: string, cached: string, progress: Progress): Promise<void> {
  const ws = openWorkspace(plan, cacheDir, progress)
  const providerSrc = await ws.unpack(plan.provider)
  await compileOpenssl(ws, progress, providerSrc, { label: 'fips provider', options: [], targets: ['providers/fips.so'], what: 'fips.so' })

  const staging = stagingOf(cached)
  const library: BuildReport = JSON.parse(readFileSync(path.join(libraryTree, 'build-report.json'), 'utf8'))
  await progress.step('assemble tree (library tree + fips.so)', () => {
    cpSync(libraryTree, staging, { recursive: true, verbatimSymlinks: true })
    rmSync(path.join(staging, 'build-report.json'))
    // As built, like the library's own: fipsinstall on the host records the HMAC of this very file.
    const module = path.join(embeddedIn(plan, staging), FIPS_MODULE)
    copyFileSync(path.join(providerSrc, 'providers', 'fips.so'), module)
    chmodSync(module, 0o644)
  })
  await finishIntoCache(plan, ws, staging, cached, progress, { haproxyBuildOptions: library.haproxy_build_options, libraryCacheKey: library.cache_key })
}

// Configures an OpenSSL source (every build's options, plus `options`) and compiles `targets` in
// it. The generated headers (opensslv.h, ...) first: no target above names them as prerequisites
// (the release path failed so until the two-source build ran: make proxy-two-source).
async function compileOpenssl(ws: Workspace, progress: Progress, src: string, build: { label: string; options: string[]; targets: string[]; what: string }): Promise<void> {
  await progress.step(`${build.label}: configure`, () => ws.run(['perl', './Configure', ...opensslConfigureArgs(ws.plan), ...build.options], src))
  await progress.step(`${build.label}: make build_generated`, () => ws.run(['make', jobs(), 'build_generated'], src))
  await ws.compile(`${build.label}: make ${build.what}`, ['make', jobs(), ...build.targets], src)
}

const FIPS_MODULE = 'lib/ossl-modules/fips.so'
const embeddedIn = (plan: BuildPlan, root: string) => path.join(root, plan.product.paths.embedded)
const stagingOf = (cached: string) => {
  const staging = `${cached}.tmp-${process.pid}`
  rmSync(staging, { recursive: true, force: true })
  return staging
}

// Checks the staged tree's glibc floor, writes its build report and moves it into the cache.
async function finishIntoCache(plan: BuildPlan, ws: Workspace, staging: string, cached: string, progress: Progress, extra: { haproxyBuildOptions: string[]; libraryCacheKey?: string }): Promise<void> {
  const glibc = await progress.step('measure glibc floor', () => treeGlibcFloor(staging))
  if (glibc.floor === 'none' || compareVersions(glibc.floor, plan.product.glibcFloor) > 0) {
    const offenders = Object.entries(glibc.files).filter(([, v]) => v !== 'none' && compareVersions(v, plan.product.glibcFloor) > 0)
    throw new Error(`glibc floor ${glibc.floor} exceeds the product's ${plan.product.glibcFloor}: ${offenders.map(([f, v]) => `${f} needs ${v}`).join(', ')}`)
  }
  progress.note(`glibc floor ${glibc.floor} (required <= ${plan.product.glibcFloor}) over ${Object.keys(glibc.files).length} ELF files`)

  const report: BuildReport = {
    product: plan.product.name,
    arch: plan.arch.name,
    cache_key: plan.key,
    ...(extra.libraryCacheKey ? { library_cache_key: extra.libraryCacheKey } : {}),
    built_at: new Date().toISOString(),
    build_seconds: Math.round((Date.now() - ws.started) / 1000),
    compiler: await compilerVersion(plan),
    target: plan.target,
    components: { haproxy: component(plan.haproxy), openssl: component(plan.openssl), fips_provider: component(plan.provider) },
    // The npm package's manifest names no license: Zig's own is MIT.
    toolchain: { name: 'zig', version: zigPackage().version, package: zigPackage().name, license: 'MIT' },
    fips_provider: {
      source: plan.provider.id,
      version: plan.provider.version,
      validated: plan.providerValidated,
      statement: plan.providerValidated
        ? `FIPS provider ${plan.provider.version} is a validated provider (CMVP certificate #4282)`
        : `FIPS provider ${plan.provider.version} is NOT a validated provider: it is built from ` +
          `${plan.provider.id === plan.openssl.id ? "the library's release" : `OpenSSL ${plan.provider.version}`}, ` +
          `not from a release covered by CMVP certificate #4282. Not for a compliant release.`,
    },
    glibc: { required_floor: plan.product.glibcFloor, measured_floor: glibc.floor, files: glibc.files },
    haproxy_build_options: extra.haproxyBuildOptions,
  }
  writeFileSync(path.join(staging, 'build-report.json'), `${JSON.stringify(report, null, 2)}\n`)
  rmSync(cached, { recursive: true, force: true })
  renameSync(staging, cached)
  rmSync(ws.work, { recursive: true, force: true })
  progress.note(`built in ${formatDuration(Date.now() - ws.started)}`)
}

const component = (s: SourceSpec) => ({ version: s.version, file: s.file, sha256: s.sha256, license: s.license })

const zigPackage = (): { name: string; version: string } => JSON.parse(readFileSync(path.join(path.dirname(ZIG), 'package.json'), 'utf8'))

function toolchainEnv(plan: BuildPlan, cacheDir: string): NodeJS.ProcessEnv {
  const cc = `${ZIG} cc -target ${plan.target}`
  return {
    ...process.env,
    CC: cc,
    AR: `${ZIG} ar`,
    RANLIB: `${ZIG} ranlib`,
    // Keep zig's caches with the build cache instead of the user's home.
    ZIG_GLOBAL_CACHE_DIR: path.join(cacheDir, 'zig'),
    ZIG_LOCAL_CACHE_DIR: path.join(cacheDir, 'zig'),
  }
}

// Configure options of every OpenSSL build here, the provider's included. $ORIGIN-relative run
// paths: the binaries find the embedded libssl/libcrypto wherever the tree is (installed under
// /opt, or unpacked in build/ for the tests), never the system's.
function opensslConfigureArgs(plan: BuildPlan): string[] {
  const embedded = plan.product.paths.embedded
  return [
    TOOLCHAIN[plan.arch.name].openssl,
    'enable-fips',
    'shared',
    'no-tests',
    `--prefix=${embedded}`,
    `--openssldir=${embedded}/ssl`,
    '--libdir=lib',
    "-Wl,-rpath,'$$ORIGIN/../lib'",
  ]
}

// What the library leaves out, as nothing shipped uses it: HAProxy (built without USE_ENGINE, and
// none of these in its sources), the openssl command (fipsinstall; s_server and req in the tests).
// At run time only the fips and base providers are active (openssl.cnf): the default provider's
// non-FIPS algorithms are never reachable from the service. Each option here saves objects (README,
// "Output, cache and logs"). The library's own fips.so keeps its objects, functions (each of the
// same size) and strings with or without them; only where the linker places the strings and the
// debug information differ (no-rc2 changed EVP_CIPHER_CTX_ctrl, no-ocb dropped two objects: left
// in). A provider from another source is configured without these. no-makedepend: zig cc caches a
// compilation that writes no dependency file, so a rebuild of the same sources (a recipe edit
// changes the cache key) takes OpenSSL's objects from zig's cache.
const LIBRARY_LEAVES_OUT = [
  // Features: engines (HAProxy uses them only with USE_ENGINE), TLS compression, SRP, certificate
  // transparency, CMS, time stamps, CMP.
  'no-engine', 'no-comp', 'no-srp', 'no-ct', 'no-cms', 'no-ts', 'no-cmp',
  // Algorithms that are neither FIPS-approved nor in the FIPS provider.
  'no-idea', 'no-mdc2', 'no-rc4', 'no-bf', 'no-cast', 'no-seed', 'no-camellia', 'no-aria',
  'no-sm2', 'no-sm3', 'no-sm4', 'no-whirlpool', 'no-rmd160', 'no-md4', 'no-blake2', 'no-siphash',
  'no-makedepend',
]

// opensslSrc: the built OpenSSL source tree (its include/ and its shared libraries).
function haproxyMakeArgs(plan: BuildPlan, opensslSrc: string): string[] {
  return [
    'TARGET=linux-glibc',
    `CC=${ZIG} cc -target ${plan.target}`,
    'USE_OPENSSL=1',
    `SSL_INC=${opensslSrc}/include`,
    `SSL_LIB=${opensslSrc}`,
    // HAProxy 3.0 speaks the sd_notify protocol itself (no libsystemd): the unit can be Type=notify.
    'USE_SYSTEMD=1',
    // zig's glibc stubs have no libcrypt (only used for encrypted userlist passwords).
    'USE_LIBCRYPT=',
    // lld drops the __start/__stop init sections that HAProxy's initcalls rely on otherwise.
    'USE_OBSOLETE_LINKER=1',
    // HAProxy refuses to run ("invalid code detected") if signed overflow is not defined. PIE: the
    // network-facing binary gets full ASLR (zig cc does not default to it).
    'ARCH_FLAGS=-fwrapv -fno-strict-overflow -fPIE',
    "ADDLIB=-pie -Wl,-rpath,'$$ORIGIN/../lib'",
  ]
}

async function extract(tarball: string, dest: string): Promise<string> {
  rmSync(dest, { recursive: true, force: true })
  mkdirSync(dest, { recursive: true })
  await tar.x({ file: tarball, cwd: dest, strip: 1 })
  return dest
}

async function compilerVersion(plan: BuildPlan): Promise<string> {
  const zig = (await $({ quiet: true })`${ZIG} version`).stdout.trim()
  const clang = (await $({ quiet: true })`${ZIG} cc --version`).stdout.split('\n')[0].trim()
  return `zig ${zig} cc (${clang}) -target ${plan.target}`
}
