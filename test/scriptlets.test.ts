// The maintainer scripts for real: install, upgrade (with a modified live config that must survive)
// and removal, of the .deb with dpkg in a Debian chroot and of both RPM flavours with
// `rpm --root` in a Debian chroot (scriptlets, owners and modes; not a real RHEL or SUSE host).
import test from 'ava'
import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { buildPackages } from '../scripts/lib/packages.ts'
import { buildDir, cacheDir } from '../scripts/lib/paths.ts'
import { type PackageFormat, exampleConfig, fipsinstallPath, liveConfig, loadProduct } from '../scripts/lib/product.ts'
import { debianRootfsTarball, unpackRootfs } from '../scripts/lib/rootfs.ts'
import { distPackage } from './helpers/dist.ts'

const product = loadProduct()
const E = product.paths.embedded
const NEXT_VERSION = '1.1.1-rc.1'
const x86 = product.architectures.find((a) => a.name === 'x86_64')!

// Packages of a newer version, for the upgrade: same trees, the product's version bumped.
const nextPackages = (async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'next-packages-'))
  const next = { ...product, version: NEXT_VERSION, architectures: [x86] }
  const built = await buildPackages({ product: next, outDir: dir, sourceDateEpoch: 1_700_000_000, workDir: path.join(dir, 'work') })
  return (format: string) => path.join(dir, built.find((p) => p.format === format)!.file)
})()

