// The tool check every make target runs first (scripts/lib/tools.ts): a missing tool is named with
// its Debian package before any build step, and nothing is half-made in dist/.
import test from 'ava'
import { mkdtempSync, readdirSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { repoRoot } from '../scripts/lib/paths.ts'
import { MissingToolsError, allPackages, ensureTools, missingFor } from '../scripts/lib/tools.ts'
import { distSnapshot } from './helpers/dist.ts'

// A PATH with every command of this machine's PATH but `without`.
function pathWithout(without: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `path-without-${without}-`))
  const seen = new Set<string>()
  for (const d of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    let names: string[] = []
    try { names = readdirSync(d) } catch { continue }
    for (const name of names) {
      if (name === without || seen.has(name)) continue
      seen.add(name)
      symlinkSync(path.join(d, name), path.join(dir, name))
    }
  }
  return dir
}

test('make packages without rpmbuild on PATH: stops before any build step, names rpmbuild and its package, dist/ untouched', async (t) => {
  const before = distSnapshot()
  const r = await $({ nothrow: true, quiet: true, cwd: repoRoot, env: { ...process.env, PATH: pathWithout('rpmbuild') } })`make packages`
  t.not(r.exitCode, 0)
  t.regex(r.stderr, /error: make proxy, make packages needs rpmbuild \(Debian package rpm, which is installed\), not on PATH/)
  t.notRegex(r.stdout + r.stderr, /ENOENT|\[proxy\]|\[deb /, 'no build step ran')
  t.deepEqual(distSnapshot(), before, 'nothing in dist/ changed')
})

test('not root, packages missing: the list of tools with their packages, and the one command that installs them', async (t) => {
  const machine = { path: '/nonexistent', installed: async () => new Set<string>(), isRoot: false }
  const missing = await missingFor(['packages'], machine)
  t.is(missing.commands.rpmbuild, 'rpm')
  t.is(missing.commands['dpkg-deb'], 'dpkg')
  const err = await t.throwsAsync(ensureTools(['packages'], machine), { instanceOf: MissingToolsError })
  t.regex(err!.message, /^make packages needs .*rpmbuild \(Debian package rpm\).*, which this machine lacks\. Install them with:\n {2}sudo apt-get install -y --no-install-recommends .*\brpm\b.*\(or: sudo make deps\)$/s)
})

test('nothing missing: the check passes; make deps installs every target\'s packages', async (t) => {
  // A machine with every package: the check passes. Not this one as root, where a missing package
  // would be installed: a test never changes the machine it runs on.
  const complete = { path: process.env.PATH ?? '', installed: async (pkgs: string[]) => new Set(pkgs), isRoot: false }
  await t.notThrowsAsync(ensureTools(['packages', 'image', 'repos'], complete))
  const all = allPackages()
  for (const pkg of ['rpm', 'dpkg', 'docker.io', 'podman', 'qemu-user-static', 'libc6-arm64-cross', 'lintian']) t.true(all.includes(pkg), pkg)
})
