// make packages: every package format x architecture from one product definition, with
// SHA256SUMS, a JSON manifest and the CycloneDX SBOM beside them, and a summary table.
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'
import { debPackager } from './deb.ts'
import { Progress } from './exec.ts'
import type { PackageJob, Packager } from './packager.ts'
import { buildDir, cacheDir, repoRoot } from './paths.ts'
import type { PackageFormat, Product } from './product.ts'
import { type BuildReport, proxyOutDir } from './proxy-build.ts'
import { rpmPackager } from './rpm.ts'
import { type SbomPackage, sbomJson } from './sbom.ts'
import { loadSources, sha256File } from './sources.ts'
import { stage } from './staging.ts'
import { packageVersions } from './version.ts'

const PACKAGERS: Record<PackageFormat['kind'], Packager> = { deb: debPackager, rpm: rpmPackager }

// A product version as the format's package shows it (1.2.0~rc.1-1, 1.2.0~rc.1-1.suse).
export function packageVersion(product: Product, format: PackageFormat, version = product.version): string {
  return PACKAGERS[format.kind].version({ versions: packageVersions(version, product.release), format })
}

export interface BuiltPackage {
  file: string
  format: string
  name: string
  version: string
  arch: string
  size: number
  sha256: string
}

export interface PackagesOptions {
  product: Product
  outDir: string
  sourceDateEpoch: number
  // Where each architecture's proxy tree is (default: build/proxy/<arch>).
  proxyTree?: (arch: string) => string
  // Scratch space and the log of the packaging tools (default: build/packages).
  workDir?: string
  // Packages by the digest of their inputs (default: <cache>/packages).
  packageCache?: string
}

// The digest of everything a package is made from: the staged tree (each entry's path, type, mode,
// conffile flag and content or link target), the maintainer scripts, the job (product, format,
// architecture, versions, build report, SOURCE_DATE_EPOCH) and the packager's code and tool version.
async function packageDigest(packager: Packager, job: PackageJob): Promise<string> {
  const hash = createHash('sha256')
  for (const e of job.staged.entries) {
    const abs = path.join(job.staged.root, e.path)
    const content = e.type === 'file' ? createHash('sha256').update(readFileSync(abs)).digest('hex') : e.type === 'symlink' ? readlinkSync(abs) : ''
    hash.update(`${e.path}\0${e.type}\0${e.mode}\0${e.config}\0${content}\n`)
  }
  for (const source of packager.inputs.sources) hash.update(readFileSync(path.join(repoRoot, source)))
  hash.update((await $({ quiet: true })`${packager.inputs.toolVersion}`).stdout)
  const { product, format, arch, versions, report, sourceDateEpoch } = job
  hash.update(JSON.stringify({ product, format, arch, versions, report, sourceDateEpoch, scripts: job.staged.scripts }))
  return hash.digest('hex')
}

// A warm build takes the package from the cache under the digest of its inputs: the bytes the
// packager made from the same inputs (packages are reproducible: the tests build twice and compare).
async function packOrReuse(packager: Packager, job: PackageJob, cache: string, progress: Progress): Promise<string> {
  const name = packager.fileName(job)
  const digest = await progress.step('digest of the inputs', () => packageDigest(packager, job))
  const cached = path.join(cache, digest, name)
  const out = path.join(job.outDir, name)
  if (existsSync(cached)) {
    await progress.step(`reuse ${name} (cache ${digest.slice(0, 12)})`, () => copyFileSync(cached, out))
    return out
  }
  const file = await progress.step(`pack ${name}`, () => packager.build(job))
  mkdirSync(path.dirname(cached), { recursive: true })
  copyFileSync(file, `${cached}.tmp-${process.pid}`)
  renameSync(`${cached}.tmp-${process.pid}`, cached)
  return file
}

// SOURCE_DATE_EPOCH from the environment, else the time of the last commit.
export async function sourceDateEpoch(): Promise<number> {
  if (process.env.SOURCE_DATE_EPOCH) {
    const v = Number(process.env.SOURCE_DATE_EPOCH)
    if (!Number.isInteger(v) || v < 0) throw new Error(`SOURCE_DATE_EPOCH='${process.env.SOURCE_DATE_EPOCH}' is not a Unix time`)
    return v
  }
  const r = await $({ nothrow: true, quiet: true, cwd: repoRoot })`git log -1 --format=%ct`
  if (r.exitCode !== 0 || !r.stdout.trim()) throw new Error('no SOURCE_DATE_EPOCH and no git commit to take it from: set SOURCE_DATE_EPOCH')
  return Number(r.stdout.trim())
}

