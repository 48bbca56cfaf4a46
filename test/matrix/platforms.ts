// What differs between the package formats on a matrix host: the package manager and its
// queries, how a CA enters the system trust store, what the install script writes for its
// repository, and what a distribution's own image lacks before the checks can run there. The
// checks themselves are one set (runner.ts), parameterised by the row's format through this.
import path from 'node:path'
import type { PackageFormat, Product } from '../../scripts/lib/product.ts'

export type FormatId = 'deb' | 'rpm-rhel' | 'rpm-suse'

export interface Platform {
  // How the checks name the package manager.
  manager: string
  // Shell printing the installed version as dpkg shows it ([epoch:]version-release), or nothing.
  version(pkg: string): string
  // Shell printing the package that owns a file; fails if no package does.
  owner(file: string): string
  reinstall(pkg: string): string
  remove(pkg: string): string
  // Shell printing the packages an interrupted transaction left: dpkg's audit (half-installed or
  // unconfigured), or a package the RPM database holds twice. Nothing when there are none.
  installedTwice: string
  // Shell adding a PEM CA file to the system trust store (which regenerates the format's ca_bundle).
  trustCa(file: string): string
  // What the install script writes for its repository (beside the Agent's and the proxy's files).
  watched(p: Product): string[]
  // Shell printing the installed packages; its output changes on any install, upgrade or removal
  // (rpm's database files change on mere queries, so they cannot be watched as files).
  packageState: string
  // Preparing a distribution's image (with network): refresh the package lists, install, and
  // leave the image as a host whose distribution repositories are unreachable, since the test
  // containers run with --network none.
  prepare: { start?: string; install(pkgs: string): string; end: string }
  // RPM formats: what the package manager's output says when it refuses a repository whose
  // metadata was altered after signing, and a package altered in a signed repository.
  refusals?: { metadata: RegExp; rpm: RegExp }
}

// dnf where there is one, else yum (CentOS 7, Amazon Linux 2), as the install script picks.
const PICK_YUM = 'pm=$(command -v dnf || command -v yum)'
const YUM = `${PICK_YUM} && "$pm"`
// rpm's query format for dpkg's version display: the epoch only when there is one.
const RPM_VERSION = "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n"
const RPM_STATE = "rpm -qa --qf '%{NAME} %{VERSION}-%{RELEASE} %{INSTALLTIME}\\n' | sort"
// Both rpm families query the same way (rpm -q prints "not installed" on stdout).
const RPM_QUERIES: Pick<Platform, 'version' | 'owner' | 'installedTwice'> = {
  version: (pkg) => `rpm -q --qf '${RPM_VERSION}' ${pkg} 2>/dev/null | grep -v 'not installed' || true`,
  owner: (file) => `rpm -qf --qf '%{NAME}\\n' ${file}`,
  installedTwice: "rpm -qa --qf '%{NAME}\\n' | sort | uniq -d",
}

export const PLATFORMS: Record<FormatId, Platform> = {
  deb: {
    manager: 'apt-get',
    version: (pkg) => `dpkg-query -W -f '\${db:Status-Abbrev} \${Version}\\n' ${pkg} 2>/dev/null | awk '$1 == "ii" { print $2 }'`,
    owner: (file) => `o=$(dpkg-query -S ${file}) && echo "\${o%%:*}"`,
    reinstall: (pkg) => `apt-get install -y --reinstall ${pkg}`,
    remove: (pkg) => `apt-get purge -y ${pkg}`,
    installedTwice: 'dpkg --audit',
    trustCa: (file) => `cp ${file} /usr/local/share/ca-certificates/fixture-intake.crt && update-ca-certificates >/dev/null`,
    watched: (p) => ['/etc/apt', path.dirname(p.repository.aptKeyring), '/var/lib/dpkg/status'],
    packageState: "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n'",
    prepare: {
      start: 'apt-get update',
      install: (pkgs) => `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs}`,
      // Images made for containers may carry a policy-rc.d that forbids starting services: a real
      // host has none, and the package's own restart on upgrade is one of the things checked.
      end: 'apt-get clean && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d',
    },
  },
  'rpm-rhel': {
    manager: 'yum/dnf',
    ...RPM_QUERIES,
    reinstall: (pkg) => `${YUM} -y reinstall ${pkg}`,
    remove: (pkg) => `${YUM} -y remove ${pkg}`,
    trustCa: (file) => `cp ${file} /etc/pki/ca-trust/source/anchors/fixture-intake.crt && update-ca-trust extract`,
    // dnf: "repomd.xml GPG signature verification error", "GPG check FAILED"; yum 3: "repomd.xml
    // signature could not be verified", "... does not verify".
    refusals: { metadata: /repomd\.xml (GPG )?signature/, rpm: /GPG check FAILED|does not verify/ },
    watched: () => ['/etc/yum.repos.d', '/etc/pki/rpm-gpg'],
    packageState: RPM_STATE,
    prepare: {
      start: PICK_YUM,
      install: (pkgs) => `"$pm" -y install ${pkgs}`,
      // The distribution's repositories are put aside: yum and dnf fail on an unreachable one.
      end: `"$pm" clean all && mkdir -p /etc/yum.repos.d.distro && for f in /etc/yum.repos.d/*.repo; do if [ -e "$f" ]; then mv "$f" /etc/yum.repos.d.distro/; fi; done`,
    },
  },
  'rpm-suse': {
    manager: 'zypper',
    ...RPM_QUERIES,
    reinstall: (pkg) => `zypper --non-interactive install --force ${pkg}`,
    remove: (pkg) => `zypper --non-interactive remove ${pkg}`,
    trustCa: (file) => `cp ${file} /etc/pki/trust/anchors/fixture-intake.crt && update-ca-certificates >/dev/null`,
    // zypper's own word on the metadata; rpm -K's on the package (the install script verifies it).
    refusals: { metadata: /Signature verification failed for file 'repomd\.xml'/, rpm: /NOT OK/ },
    watched: () => ['/etc/zypp/repos.d', '/etc/pki/rpm-gpg'],
    packageState: RPM_STATE,
    prepare: {
      start: 'zypper --non-interactive refresh',
      install: (pkgs) => `zypper --non-interactive install --no-recommends ${pkgs}`,
      // zypper would try (and fail) to refresh the distribution's repositories without network.
      end: 'zypper --non-interactive clean --all && zypper --non-interactive modifyrepo --all --disable',
    },
  },
}

