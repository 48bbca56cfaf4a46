// The external tools each make target runs, with the Debian package of each: checked before the
// target's first step, so that a missing one is named with its package (never `spawn X ENOENT`
// halfway through a build). As root, the missing packages are installed from the machine's
// configured apt sources; otherwise the check stops with the one command that installs them.
// `make deps` installs every package of every target from this same table.
import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'

export type Target = 'check' | 'proxy' | 'packages' | 'image' | 'repos' | 'test' | 'matrix' | 'bench'

// command -> Debian package
const BUILD: Record<string, string> = { make: 'make', perl: 'perl', tar: 'tar', gzip: 'gzip', readelf: 'binutils', curl: 'curl', git: 'git' }
const PACKAGING: Record<string, string> = { 'dpkg-deb': 'dpkg', rpmbuild: 'rpm', gpg: 'gnupg' }
const CONTAINERS: Record<string, string> = {
  podman: 'podman', runc: 'runc', dockerd: 'docker.io', docker: 'docker.io', debootstrap: 'debootstrap',
  ss: 'iproute2', unshare: 'util-linux', nsenter: 'util-linux', pkill: 'procps', 'apt-ftparchive': 'apt-utils', createrepo_c: 'createrepo-c',
}

interface Needs {
  commands: Record<string, string>
  // Packages without a command of their own (libraries, data): checked with dpkg-query.
  packages?: string[]
}

const NEEDS: Record<Target, Needs> = {
  // The build-free tier: the install script's functions (rpm's queries, every awk), its shellcheck,
  // the signing key's agent (gpg).
  check: { commands: { rpm: 'rpm', mawk: 'mawk', gawk: 'gawk', busybox: 'busybox', shellcheck: 'shellcheck', 'dpkg-deb': 'dpkg', gpg: 'gnupg' } },
  // The arm64 tree's self-test runs under qemu with the cross libc.
  proxy: { commands: { ...BUILD, 'qemu-aarch64-static': 'qemu-user-static' }, packages: ['ca-certificates', 'libc6-arm64-cross', 'libgcc-s1-arm64-cross'] },
  packages: { commands: { ...BUILD, ...PACKAGING } },
  image: { commands: { ...BUILD, 'dpkg-deb': 'dpkg' } },
  repos: { commands: { ...PACKAGING, 'apt-ftparchive': 'apt-utils', createrepo_c: 'createrepo-c' } },
  test: {
    commands: {
      ...BUILD, ...PACKAGING, ...CONTAINERS, 'qemu-aarch64-static': 'qemu-user-static', lintian: 'lintian', rpmlint: 'rpmlint',
      shellcheck: 'shellcheck', 'systemd-analyze': 'systemd', gawk: 'gawk', busybox: 'busybox', rpm2cpio: 'rpm', cpio: 'cpio', wrk: 'wrk',
      // podman kube play's pod infra container runs it (test/image-pod-shapes.ts); Debian's podman 4.3 does not depend on it.
      catatonit: 'catatonit',
      // gitlab-ci-local copies the checkout for each job with it (test/gitlab-pipeline.test.ts).
      rsync: 'rsync',
    },
    packages: ['libc6-arm64-cross', 'libgcc-s1-arm64-cross'],
  },
  matrix: { commands: { ...BUILD, ...PACKAGING, ...CONTAINERS } },
  bench: { commands: { ...BUILD, ...PACKAGING, unshare: 'util-linux', taskset: 'util-linux', wrk: 'wrk', ss: 'iproute2' } },
}

export const TARGETS = Object.keys(NEEDS) as Target[]

export class MissingToolsError extends Error {}

// Every package any target needs: what `make deps` installs.
export function allPackages(): string[] {
  return [...new Set(TARGETS.flatMap((t) => [...Object.values(NEEDS[t].commands), ...(NEEDS[t].packages ?? [])]))].sort()
}

function onPath(command: string, searchPath = process.env.PATH ?? ''): boolean {
  return searchPath.split(':').filter(Boolean).some((dir) => {
    try {
      accessSync(path.join(dir, command), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

async function installedPackages(pkgs: string[]): Promise<Set<string>> {
  if (!pkgs.length) return new Set()
  const r = await $({ quiet: true, nothrow: true })`dpkg-query -W -f=${'${Package} ${db:Status-Abbrev}\n'} ${pkgs}`
  return new Set(r.stdout.split('\n').filter((l) => / ii/.test(l)).map((l) => l.split(' ')[0]))
}

export interface Missing {
  // command -> package, for commands not on PATH
  commands: Record<string, string>
  // packages (with or without a command) that are not installed
  packages: string[]
}

// The machine as the check sees it (tests give another one).
export interface Machine {
  path: string
  installed(pkgs: string[]): Promise<Set<string>>
  isRoot: boolean
}

const thisMachine = (): Machine => ({ path: process.env.PATH ?? '', installed: installedPackages, isRoot: process.getuid?.() === 0 })

// What the targets need that the machine lacks.
export async function missingFor(targets: Target[], machine = thisMachine()): Promise<Missing> {
  const commands: Record<string, string> = {}
  const extra = new Set<string>()
  for (const t of targets) {
    for (const [command, pkg] of Object.entries(NEEDS[t].commands)) if (!onPath(command, machine.path)) commands[command] = pkg
    for (const pkg of NEEDS[t].packages ?? []) extra.add(pkg)
  }
  const wanted = [...new Set([...Object.values(commands), ...extra])]
  const installed = await machine.installed(wanted)
  return { commands, packages: wanted.filter((p) => !installed.has(p)).sort() }
}

const describe = (m: Missing) => [
  ...Object.entries(m.commands).map(([command, pkg]) => `${command} (Debian package ${pkg})`),
  ...m.packages.filter((p) => !Object.values(m.commands).includes(p)).map((p) => `the Debian package ${p}`),
].join(', ')

const installCommand = (pkgs: string[]) => `sudo apt-get install -y --no-install-recommends ${pkgs.join(' ')}   (or: sudo make deps)`

// Checks the targets' tools; as root, installs the missing packages first. Throws MissingToolsError
// with what is missing and how to get it.
export async function ensureTools(targets: Target[], machine = thisMachine(), log: (line: string) => void = console.error): Promise<void> {
  let missing = await missingFor(targets, machine)
  const what = `make ${targets.join(', make ')}`
  if (!Object.keys(missing.commands).length && !missing.packages.length) return
  // A command whose package is installed but which is not on PATH: installing cannot help.
  const offPath = Object.entries(missing.commands).filter(([, pkg]) => !missing.packages.includes(pkg))
  if (offPath.length) {
    throw new MissingToolsError(`${what} needs ${offPath.map(([c, p]) => `${c} (Debian package ${p}, which is installed)`).join(', ')}, not on PATH (${machine.path}): put its directory back on PATH`)
  }
  if (!machine.isRoot) {
    throw new MissingToolsError(`${what} needs ${describe(missing)}, which this machine lacks. Install them with:\n  ${installCommand(missing.packages)}`)
  }
  log(`[tools] ${what}: installing ${missing.packages.join(' ')} (missing: ${describe(missing)})`)
  await $({ quiet: true })`apt-get update -qq`
  const r = await $({ quiet: true, nothrow: true, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })`apt-get install -y -qq --no-install-recommends ${missing.packages}`
  if (r.exitCode !== 0) throw new MissingToolsError(`apt-get install ${missing.packages.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`)
  missing = await missingFor(targets, machine)
  if (Object.keys(missing.commands).length || missing.packages.length) throw new MissingToolsError(`${what} still lacks ${describe(missing)} after apt-get install`)
}
