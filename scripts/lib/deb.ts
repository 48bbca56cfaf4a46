// .deb packager: DEBIAN/ control files next to the staged tree, then dpkg-deb.
import { createHash } from 'node:crypto'
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runLogged } from './exec.ts'
import type { PackageJob, Packager } from './packager.ts'
import { wrap } from './template.ts'

function control(job: PackageJob): string {
  const p = job.product
  // The embedded binaries need the product's glibc floor; every other dependency is the format's.
  const depends = [`libc6 (>= ${p.glibcFloor})`, ...job.format.depends]
  return [
    `Package: ${p.name}`,
    `Version: ${job.versions.deb}`,
    `Architecture: ${job.arch.deb}`,
    `Maintainer: ${p.maintainer}`,
    `Installed-Size: ${job.staged.installedSizeKiB}`,
    ...(job.format.preDepends.length ? [`Pre-Depends: ${job.format.preDepends.join(', ')}`] : []),
    `Depends: ${depends.join(', ')}`,
    'Section: net',
    'Priority: optional',
    `Homepage: ${p.homepage}`,
    `Description: ${p.summary}`,
    ...wrap(p.description, 72).map((l) => ` ${l}`),
    '',
  ].join('\n')
}

export const debPackager: Packager = {
  version: (job) => job.versions.deb,
  archName: (arch) => arch.deb,
  fileName: (job) => `${job.product.name}_${job.versions.deb}_${job.arch.deb}.deb`,
  inputs: { sources: ['scripts/lib/deb.ts', 'scripts/lib/template.ts'], toolVersion: ['dpkg-deb', '--version'] },

  async build(job) {
    const root = path.join(job.workDir, 'root')
    rmSync(root, { recursive: true, force: true })
    cpSync(job.staged.root, root, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true })
    const debian = path.join(root, 'DEBIAN')
    mkdirSync(debian)
    const files = job.staged.entries.filter((e) => e.type === 'file')
    const md5sums = files
      .filter((e) => !e.config)
      .map((e) => `${createHash('md5').update(readFileSync(path.join(root, e.path))).digest('hex')}  ${e.path.slice(1)}`)
    const controlFiles: Record<string, [string, number]> = {
      control: [control(job), 0o644],
      conffiles: [files.filter((e) => e.config).map((e) => `${e.path}\n`).join(''), 0o644],
      md5sums: [`${md5sums.join('\n')}\n`, 0o644],
      ...Object.fromEntries(Object.entries(job.staged.scripts).map(([name, text]) => [name, [text, 0o755] as [string, number]])),
    }
    for (const [name, [text, mode]] of Object.entries(controlFiles)) {
      writeFileSync(path.join(debian, name), text)
      chmodSync(path.join(debian, name), mode)
      utimesSync(path.join(debian, name), job.sourceDateEpoch, job.sourceDateEpoch)
    }
    utimesSync(debian, job.sourceDateEpoch, job.sourceDateEpoch)
    chmodSync(debian, 0o755)
    const out = path.join(job.outDir, debPackager.fileName(job))
    // control.tar.gz (Ubuntu 14.04's dpkg cannot read control.tar.xz) and data.tar.xz; never zstd.
    await runLogged(['dpkg-deb', '--root-owner-group', '-Zxz', '-z9', '--no-uniform-compression', '--build', root, out], {
      cwd: job.workDir,
      env: { ...process.env, SOURCE_DATE_EPOCH: String(job.sourceDateEpoch) },
      log: job.log,
    })
    return out
  },
}
