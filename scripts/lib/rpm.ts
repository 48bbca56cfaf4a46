// .rpm packager (RHEL family and SUSE flavours): a spec rendered from the product definition,
// whose %install copies the staged tree, then rpmbuild --target <arch>.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runLogged } from './exec.ts'
import type { PackageJob, Packager } from './packager.ts'
import { docDir, templateValues } from './product.ts'
import { changelogEntry, type StagedEntry } from './staging.ts'
import { packagingTemplate, render, wrap } from './template.ts'

const release = (job: Pick<PackageJob, 'versions' | 'format'>) =>
  job.format.families.includes('suse') ? job.versions.suseRelease : job.versions.rpmRelease

function fileLine(e: StagedEntry): string {
  // Symlinks carry no mode of their own in rpm.
  const attr = e.type === 'symlink' ? '%attr(-,root,root)' : `%attr(${e.mode.toString(8).padStart(4, '0')},root,root)`
  return `${e.type === 'dir' ? '%dir ' : ''}${e.config ? '%config ' : ''}${attr} "${e.path}"`
}

// Directories the package owns: its own, never shared system ones like /usr/share/doc.
function owned(job: PackageJob, e: StagedEntry): boolean {
  if (e.type !== 'dir') return true
  const p = job.product
  return [p.paths.prefix, p.paths.configDir, docDir(p)].some((own) => e.path === own || e.path.startsWith(`${own}/`))
}

function spec(job: PackageJob): string {
  const { product: p, format } = job
  const header = [
    ...(format.rpmGroup ? [`Group: ${format.rpmGroup}`] : []),
    ...format.preDepends.map((d) => `Requires(pre): ${d}`),
    // The embedded binaries need the product's glibc floor (AutoReqProv is off).
    `Requires: glibc >= ${p.glibcFloor}`,
    ...format.depends.map((d) => `Requires: ${d}`),
  ]
  const date = new Date(job.sourceDateEpoch * 1000).toUTCString().split(' ')
  const scripts = job.staged.scripts
  return render(packagingTemplate('package.spec'), {
    ...templateValues(p),
    FORMAT: format.id,
    RPM_VERSION: job.versions.rpmVersion,
    RPM_RELEASE: release(job),
    SUMMARY: p.summary,
    LICENSE: p.license,
    HEADER_EXTRA: header.join('\n'),
    DESCRIPTION: wrap(p.description, 79).join('\n'),
    STAGING: job.staged.root,
    PRE: scripts.pre,
    POST: scripts.post,
    PREUN: scripts.preun,
    POSTUN: scripts.postun,
    FILES: job.staged.entries.filter((e) => owned(job, e)).map(fileLine).join('\n'),
    CHANGELOG_DATE: `${date[0].replace(',', '')} ${date[2]} ${date[1]} ${date[3]}`,
    CHANGELOG_ENTRY: changelogEntry(p, job.report),
  }, 'package.spec')
}

export const rpmPackager: Packager = {
  version: (job) => `${job.versions.rpmVersion}-${release(job)}`,
  archName: (arch) => arch.rpm,
  fileName: (job) => `${job.product.name}-${job.versions.rpmVersion}-${release(job)}.${job.arch.rpm}.rpm`,
  inputs: { sources: ['scripts/lib/rpm.ts', 'scripts/lib/template.ts', 'packaging/templates/package.spec'], toolVersion: ['rpmbuild', '--version'] },

  async build(job) {
    const top = path.join(job.workDir, 'rpmbuild')
    rmSync(top, { recursive: true, force: true })
    for (const d of ['SPECS', 'RPMS', 'BUILD', 'BUILDROOT', 'tmp']) mkdirSync(path.join(top, d), { recursive: true })
    const specFile = path.join(top, 'SPECS', `${job.product.name}.spec`)
    writeFileSync(specFile, spec(job))
    await runLogged(
      ['rpmbuild', '-bb', '--target', job.arch.rpm, '--define', `_topdir ${top}`, '--define', `_tmppath ${top}/tmp`,
        '--define', `_rpmdir ${job.outDir}`, '--dbpath', path.join(top, 'rpmdb'), specFile],
      { cwd: job.workDir, env: { ...process.env, SOURCE_DATE_EPOCH: String(job.sourceDateEpoch) }, log: job.log },
    )
    return path.join(job.outDir, rpmPackager.fileName(job))
  },
}
