// Package lifecycle scenarios in a Debian chroot: install, upgrade with a modified live config,
// removal. Used by the scriptlet tests (dpkg and rpm --root) and by the matrix's rpm-root rows.
import { chmodSync, chownSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { buildPackages } from '../../scripts/lib/packages.ts'
import { buildDir, cacheDir } from '../../scripts/lib/paths.ts'
import { type PackageFormat, type Product, configDirCaBundle, exampleConfig, fipsinstallPath, liveConfig } from '../../scripts/lib/product.ts'
import { debianRootfsTarball, unpackRootfs } from '../harness/rootfs.ts'
import { upstreamVersion } from '../../scripts/lib/version.ts'
import type { Check } from './checks.ts'
import { ROW_ARCH } from './row-inputs.ts'
import { caBundleLinkTarget } from '../helpers/vendor-dialect.ts'

export const NEXT_VERSION = '1.1.1-rc.1'

// Packages of a newer version, for upgrades: the same proxy trees, the product's version bumped.
// ROW_ARCH only: the rows that upgrade run on this machine's architecture.
export async function buildNextPackages(product: Product): Promise<(format: string) => string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'next-packages-'))
  const next = { ...product, version: NEXT_VERSION, architectures: product.architectures.filter((a) => a.name === ROW_ARCH) }
  const built = await buildPackages({ product: next, outDir: dir, sourceDateEpoch: 1_700_000_000, workDir: path.join(dir, 'work') })
  return (format: string) => path.join(dir, built.find((p) => p.format === format)!.file)
}

// A fresh Debian root to install into; remove() deletes it.
export async function debianChroot(suite = 'bookworm'): Promise<{ root: string; remove: () => void }> {
  const root = await unpackRootfs(await debianRootfsTarball(suite, cacheDir()), path.join(buildDir, 'chroots'))
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) }
}

export const inRoot = (root: string, p: string) => path.join(root, p)
export const chrootSh = (root: string, cmd: string) => $({ nothrow: true, quiet: true })`chroot ${root} sh -c ${cmd}`

function owner(root: string, file: string): string {
  const st = statSync(inRoot(root, file))
  const name = (db: string, id: number) => readFileSync(inRoot(root, db), 'utf8').split('\n').find((l) => l.split(':')[2] === String(id))?.split(':')[0]
  return `${name('/etc/passwd', st.uid)}:${name('/etc/group', st.gid)} ${(st.mode & 0o777).toString(8)}`
}

// As the install script does: the live config from the example, owned by the service user, 640.
export async function createLiveConfig(p: Product, root: string): Promise<string> {
  const live = inRoot(root, liveConfig(p))
  writeFileSync(live, `${readFileSync(inRoot(root, exampleConfig(p)), 'utf8')}\n# operator's change: must survive upgrades\n`)
  const ids = (await chrootSh(root, `id -u ${p.user}; id -g ${p.group}`)).stdout.trim().split('\n').map(Number)
  chownSync(live, ids[0], ids[1])
  chmodSync(live, 0o640)
  return readFileSync(live, 'utf8')
}

// The vendor's configs' ca-certificates.crt: a link, owned by the package, to the family's bundle.
function caBundleLink(root: string, p: Product): string {
  const link = inRoot(root, configDirCaBundle(p))
  return lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() ? caBundleLinkTarget(p, readlinkSync(link)) : 'no link'
}

export async function checkInstalled(t: Check, p: Product, root: string, format: PackageFormat): Promise<void> {
  t.regex((await chrootSh(root, `getent passwd ${p.user}`)).stdout, new RegExp(`^${p.user}:`), 'the service user exists')
  t.regex((await chrootSh(root, `getent group ${p.group}`)).stdout, new RegExp(`^${p.group}:`), 'the service group exists')
  t.true(existsSync(inRoot(root, `${p.paths.embedded}/ssl/fipsmodule.cnf`)), 'fipsmodule.cnf generated on this host')
  t.is((await chrootSh(root, fipsinstallPath(p))).exitCode, 0, 'fipsinstall verifies the generated module config')
  t.is(owner(root, exampleConfig(p)), 'root:root 644', 'the example config is root:root 644')
  t.true(!existsSync(inRoot(root, liveConfig(p))), 'no live config from the package')
  // The link points into the unit directory as that system's systemctl names it (/lib or /usr/lib).
  const link = inRoot(root, `/etc/systemd/system/multi-user.target.wants/${p.name}.service`)
  // lstat, not exists: the absolute link target only resolves inside the root.
  const wants = lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(link) : ''
  t.true(wants.endsWith(`/systemd/system/${p.name}.service`) && existsSync(inRoot(root, wants)), `the unit is enabled (${wants})`)
  t.true(existsSync(inRoot(root, `${format.unitDir}/${p.name}.service`)), `the unit is in ${format.unitDir}`)
  t.is(caBundleLink(root, p), format.caBundle, `${configDirCaBundle(p)} links to the family's bundle`)
}

