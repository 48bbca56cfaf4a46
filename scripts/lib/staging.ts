// Staging: the file tree of one package (format x architecture) as it is installed, assembled
// from the proxy tree and the files rendered from the product definition, plus the maintainer
// scripts. Every packager packs a staged tree; none decides what goes in it.
import { chmodSync, cpSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { renderHaproxyConfig, renderRunHaproxy } from './haproxy-config.ts'
import { maintainerScripts } from './maintainer-scripts.ts'
import { linkShellLibrary } from './shell-library.ts'
import { DATADOG_YAML_AWK, PACKAGING } from './paths.ts'
import { type Architecture, type PackageFormat, type Product, configDirCaBundle, datadogYamlAwkPath, docDir, exampleConfig, fipsinstallPath, runHaproxyPath, selfCheckPath, templateValues } from './product.ts'
import type { BuildReport } from './proxy-build.ts'
import { packagingTemplate as template, render } from './template.ts'
import type { PackageVersions } from './version.ts'

export interface StagedEntry {
  // Absolute install path (e.g. /opt/datadog-fips-proxy/embedded/sbin/haproxy).
  path: string
  type: 'file' | 'dir' | 'symlink'
  mode: number
  // A configuration file under /etc (dpkg conffile, rpm %config).
  config: boolean
}

export interface Staged {
  root: string
  entries: StagedEntry[]
  scripts: Record<string, string>
  installedSizeKiB: number
}

export interface StageInput {
  product: Product
  format: PackageFormat
  arch: Architecture
  versions: PackageVersions
  proxyTree: string
  report: BuildReport
  sourceDateEpoch: number
}

export function stage(input: StageInput, root: string): Staged {
  const { product: p, format } = input
  const values = { ...templateValues(p), ENV_FILE: format.envFile }
  const entries = new Map<string, StagedEntry>()
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root, { recursive: true })

  const dirsOf = (file: string) => {
    for (let d = path.dirname(file); d !== '/'; d = path.dirname(d)) {
      if (!entries.has(d)) entries.set(d, { path: d, type: 'dir', mode: 0o755, config: false })
    }
  }
  const add = (dest: string, content: string | Buffer, mode = 0o644) => {
    const abs = path.join(root, dest)
    mkdirSync(path.dirname(abs), { recursive: true })
    writeFileSync(abs, content)
    chmodSync(abs, mode)
    entries.set(dest, { path: dest, type: 'file', mode, config: dest.startsWith('/etc/') })
    dirsOf(dest)
  }

  // The proxy tree, as built. Shared libraries follow the family's rule: not executable on Debian
  // (policy 8.1), executable on RHEL and SUSE (rpmlint's shared-library-not-executable).
  cpSync(path.join(input.proxyTree, 'opt'), path.join(root, 'opt'), { recursive: true, verbatimSymlinks: true })
  for (const rel of readdirSync(path.join(root, 'opt'), { recursive: true, encoding: 'utf8' })) {
    const dest = `/opt/${rel}`
    const st = lstatSync(path.join(root, dest))
    if (st.isFile() && /\.so(\.\d+)*$/.test(dest)) chmodSync(path.join(root, dest), format.kind === 'rpm' ? 0o755 : 0o644)
    const mode = lstatSync(path.join(root, dest)).mode & 0o7777
    entries.set(dest, { path: dest, type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file', mode, config: false })
    dirsOf(dest)
  }

  add(fipsinstallPath(p), render(template('fipsinstall.sh'), values, 'fipsinstall.sh'), 0o755)
  add(runHaproxyPath(p), renderRunHaproxy(p), 0o755)
  add(selfCheckPath(p), linkShellLibrary(p, template('datadog-fips-proxy-check.sh'), {
    ...values,
    SERVICES: p.ports.services.map((s) => `${s.offset}:${s.name}:${s.kind}`).join(' '),
    AGENT_TLS_PORTS: p.ports.services.filter((s) => s.agentTls).map((s) => `${s.offset}|${s.product}|${s.agentTls}`).join('\n'),
  }, 'datadog-fips-proxy-check.sh'), 0o755)
  add(datadogYamlAwkPath(p), readFileSync(DATADOG_YAML_AWK))
  add(exampleConfig(p), renderHaproxyConfig(p, { caBundle: format.caBundle, flavour: `${format.id} package, CA bundle ${format.caBundle}` }))
  add(`${format.unitDir}/${p.name}.service`, render(template(`${p.name}.service`), values, 'unit'))

  const doc = docDir(p)
  add(`${doc}/copyright`, renderCopyright(p, input.report))

  if (format.kind === 'deb') {
    // Ubuntu 14.04 boots with upstart.
    add(`/etc/init/${p.name}.conf`, render(template(`${p.name}.upstart`), values, 'upstart job'))
    add(`${doc}/changelog.Debian.gz`, gzipSync(debianChangelog(input), { level: 9 }))
    add(`/usr/share/lintian/overrides/${p.name}`, render(readFileSync(path.join(PACKAGING, 'lintian', 'overrides'), 'utf8'), values, 'lintian overrides'))
  }
  // A symlink is never a conffile: the package replaces it on upgrade and removes it on removal.
  const link = (dest: string, target: string) => {
    mkdirSync(path.join(root, path.dirname(dest)), { recursive: true })
    symlinkSync(target, path.join(root, dest))
    entries.set(dest, { path: dest, type: 'symlink', mode: 0o777, config: false })
    dirsOf(dest)
  }
  // The vendor's configs verify the intake against ca-certificates.crt next to them: the family's
  // bundle, which the distro keeps up to date. Relative, as Debian policy wants a link within one
  // top-level directory.
  link(configDirCaBundle(p), path.relative(path.dirname(configDirCaBundle(p)), format.caBundle))
  // SUSE convention: rc<service> for the service command.
  if (format.families.includes('suse')) link(`/usr/sbin/rc${p.name}`, '/sbin/service')

  // Reproducible archives: every mtime is SOURCE_DATE_EPOCH.
  const sorted = [...entries.values()].sort((a, b) => a.path.localeCompare(b.path))
  for (const e of sorted.filter((e) => e.type !== 'symlink')) utimesSync(path.join(root, e.path), input.sourceDateEpoch, input.sourceDateEpoch)
  const bytes = sorted.filter((e) => e.type === 'file').reduce((sum, e) => sum + lstatSync(path.join(root, e.path)).size, 0)
  return { root, entries: sorted, scripts: maintainerScripts(p, format.kind), installedSizeKiB: Math.ceil(bytes / 1024) }
}

// The copyright file of the proxy tree's components (the packages' and the image's).
export function renderCopyright(p: Product, report: BuildReport): string {
  return render(template('copyright'), {
    ...templateValues(p),
    EMBEDDED_REL: p.paths.embedded.slice(1),
    HAPROXY_VERSION: report.components.haproxy.version,
    OPENSSL_VERSION: report.components.openssl.version,
    FIPS_PROVIDER_VERSION: report.fips_provider.version,
  }, 'copyright')
}

export function changelogEntry(product: Product, report: BuildReport): string {
  const c = report.components
  return `Release ${product.version}: HAProxy ${c.haproxy.version}, OpenSSL ${c.openssl.version}, FIPS provider ${report.fips_provider.version}` +
    (report.fips_provider.validated ? ' (validated, CMVP #4282).' : ' (NOT a validated provider).')
}

function debianChangelog(input: StageInput): string {
  const date = new Date(input.sourceDateEpoch * 1000).toUTCString().replace('GMT', '+0000')
  return `${input.product.name} (${input.versions.deb}) stable; urgency=medium\n\n  * ${changelogEntry(input.product, input.report)}\n\n -- ${input.product.maintainer}  ${date}\n`
}