function readReport(tree: string): BuildReport {
  return JSON.parse(readFileSync(path.join(tree, 'build-report.json'), 'utf8'))
}

export async function buildPackages(opts: PackagesOptions): Promise<BuiltPackage[]> {
  const { product } = opts
  const versions = packageVersions(product.version, product.release)
  const workRoot = opts.workDir ?? path.join(buildDir, 'packages')
  mkdirSync(workRoot, { recursive: true })
  mkdirSync(opts.outDir, { recursive: true })
  // One log per lane: the packaging tools' output, each command with its own.
  for (const arch of product.architectures) writeFileSync(path.join(workRoot, `packages-${arch.name}.log`), `packages ${product.name} ${product.version} ${arch.name}\n`)
  // One lane per architecture, side by side (compression is most of the time, one CPU each); the
  // results keep the product definition's order.
  const lanes = await Promise.all(product.architectures.map(async (arch) => {
    const tree = (opts.proxyTree ?? proxyOutDir)(arch.name)
    const report = readReport(tree)
    const lane: (BuiltPackage & SbomPackage)[] = []
    for (const format of product.packages) {
      const packager = PACKAGERS[format.kind]
      const workDir = path.join(workRoot, `${format.id}-${arch.name}`)
      const progress = new Progress(`${format.id} ${arch.name}`)
      const job = { product, format, arch, versions, report, workDir, outDir: opts.outDir, sourceDateEpoch: opts.sourceDateEpoch, log: path.join(workRoot, `packages-${arch.name}.log`) }
      const staged = await progress.step('stage', () =>
        stage({ ...job, proxyTree: tree }, path.join(workDir, 'staging')))
      const file = await packOrReuse(packager, { ...job, staged }, opts.packageCache ?? path.join(cacheDir(), 'packages'), progress)
      lane.push({
        file: path.basename(file),
        format: format.id,
        name: product.name,
        version: packager.version(job),
        arch: packager.archName(arch),
        size: statSync(file).size,
        sha256: await sha256File(file),
        report,
        tree,
      })
      rmSync(workDir, { recursive: true, force: true })
    }
    return lane
  }))
  const inSbom = lanes.flat()
  const built: BuiltPackage[] = inSbom.map(({ report: _r, tree: _t, ...pkg }) => pkg)
  const reports: Record<string, BuildReport> = Object.fromEntries(product.architectures.map((a, i) => [a.name, lanes[i][0].report]))
  writeIndex(opts.outDir, product, built, reports)
  writeFileSync(path.join(opts.outDir, SBOM_FILE), sbomJson({ product, packages: inSbom, sources: loadSources().sources, sourceDateEpoch: opts.sourceDateEpoch }))
  return built
}

// The release's CycloneDX SBOM, beside the packages (scripts/lib/sbom.ts).
export const SBOM_FILE = 'sbom.cdx.json'

function writeIndex(outDir: string, product: Product, packages: BuiltPackage[], reports: Record<string, BuildReport>): void {
  writeFileSync(path.join(outDir, 'SHA256SUMS'), packages.map((p) => `${p.sha256}  ${p.file}\n`).join(''))
  const manifest = { product: product.name, version: product.version, packages, proxy_builds: reports }
  writeFileSync(path.join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
}

export interface Manifest {
  product: string
  version: string
  packages: BuiltPackage[]
  proxy_builds: Record<string, BuildReport>
}

export function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'manifest.json')
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    throw new Error(`no readable ${file}: run 'make packages' first`)
  }
}

export function summaryTable(packages: BuiltPackage[]): string {
  const rows = [['package', 'format', 'arch', 'version', 'size', 'sha256'], ...packages.map((p) => [p.file, p.format, p.arch, p.version, `${(p.size / 1048576).toFixed(2)} MiB`, p.sha256.slice(0, 16)])]
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n')
}
