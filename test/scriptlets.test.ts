// The maintainer scripts for real: install, upgrade (with a modified live config that must survive)
// and removal of the .deb with dpkg in a Debian chroot. Both RPM flavours go through the same
// lifecycle with `rpm --root` (rpmRootScenario) in the matrix's rpm-root rows, which `make test` runs.
import test from 'ava'
import { copyFileSync, existsSync, readlinkSync } from 'node:fs'
import { packageVersion } from '../scripts/lib/packages.ts'
import { architecture, exampleConfig, liveConfig, loadProduct } from '../scripts/lib/product.ts'
import {
  NEXT_VERSION, buildNextPackages, checkInstalled, checkRemoved, checkUpgradeKeptConfig, chrootSh, createLiveConfig, debianChroot, inRoot,
} from './matrix/chroot-scenarios.ts'
import { distPackage } from './helpers/dist.ts'

const product = loadProduct()
const x86 = architecture(product, 'x86_64')
const debFormat = product.packages.find((p) => p.kind === 'deb')!
const nextPackages = buildNextPackages(product)

async function chroot(t: any): Promise<string> {
  const { root, remove } = await debianChroot()
  t.teardown(remove)
  return root
}

test('deb: install, upgrade with a modified live config, remove, purge (dpkg in a Debian chroot)', async (t) => {
  const root = await chroot(t)
  copyFileSync(distPackage('deb', x86.deb), inRoot(root, '/tmp/v1.deb'))
  copyFileSync((await nextPackages)('deb'), inRoot(root, '/tmp/v2.deb'))
  const sh = (cmd: string) => chrootSh(root, cmd)

  const install = await sh('dpkg -i /tmp/v1.deb')
  t.is(install.exitCode, 0, install.stdout + install.stderr)
  await checkInstalled(t, product, root, debFormat)
  const live = await createLiveConfig(product, root)

  const upgrade = await sh('dpkg -i /tmp/v2.deb')
  t.is(upgrade.exitCode, 0, upgrade.stdout + upgrade.stderr)
  t.is((await sh(`dpkg-query -W -f '\${Version}' ${product.name}`)).stdout, packageVersion(product, debFormat, NEXT_VERSION))
  await checkUpgradeKeptConfig(t, product, root, debFormat, live)

  const remove = await sh(`dpkg -r ${product.name}`)
  t.is(remove.exitCode, 0, remove.stdout + remove.stderr)
  await checkRemoved(t, product, root)
  t.true(existsSync(inRoot(root, exampleConfig(product))), 'conffiles stay until purge')
  t.is(readlinkSync(inRoot(root, `/etc/systemd/system/${product.name}.service`)), '/dev/null', 'masked on remove, as debhelper does')

  const purge = await sh(`dpkg -P ${product.name}`)
  t.is(purge.exitCode, 0, purge.stdout + purge.stderr)
  t.false(existsSync(inRoot(root, exampleConfig(product))), 'purge removes the example')
  t.true(existsSync(inRoot(root, liveConfig(product))), 'purge keeps the live config it did not create')
  t.false(existsSync(inRoot(root, `/etc/systemd/system/${product.name}.service`)), 'purge unmasks')
  t.false(existsSync(inRoot(root, product.paths.prefix)), `${product.paths.prefix} is gone`)
})

test('deb: an existing service user (the Agent\'s) is kept as it is', async (t) => {
  const root = await chroot(t)
  await chrootSh(root, `groupadd -g 4242 ${product.group} && useradd -u 4242 -g ${product.group} -d /opt/datadog-agent -s /bin/sh ${product.user}`)
  copyFileSync(distPackage('deb', x86.deb), inRoot(root, '/tmp/v1.deb'))
  t.is((await chrootSh(root, 'dpkg -i /tmp/v1.deb')).exitCode, 0)
  t.is((await chrootSh(root, `getent passwd ${product.user}`)).stdout.trim(), `${product.user}:x:4242:4242::/opt/datadog-agent:/bin/sh`)
})
