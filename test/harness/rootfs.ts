// Debian root filesystems built with debootstrap from the machine's configured mirror, cached as
// tarballs: the chroots of the scriptlet tests and the base of the matrix's container images.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'
import { configuredDebianMirrors } from '../../scripts/lib/sources.ts'

// What every test root needs beyond minbase: the package's dependencies, systemd (with
// deb-systemd-helper) so that enabling and starting can be checked, curl and gnupg for the install
// script, busybox for an HTTP server that serves the test repositories inside the container.
export const TEST_ROOT_PACKAGES = ['ca-certificates', 'systemd', 'systemd-sysv', 'dbus', 'curl', 'iproute2', 'procps', 'gnupg', 'busybox']

export async function debianRootfsTarball(suite: string, cacheDir: string, include = TEST_ROOT_PACKAGES): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify({ suite, include })).digest('hex').slice(0, 12)
  const tarball = path.join(cacheDir, 'rootfs', `debian-${suite}-${key}.tar`)
  if (existsSync(tarball)) return tarball
  const mirror = configuredDebianMirrors()[0]
  if (!mirror) throw new Error('no Debian mirror in the apt sources: cannot debootstrap a root filesystem')
  mkdirSync(path.dirname(tarball), { recursive: true })
  const dir = mkdtempSync(path.join(path.dirname(tarball), `${suite}-`))
  try {
    // A bare minbase has no --include: debootstrap refuses an empty one.
    const includes = include.length ? [`--include=${include.join(',')}`] : []
    await $({ quiet: true })`debootstrap --variant=minbase ${includes} ${suite} ${dir} ${mirror.uri}`
    // Leave no apt cache or machine identity in the image.
    await $({ quiet: true })`sh -c ${`rm -rf ${dir}/var/cache/apt/archives/*.deb ${dir}/var/lib/apt/lists/* && : > ${dir}/etc/machine-id`}`
    // Test processes may build the same root at once: each writes its own file, the rename is atomic.
    const partial = `${tarball}.tmp-${process.pid}`
    await $({ quiet: true })`tar -C ${dir} -cf ${partial} .`
    renameSync(partial, tarball)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return tarball
}

// A fresh, writable copy of the root filesystem; the caller removes it.
export async function unpackRootfs(tarball: string, parent: string): Promise<string> {
  mkdirSync(parent, { recursive: true })
  const dir = mkdtempSync(path.join(parent, 'root-'))
  await $({ quiet: true })`tar -C ${dir} -xpf ${tarball}`
  return dir
}