// The platform of a package format of product.yaml; an id without one is a harness to write.
export function platform(format: string): Platform {
  if (!(format in PLATFORMS)) throw new Error(`the test harness has no platform for package format '${format}' of product.yaml (test/matrix/platforms.ts): add one`)
  return PLATFORMS[format as FormatId]
}

// The HTTP server that serves the test repositories inside the container: busybox httpd where
// the distribution's busybox has it, else python3 (RHEL and SUSE ship no busybox in their base).
const BUSYBOX_HTTPD = 'busybox --list 2>/dev/null | grep -qx httpd'
export const REPO_SERVER = {
  has: `${BUSYBOX_HTTPD} || command -v python3`,
  // Sets "$@" to the server command for port $1, serving the current directory in the foreground.
  command: (port: number) => `if ${BUSYBOX_HTTPD}; then set -- busybox httpd -f -p 127.0.0.1:${port}; else set -- python3 -m http.server --bind 127.0.0.1 ${port}; fi`,
}

// What the checks run, by the shell test that shows it is there and the package providing it in
// each format: systemd as PID 1, curl (the one-liner), gpg (the script checks the key), the CA
// tools (the relay check trusts the FIXTURE intake), ss (ports), procps (as the debootstrap rows
// have it: rows differ by distribution only), setsid (the FIXTURE intake and the repository server
// run detached), awk and find, and the repository server.
const NEEDS: { test: string; packages: Record<FormatId, string> }[] = [
  { test: '[ -x /sbin/init ]', packages: { deb: 'systemd-sysv', 'rpm-rhel': 'systemd', 'rpm-suse': 'systemd-sysvinit' } },
  { test: 'command -v curl', packages: { deb: 'curl', 'rpm-rhel': 'curl', 'rpm-suse': 'curl' } },
  { test: 'command -v gpg', packages: { deb: 'gnupg', 'rpm-rhel': 'gnupg2', 'rpm-suse': 'gpg2' } },
  { test: 'command -v update-ca-certificates || command -v update-ca-trust', packages: { deb: 'ca-certificates', 'rpm-rhel': 'ca-certificates', 'rpm-suse': 'ca-certificates' } },
  { test: 'command -v ss', packages: { deb: 'iproute2', 'rpm-rhel': 'iproute', 'rpm-suse': 'iproute2' } },
  { test: 'command -v pkill', packages: { deb: 'procps', 'rpm-rhel': 'procps-ng', 'rpm-suse': 'procps' } },
  { test: 'command -v setsid', packages: { deb: 'util-linux', 'rpm-rhel': 'util-linux', 'rpm-suse': 'util-linux' } },
  { test: 'command -v awk', packages: { deb: 'mawk', 'rpm-rhel': 'gawk', 'rpm-suse': 'gawk' } },
  { test: 'command -v find', packages: { deb: 'findutils', 'rpm-rhel': 'findutils', 'rpm-suse': 'findutils' } },
  { test: REPO_SERVER.has, packages: { deb: 'busybox', 'rpm-rhel': 'python3', 'rpm-suse': 'python3' } },
]

// The POSIX sh script that turns a distribution's image into a matrix host. Only what is missing
// is installed (installing curl over Rocky 9's curl-minimal would conflict), plus the package's
// own dependencies, which a real host's repositories would provide at install time. It fails,
// naming them, if things are still missing afterwards. The missing packages are "$@".
export function prepareScript(format: PackageFormat): string {
  const pf = platform(format.id)
  const missing = ['set --', ...NEEDS.map((n) => `{ ${n.test}; } >/dev/null 2>&1 || set -- "$@" ${n.packages[format.id as FormatId]}`)]
  return [
    'set -e',
    ...missing,
    ...(pf.prepare.start ? [pf.prepare.start] : []),
    pf.prepare.install(`${[...format.depends, ...format.preDepends].join(' ')} "$@"`),
    // A distribution whose busybox lacks httpd gets python3 instead.
    `{ ${REPO_SERVER.has}; } >/dev/null 2>&1 || { ${pf.prepare.install('python3')}; }`,
    ...missing,
    'if [ $# -gt 0 ]; then echo "still missing after the install: $*" >&2; exit 1; fi',
    pf.prepare.end,
    '',
  ].join('\n')
}
