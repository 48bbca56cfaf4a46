// STAND-INS for RPM hosts, not RHEL or SUSE hosts: no RPM distribution's image or repository is
// reachable here, but Debian's dnf (4.14, the dnf of RHEL 8 and 9) and zypper (1.14, the zypper of
// SLES 15) are. A stand-in row is a Debian systemd container with one of them added, the
// /etc/os-release of a supported RPM distribution (so that the install script takes its dnf or
// zypper branch, as on that distribution) and a FIXTURE base RPM in the rpm database
// (test/fixtures/rpm-base.ts). What it proves: the install script's RPM path, the repositories'
// signatures and metadata, and the packages' dependencies and scriptlets, through a real package
// manager. What it cannot: the distribution's own libraries, SELinux, its systemd and its CA tools.
import { importImage } from '../harness/containers.ts'
import { cacheDir } from '../../scripts/lib/paths.ts'
import type { PackageFormat, Product } from '../../scripts/lib/product.ts'
import { TEST_ROOT_PACKAGES, debianRootfsTarball } from '../harness/rootfs.ts'
import { buildRpmBase } from '../fixtures/rpm-base.ts'
import type { InstallerHost } from '../helpers/installer-host.ts'
import type { StandIn } from './definition.ts'
import { PLATFORMS, type Platform } from './platforms.ts'

interface StandInHost {
  // Added to the Debian image: the package manager, and rpm's command line for the queries.
  debianPackages: string[]
  family: 'rhel' | 'suse'
  // What the host claims to be.
  release: string
  osRelease: string
}

const STAND_INS: Record<StandIn, StandInHost> = {
  dnf: {
    debianPackages: ['dnf', 'rpm'],
    family: 'rhel',
    release: '9',
    osRelease: 'NAME="Rocky Linux"\nVERSION="9.5 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\nPLATFORM_ID="platform:el9"\nPRETTY_NAME="Rocky Linux 9.5 (Blue Onyx)"\nCPE_NAME="cpe:/o:rocky:rocky:9::baseos"\n',
  },
  zypper: {
    debianPackages: ['zypper', 'rpm'],
    family: 'suse',
    release: '15',
    osRelease: 'NAME="SLES"\nVERSION="15-SP6"\nVERSION_ID="15.6"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP6"\nID="sles"\nID_LIKE="suse"\nCPE_NAME="cpe:/o:suse:sles:15:sp6"\n',
  },
}

// What results.md says a stand-in row ran on.
export function standInDescription(suite: string, standIn: StandIn): string {
  const s = STAND_INS[standIn]
  const name = /PRETTY_NAME="([^"]+)"/.exec(s.osRelease)![1]
  return `STAND-IN, not a ${s.family === 'rhel' ? 'RHEL' : 'SUSE'} host: Debian ${suite} container with Debian's ${standIn}, the os-release of ${name} and a FIXTURE base RPM`
}

export async function standInImage(suite: string, standIn: StandIn): Promise<string> {
  const tarball = await debianRootfsTarball(suite, cacheDir(), [...TEST_ROOT_PACKAGES, ...STAND_INS[standIn].debianPackages])
  return importImage(tarball, `dd-fips-debian-${suite}-${standIn}`)
}

// The format's queries and package manager; the CA store is Debian's, which the FIXTURE base
// RPM's CA bundle path points at.
export function standInPlatform(format: string): Platform {
  return { ...PLATFORMS[format as keyof typeof PLATFORMS], trustCa: PLATFORMS.deb.trustCa }
}

// Turns the container into the RPM host it stands in for: its os-release, and the FIXTURE base RPM
// built for the glibc it really has, its CA bundle path pointing at Debian's (the deb format's).
export async function becomeRpmHost(h: InstallerHost, standIn: StandIn, product: Product, format: PackageFormat): Promise<void> {
  const hostBundle = product.packages.find((f) => f.id === 'deb')!.caBundle
  const s = STAND_INS[standIn]
  const libc = (await h.sh('getconf GNU_LIBC_VERSION')).out.trim().split(' ')[1]
  if (!libc) throw new Error(`stand-in ${standIn}: getconf GNU_LIBC_VERSION printed nothing: ${h.lastErr()}`)
  const rpm = await buildRpmBase({ family: s.family, release: s.release, glibc: libc, caBundle: format.caBundle, hostBundle })
  // Debian's rpm keeps its database in ~/.rpmdb, so as not to pass for the system's: here it is
  // the system's, where RHEL and SUSE keep it.
  const installed = await h.container.exec([
    'mkdir -p /etc/rpm && echo "%_dbpath /var/lib/rpm" > /etc/rpm/macros.dbpath',
    'base64 -d > /tmp/fixture-rpm-base.rpm && rpm -i /tmp/fixture-rpm-base.rpm && rm /tmp/fixture-rpm-base.rpm',
  ].join(' && '), { input: rpm.toString('base64') })
  if (installed.exitCode !== 0) throw new Error(`stand-in ${standIn}: installing the FIXTURE base RPM failed: ${installed.stdout}${installed.stderr}`)
  const written = await h.container.exec('rm -f /etc/os-release && cat > /etc/os-release', { input: s.osRelease })
  if (written.exitCode !== 0) throw new Error(`stand-in ${standIn}: writing /etc/os-release failed: ${written.stderr}`)
}
