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
import { Progress, formatDuration, runLogged } from './exec.ts'
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
  const key = cacheKey({ arch: arch.name, target, prefix: product.paths.embedded, sources: [openssl, haproxy, provider].map((s) => s.sha256) })
  return { product, arch, target, openssl, haproxy, provider, providerValidated, key }
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
  const cached = path.join(cacheDir, 'proxy', `${plan.arch.name}-${plan.key}`)
  const fromCache = existsSync(path.join(cached, 'build-report.json'))
  if (!fromCache) await buildIntoCache(plan, cacheDir, cached, progress)
  await progress.step(fromCache ? `cache hit ${plan.key}, copy tree` : 'copy tree', () => {
    rmSync(outDir, { recursive: true, force: true })
    cpSync(cached, outDir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true })
  })
  const report: BuildReport = JSON.parse(readFileSync(path.join(outDir, 'build-report.json'), 'utf8'))
  if (!plan.providerValidated) progress.note(`WARNING: ${report.fips_provider.statement}`)
  return { outDir, report, fromCache }
}

async function buildIntoCache(plan: BuildPlan, cacheDir: string, cached: string, progress: Progress): Promise<void> {
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
  const jobs = `-j${os.availableParallelism()}`
  const sysroot = path.join(work, 'sysroot')
  const embeddedIn = (root: string) => path.join(root, plan.product.paths.embedded)

  const unpack = async (spec: SourceSpec) => {
    const fetched = await progress.step(`${spec.id}: fetch ${spec.version}`, () => fetchSource(spec, { cacheDir }))
    return progress.step(`${spec.id}: unpack`, () => extract(fetched.path, path.join(work, spec.id)))
  }

  const opensslSrc = await unpack(plan.openssl)
  await progress.step('openssl: configure', () => run(['perl', './Configure', ...opensslConfigureArgs(plan)], opensslSrc))
  await progress.step('openssl: make build_sw', () => run(['make', jobs, 'build_sw'], opensslSrc))
  await progress.step('openssl: install into sysroot', () => run(['make', 'install_sw', `DESTDIR=${sysroot}`], opensslSrc))

  // The FIPS provider may come from another (validated) release than the library.
  let fipsModule = path.join(opensslSrc, 'providers', 'fips.so')
  if (plan.provider.id !== plan.openssl.id) {
    const providerSrc = await unpack(plan.provider)
    await progress.step('fips provider: configure', () => run(['perl', './Configure', ...opensslConfigureArgs(plan)], providerSrc))
    // The generated headers (opensslv.h, ...) first: the fips.so target alone does not make them
    // (the release path failed so until the two-source build ran: make proxy-two-source).
    await progress.step('fips provider: make build_generated', () => run(['make', jobs, 'build_generated'], providerSrc))
    await progress.step('fips provider: make fips.so', () => run(['make', jobs, 'providers/fips.so'], providerSrc))
    fipsModule = path.join(providerSrc, 'providers', 'fips.so')
  }

  const haproxySrc = await unpack(plan.haproxy)
  const haproxyArgs = haproxyMakeArgs(plan, embeddedIn(sysroot))
  await progress.step('haproxy: make', () => run(['make', jobs, ...haproxyArgs], haproxySrc))

  const staging = `${cached}.tmp-${process.pid}`
  rmSync(staging, { recursive: true, force: true })
  const tree = embeddedIn(staging)
  await progress.step('assemble tree (strip, openssl.cnf)', async () => {
    const install = async (from: string, to: string, mode: number, strip = false) => {
      mkdirSync(path.dirname(path.join(tree, to)), { recursive: true })
      if (strip) await run([ZIG, 'objcopy', '--strip-all', from, path.join(tree, to)], work)
      else copyFileSync(from, path.join(tree, to))
      chmodSync(path.join(tree, to), mode)
    }
    await install(path.join(haproxySrc, 'haproxy'), 'sbin/haproxy', 0o755, true)
    await install(path.join(embeddedIn(sysroot), 'bin', 'openssl'), 'bin/openssl', 0o755, true)
    for (const lib of ['libssl.so.3', 'libcrypto.so.3']) await install(path.join(embeddedIn(sysroot), 'lib', lib), `lib/${lib}`, 0o644, true)
    // fips.so is shipped exactly as built: the validated module must not be altered after its
    // build (fipsinstall on the host then records the HMAC of this very file).
    await install(fipsModule, 'lib/ossl-modules/fips.so', 0o644)
    await install(path.join(haproxySrc, 'LICENSE'), 'share/licenses/haproxy/LICENSE', 0o644)
    await install(path.join(opensslSrc, 'LICENSE.txt'), 'share/licenses/openssl/LICENSE.txt', 0o644)
    mkdirSync(path.join(tree, 'ssl'), { recursive: true })
    const cnf = render(readFileSync(OPENSSL_CNF_TEMPLATE, 'utf8'), { NAME: plan.product.name, EMBEDDED: plan.product.paths.embedded }, 'openssl.cnf')
    writeFileSync(path.join(tree, 'ssl', 'openssl.cnf'), cnf, { mode: 0o644 })
  })

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
    built_at: new Date().toISOString(),
    build_seconds: Math.round((Date.now() - started) / 1000),
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
    haproxy_build_options: haproxyArgs.filter((a) => a.startsWith('USE_') || a.startsWith('TARGET=')),
  }
  writeFileSync(path.join(staging, 'build-report.json'), `${JSON.stringify(report, null, 2)}\n`)
  rmSync(cached, { recursive: true, force: true })
  renameSync(staging, cached)
  rmSync(work, { recursive: true, force: true })
  progress.note(`built in ${formatDuration(Date.now() - started)}`)
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

// $ORIGIN-relative run paths: the binaries find the embedded libssl/libcrypto wherever the tree
// is (installed under /opt, or unpacked in build/ for the tests), never the system's.
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

function haproxyMakeArgs(plan: BuildPlan, sslRoot: string): string[] {
  return [
    'TARGET=linux-glibc',
    `CC=${ZIG} cc -target ${plan.target}`,
    'USE_OPENSSL=1',
    `SSL_INC=${sslRoot}/include`,
    `SSL_LIB=${sslRoot}/lib`,
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
