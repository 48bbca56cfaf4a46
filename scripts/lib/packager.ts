// One interface, one module per package format (as nfpm does): a packager turns a staged tree
// into a package file with the format's own tool (dpkg-deb, rpmbuild).
import type { Architecture, PackageFormat, Product } from './product.ts'
import type { BuildReport } from './proxy-build.ts'
import type { Staged } from './staging.ts'
import type { PackageVersions } from './version.ts'

export interface PackageJob {
  product: Product
  format: PackageFormat
  arch: Architecture
  versions: PackageVersions
  report: BuildReport
  staged: Staged
  // Scratch space for the packager, and where the package file goes.
  workDir: string
  outDir: string
  sourceDateEpoch: number
  log: string
}

export interface Packager {
  // The version string as the format shows it (1.2.0~rc.1-1, 1.2.0~rc.1-1.suse).
  version(job: Pick<PackageJob, 'versions' | 'format'>): string
  // The architecture as the format names it (amd64, x86_64).
  archName(arch: Architecture): string
  fileName(job: Pick<PackageJob, 'product' | 'versions' | 'format' | 'arch'>): string
  build(job: PackageJob): Promise<string>
  // What the output depends on besides the job (the package cache's key): the packager's source
  // files (repository paths) and the command that prints its tool's version.
  inputs: { sources: string[]; toolVersion: string[] }
}