async function chrootWith(t: any): Promise<string> {
  const tarball = await debianRootfsTarball('bookworm', cacheDir())
  const root = await unpackRootfs(tarball, path.join(buildDir, 'chroots'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  return root
}

const inRoot = (root: string, p: string) => path.join(root, p)
const sh = (root: string, cmd: string) => $({ nothrow: true, quiet: true })`chroot ${root} sh -c ${cmd}`

function owner(root: string, file: string): string {
  const st = statSync(inRoot(root, file))
  const name = (db: string, id: number) => readFileSync(inRoot(root, db), 'utf8').split('\n').find((l) => l.split(':')[2] === String(id))?.split(':')[0]
  return `${name('/etc/passwd', st.uid)}:${name('/etc/group', st.gid)} ${(st.mode & 0o777).toString(8)}`
}

// As the install script does: the live config from the example, owned by the service user, 640.
async function createLiveConfig(root: string): Promise<string> {
  const live = inRoot(root, liveConfig(product))
  writeFileSync(live, `${readFileSync(inRoot(root, exampleConfig(product)), 'utf8')}\n# operator's change: must survive upgrades\n`)
  const ids = (await sh(root, `id -u ${product.user}; id -g ${product.group}`)).stdout.trim().split('\n').map(Number)
  chownSync(live, ids[0], ids[1])
  chmodSync(live, 0o640)
  return readFileSync(live, 'utf8')
}

async function assertInstalled(t: any, root: string, unitDir: string) {
  t.regex((await sh(root, `getent passwd ${product.user}`)).stdout, new RegExp(`^${product.user}:`), 'the service user exists')
  t.regex((await sh(root, `getent group ${product.group}`)).stdout, new RegExp(`^${product.group}:`))
  t.true(existsSync(inRoot(root, `${E}/ssl/fipsmodule.cnf`)), 'fipsmodule.cnf generated on this host')
  const verify = await sh(root, `${fipsinstallPath(product)}`)
  t.is(verify.exitCode, 0, `fipsinstall verifies the generated module config: ${verify.stderr}`)
  t.is(owner(root, exampleConfig(product)), 'root:root 644')
  t.false(existsSync(inRoot(root, liveConfig(product))), 'no live config from the package')
  // The link points into the unit directory as that system's systemctl names it (/lib or /usr/lib).
  const wants = readlinkSync(inRoot(root, `/etc/systemd/system/multi-user.target.wants/${product.name}.service`))
  t.true(wants.endsWith(`/systemd/system/${product.name}.service`) && existsSync(inRoot(root, wants)), `the unit is enabled (${wants})`)
  t.true(existsSync(inRoot(root, `${unitDir}/${product.name}.service`)))
}

async function assertUpgradeKeptConfig(t: any, root: string, before: string) {
  const live = liveConfig(product)
  t.is(readFileSync(inRoot(root, live), 'utf8'), before, 'the modified live config is untouched')
  t.is(owner(root, live), `${product.user}:${product.group} 640`)
  t.false(existsSync(inRoot(root, `${live}.dpkg-dist`)) || existsSync(inRoot(root, `${live}.rpmnew`)))
  t.is((await sh(root, fipsinstallPath(product))).exitCode, 0, 'fipsmodule.cnf matches the upgraded module')
}

async function assertRemoved(t: any, root: string) {
  for (const f of ['sbin/haproxy', 'lib/ossl-modules/fips.so', 'ssl/fipsmodule.cnf']) t.false(existsSync(inRoot(root, `${E}/${f}`)), f)
  t.true(existsSync(inRoot(root, liveConfig(product))), 'the live config is the operator\'s: kept')
  t.is((await sh(root, `getent passwd ${product.user}`)).exitCode, 0, 'the user is never deleted')
  t.false(existsSync(inRoot(root, `/etc/systemd/system/multi-user.target.wants/${product.name}.service`)), 'no longer enabled')
}

test('deb: install, upgrade with a modified live config, remove, purge (dpkg in a Debian chroot)', async (t) => {
  const root = await chrootWith(t)
  const v1 = distPackage('deb', x86.deb)
  const v2 = (await nextPackages)('deb')
  copyFileSync(v1, inRoot(root, '/tmp/v1.deb'))
  copyFileSync(v2, inRoot(root, '/tmp/v2.deb'))
  const unitDir = product.packages.find((p) => p.kind === 'deb')!.unitDir

  const install = await sh(root, 'dpkg -i /tmp/v1.deb')
  t.is(install.exitCode, 0, install.stdout + install.stderr)
  await assertInstalled(t, root, unitDir)
  const live = await createLiveConfig(root)

  const upgrade = await sh(root, 'dpkg -i /tmp/v2.deb')
  t.is(upgrade.exitCode, 0, upgrade.stdout + upgrade.stderr)
  t.is((await sh(root, `dpkg-query -W -f '\${Version}' ${product.name}`)).stdout, `${NEXT_VERSION.replace('-', '~')}-${product.release.iteration}`)
  await assertUpgradeKeptConfig(t, root, live)

  const remove = await sh(root, `dpkg -r ${product.name}`)
  t.is(remove.exitCode, 0, remove.stdout + remove.stderr)
  await assertRemoved(t, root)
  t.true(existsSync(inRoot(root, exampleConfig(product))), 'conffiles stay until purge')
  t.is(readlinkSync(inRoot(root, `/etc/systemd/system/${product.name}.service`)), '/dev/null', 'masked on remove, as debhelper does')

  const purge = await sh(root, `dpkg -P ${product.name}`)
  t.is(purge.exitCode, 0, purge.stdout + purge.stderr)
  t.false(existsSync(inRoot(root, exampleConfig(product))), 'purge removes the example')
  t.true(existsSync(inRoot(root, liveConfig(product))), 'purge keeps the live config it did not create')
  t.false(existsSync(inRoot(root, `/etc/systemd/system/${product.name}.service`)), 'purge unmasks')
  t.false(existsSync(inRoot(root, product.paths.prefix)), `${product.paths.prefix} is gone`)
})

test('deb: an existing service user (the Agent\'s) is kept as it is', async (t) => {
  const root = await chrootWith(t)
  await sh(root, `groupadd -g 4242 ${product.group} && useradd -u 4242 -g ${product.group} -d /opt/datadog-agent -s /bin/sh ${product.user}`)
  copyFileSync(distPackage('deb', x86.deb), inRoot(root, '/tmp/v1.deb'))
  t.is((await sh(root, 'dpkg -i /tmp/v1.deb')).exitCode, 0)
  t.is((await sh(root, `getent passwd ${product.user}`)).stdout.trim(), `${product.user}:x:4242:4242::/opt/datadog-agent:/bin/sh`)
})

for (const format of product.packages.filter((p): p is PackageFormat => p.kind === 'rpm')) {
  test(`${format.id}: install, upgrade with a modified live config, erase (rpm --root in a chroot)`, async (t) => {
    const root = await chrootWith(t)
    const rpm = (args: string) => $({ nothrow: true, quiet: true })`sh -c ${`rpm --root ${root} --dbpath /var/lib/rpm ${args}`}`
    const v1 = distPackage(format.id, x86.rpm)
    const v2 = (await nextPackages)(format.id)

    const install = await rpm(`-i --nodeps ${v1}`)
    t.is(install.exitCode, 0, install.stdout + install.stderr)
    await assertInstalled(t, root, format.unitDir)
    const verify = await rpm(`-V --nodeps ${product.name}`)
    t.is(verify.stdout.trim(), '', 'rpm -V: files as packaged')
    if (format.families.includes('suse')) t.is(lstatSync(inRoot(root, `/usr/sbin/rc${product.name}`)).isSymbolicLink(), true)
    const live = await createLiveConfig(root)

    const upgrade = await rpm(`-U --nodeps ${v2}`)
    t.is(upgrade.exitCode, 0, upgrade.stdout + upgrade.stderr)
    t.regex((await rpm(`-q ${product.name}`)).stdout, new RegExp(`${product.name}-${NEXT_VERSION.replace('-', '~')}-`))
    await assertUpgradeKeptConfig(t, root, live)

    const erase = await rpm(`-e ${product.name}`)
    t.is(erase.exitCode, 0, erase.stdout + erase.stderr)
    await assertRemoved(t, root)
    t.false(existsSync(inRoot(root, exampleConfig(product))), 'erase removes the example')
    t.false(existsSync(inRoot(root, product.paths.prefix)), `${product.paths.prefix} is gone`)
  })
}
