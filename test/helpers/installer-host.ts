// A Debian host for the install script: a systemd container (podman, or docker when a daemon
// answers) with the test repositories served on its loopback by busybox httpd. The repositories
// hold the packages of dist/ and the FIXTURE Agent package, signed with the key the script trusts.
import { copyFileSync, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { importImage, startSystemd, type Container } from '../../scripts/lib/containers.ts'
import { cacheDir, distDir } from '../../scripts/lib/paths.ts'
import { loadProduct } from '../../scripts/lib/product.ts'
import { buildRepos } from '../../scripts/lib/repo.ts'
import { debianRootfsTarball } from '../../scripts/lib/rootfs.ts'
import { signingKey } from '../../scripts/lib/signing.ts'
import { buildFixtureAgent } from '../fixtures/datadog-agent/fixture-agent.ts'
import { manifest } from './dist.ts'

export const REPO_PORT = 8080
export const REPO_URL = `http://127.0.0.1:${REPO_PORT}`
export const SCRIPT = 'install_script_agent7.sh'

// The one-liner's environment in FIPS mode, as the documentation gives it.
export const TEST_API_KEY = '0123456789abcdef0123456789abcdef'
export const fipsInstallEnv = (p: { site: string }) => ({ DD_API_KEY: TEST_API_KEY, DD_SITE: p.site, DD_FIPS_MODE: '1' })

let repoPromise: Promise<string> | undefined

// The served tree: the repositories of dist/ plus the install script, as a release publishes them.
export function testRepository(): Promise<string> {
  repoPromise ??= (async () => {
    const files = (format: string) => manifest().packages.filter((p) => p.format === format).map((p) => path.join(distDir, p.file))
    return servedTree({ deb: files('deb'), 'rpm-rhel': files('rpm-rhel'), 'rpm-suse': files('rpm-suse') })
  })()
  return repoPromise
}

// Signed repositories of the given packages and the FIXTURE Agent, with the install script.
export async function servedTree(packages: Record<'deb' | 'rpm-rhel' | 'rpm-suse', string[]>): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'test-repo-'))
  const fixture = await buildFixtureAgent(path.join(dir, 'fixture'))
  const served = path.join(dir, 'served')
  await buildRepos({
    product: loadProduct(), key: await signingKey(), agentMajor: 7, outDir: served,
    debs: [...packages.deb, fixture.deb],
    rpms: { rhel: [...packages['rpm-rhel'], fixture.rpm], suse: [...packages['rpm-suse'], fixture.rpm] },
    log: path.join(dir, 'repos.log'),
  })
  copyFileSync(path.join(distDir, SCRIPT), path.join(served, SCRIPT))
  return served
}

export interface InstallerHost {
  container: Container
  sh(cmd: string, env?: Record<string, string>): Promise<{ code: number; out: string }>
  // Runs the script as the one-liner does: bash -c "$(curl -L <url>/install_script_agent7.sh)".
  install(env: Record<string, string>): Promise<{ code: number; out: string }>
  // Paths under the watched directories changed since the last mark().
  mark(): Promise<void>
  changedSinceMark(): Promise<string[]>
}

const WATCHED = '/etc/apt /etc/datadog-agent /etc/datadog-fips-proxy /etc/yum.repos.d /opt /usr/share/keyrings /var/lib/dpkg/status'

let counter = 0

export interface HostOptions {
  suite?: string
  // The served tree (default: testRepository()) and, for upgrades, a newer one at /srv/repo-next.
  served?: string
  next?: string
  name?: string
}

export async function installerHost(opts: HostOptions = {}): Promise<InstallerHost> {
  const suite = opts.suite ?? 'bookworm'
  const image = await importImage(await debianRootfsTarball(suite, cacheDir()), `dd-fips-debian-${suite}`)
  const volumes: [string, string][] = [[opts.served ?? (await testRepository()), '/srv/repo']]
  if (opts.next) volumes.push([opts.next, '/srv/repo-next'])
  const container = await startSystemd(image, { name: opts.name ?? `dd-fips-installer-${process.pid}-${counter++}`, volumes })
  const sh = async (cmd: string, env: Record<string, string> = {}) => {
    const r = await container.exec(cmd, { env })
    return { code: r.exitCode ?? -1, out: r.stdout + r.stderr }
  }
  const started = await sh(`busybox httpd -p 127.0.0.1:${REPO_PORT} -h /srv/repo`)
  if (started.code !== 0) throw new Error(`busybox httpd did not start: ${started.out}`)
  return {
    container,
    sh,
    install: (env) => sh(`cd /root && bash -c "$(curl -fsSL ${REPO_URL}/${SCRIPT})"`, { DD_REPO_URL: REPO_URL, ...env }),
    mark: async () => { await sh('touch /tmp/mark && sleep 1.1') },
    changedSinceMark: async () => (await sh(`find ${WATCHED} -newer /tmp/mark 2>/dev/null || true`)).out.split('\n').filter(Boolean),
  }
}