export async function checkUpgradeKeptConfig(t: Check, p: Product, root: string, format: PackageFormat, before: string): Promise<void> {
  const live = liveConfig(p)
  t.is(caBundleLink(root, p), format.caBundle, `${configDirCaBundle(p)} kept on upgrade`)
  t.is(readFileSync(inRoot(root, live), 'utf8'), before, 'the modified live config is untouched')
  t.is(owner(root, live), `${p.user}:${p.group} 640`, 'the live config keeps its owner and mode')
  t.true(!existsSync(inRoot(root, `${live}.dpkg-dist`)) && !existsSync(inRoot(root, `${live}.rpmnew`)), 'no .dpkg-dist or .rpmnew')
  t.is((await chrootSh(root, fipsinstallPath(p))).exitCode, 0, 'fipsmodule.cnf matches the upgraded module')
}

export async function checkRemoved(t: Check, p: Product, root: string): Promise<void> {
  for (const f of ['sbin/haproxy', 'lib/ossl-modules/fips.so', 'ssl/fipsmodule.cnf']) t.true(!existsSync(inRoot(root, `${p.paths.embedded}/${f}`)), `${f} removed`)
  t.true(existsSync(inRoot(root, liveConfig(p))), 'the live config is the operator\'s: kept')
  t.is(caBundleLink(root, p), 'no link', `${configDirCaBundle(p)} removed with the package`)
  t.is((await chrootSh(root, `getent passwd ${p.user}`)).exitCode, 0, 'the user is never deleted')
  t.true(!existsSync(inRoot(root, `/etc/systemd/system/multi-user.target.wants/${p.name}.service`)), 'no longer enabled')
}

// rpm --root: install, upgrade with a modified live config, erase.
export async function rpmRootScenario(t: Check, p: Product, format: PackageFormat, v1: string, v2: string, root: string): Promise<void> {
  const rpm = (args: string) => $({ nothrow: true, quiet: true })`sh -c ${`rpm --root ${root} --dbpath /var/lib/rpm ${args}`}`
  const install = await rpm(`-i --nodeps ${v1}`)
  t.is(install.exitCode, 0, `rpm -i: ${install.stderr}`)
  await checkInstalled(t, p, root, format)
  t.is((await rpm(`-V --nodeps ${p.name}`)).stdout.trim(), '', 'rpm -V: files as packaged')
  if (format.families.includes('suse')) t.true(lstatSync(inRoot(root, `/usr/sbin/rc${p.name}`)).isSymbolicLink(), 'SUSE rc link')
  const live = await createLiveConfig(p, root)

  const upgrade = await rpm(`-U --nodeps ${v2}`)
  t.is(upgrade.exitCode, 0, `rpm -U: ${upgrade.stderr}`)
  t.regex((await rpm(`-q ${p.name}`)).stdout, new RegExp(`${p.name}-${upstreamVersion(NEXT_VERSION)}-`), 'upgraded to the next version')
  await checkUpgradeKeptConfig(t, p, root, format, live)

  const erase = await rpm(`-e ${p.name}`)
  t.is(erase.exitCode, 0, `rpm -e: ${erase.stderr}`)
  await checkRemoved(t, p, root)
  t.true(!existsSync(inRoot(root, exampleConfig(p))), 'erase removes the example')
  t.true(!existsSync(inRoot(root, p.paths.prefix)), `${p.paths.prefix} is gone`)
}
