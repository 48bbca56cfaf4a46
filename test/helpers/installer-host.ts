// Hosts for the install script: a systemd container (podman, or docker when a daemon answers) of
// any supported distribution, no network but its loopback, where the test repositories are served
// over HTTP as a release publishes them: the packages of dist/ and the FIXTURE Agent package, signed
// with the key the script trusts. What differs per package format comes from test/matrix/platforms.ts.
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync } from 'node:fs'
import { parseKeys, readKeysCommand } from './datadog-yaml.ts'
import { fixtureIntakeHosts, serveVendorDialect } from './vendor-dialect.ts'
import os from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { importImage, startSystemd, type Container } from '../harness/containers.ts'
import { RUN_TMPDIR } from '../harness/engine-session.ts'
import { cacheDir, distDir } from '../../scripts/lib/paths.ts'
import { type Product, agentConfig, datadogYamlAwkPath, liveConfig, loadProduct } from '../../scripts/lib/product.ts'
import { buildRepos, rpmRepoPaths } from '../../scripts/lib/repo.ts'
import { debianRootfsTarball } from '../harness/rootfs.ts'
import { signingKey } from '../../scripts/lib/signing.ts'
import { buildFixtureAgent } from '../fixtures/datadog-agent/fixture-agent.ts'
import { fixtureIntake } from '../fixtures/intake.ts'
import { RUNTIME_RESOLUTION } from '../../scripts/lib/haproxy-config.ts'
import { PLATFORMS, type Platform, REPO_SERVER } from '../matrix/platforms.ts'
import { AGENT_MAJOR, SCRIPT, installScript, manifest } from './dist.ts'

export const REPO_PORT = 8080
export const REPO_URL = `http://127.0.0.1:${REPO_PORT}`

// The one-liner's environment in FIPS mode, as the documentation gives it.
export const TEST_API_KEY = '0123456789abcdef0123456789abcdef'
export const fipsInstallEnv = (p: { site: string }) => ({ DD_API_KEY: TEST_API_KEY, DD_SITE: p.site, DD_FIPS_MODE: '1' })

let repoPromise: Promise<string> | undefined

// The packages of dist/ (this release) of one format.
export const releasePackages = (format: string) => manifest().packages.filter((p) => p.format === format).map((p) => path.join(distDir, p.file))

// The served tree: the repositories of dist/ plus the install script, as a release publishes them,
// and beside them both FIXTURE intakes and the vendor-dialect FIXTURE config; its users only read it.
// Within a run (RUN_TMPDIR) the test processes share one: a process that finds none builds its own
// and moves it into place, unless another got there first.
export function testRepository(): Promise<string> {
  repoPromise ??= (async () => {
    const runDir = process.env[RUN_TMPDIR]
    const shared = runDir && path.join(runDir, 'test-repository')
    if (shared && existsSync(shared)) return shared
    const product = loadProduct()
    const served = await servedTree(releasePackages)
    await addFixtureIntakes(served, product)
    serveVendorDialect(served)
    if (!shared) return served
    try {
      renameSync(served, shared)
    } catch (e) {
      if (!['EEXIST', 'ENOTEMPTY'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e
    }
    return shared
  })()
  return repoPromise
}

// The FIXTURE Agent packages, built once per test process.
let fixtureAgent: ReturnType<typeof buildFixtureAgent> | undefined

// Signed repositories of the packages of each format and the FIXTURE Agent, with the install script.
export async function servedTree(packagesOf: (format: string) => string[]): Promise<string> {
  fixtureAgent ??= buildFixtureAgent(mkdtempSync(path.join(os.tmpdir(), 'fixture-agent-')))
  const fixture = await fixtureAgent
  const dir = mkdtempSync(path.join(os.tmpdir(), 'test-repo-'))
  const served = path.join(dir, 'served')
  await buildRepos({
    product: loadProduct(), key: await signingKey(), agentMajor: AGENT_MAJOR, outDir: served,
    debs: [...packagesOf('deb'), ...fixture.debs],
    rpms: { rhel: [...packagesOf('rpm-rhel'), ...fixture.rpms], suse: [...packagesOf('rpm-suse'), ...fixture.rpms] },
    log: path.join(dir, 'repos.log'),
  })
  copyFileSync(installScript, path.join(served, SCRIPT))
  return served
}

// A command's result in the container. `out` is what the command printed on stdout, the only
// value a check compares; `err` is the engine client's stderr: the command's stderr and any noise
// of the engine (a podman warning once became 13 wrong values), for logs and failure messages.
export interface ShResult { code: number; out: string; err: string }

// The RPM repositories of a served tree: both flavours, every architecture.
export const servedRpmRepos = (served: string, p: Product) => rpmRepoPaths(p, AGENT_MAJOR).map((dir) => path.join(served, dir))

export interface InstallerHost {
  container: Container
  sh(cmd: string, env?: Record<string, string>): Promise<ShResult>
  // Runs the script as the one-liner does: bash -c "$(curl -L <url>/<script>)"; `out` has the
  // script's stdout and stderr (joined inside the container), as an operator's terminal shows them.
  install(env: Record<string, string>): Promise<ShResult>
  // Starts the same install in its own session (process group) in the background, waits until
  // `reached` (a shell condition, polled without pause) holds, then SIGKILLs the whole group, as a
  // dropped session or an OOM kill would. Returns what the run printed until then.
  killedInstall(env: Record<string, string>, reached: string): Promise<string>
  // The stderr of the latest command: what a failure message adds.
  lastErr(): string
  // Serves another mounted tree (/srv/<name> of ContainerHostOptions.trees) at the same URL.
  serve(dir: string): Promise<void>
  // What changed since the last mark(): paths under the watched directories, and the installed
  // packages when they changed.
  mark(): Promise<void>
  changedSinceMark(): Promise<string[]>
}

// What the tests read on a host: a YAML file, parsed; a file's owner:group:mode; a unit's main PID.
export const yamlOf = async (h: InstallerHost, file: string) => parse((await h.sh(`cat ${file}`)).out)
export const statOf = async (h: InstallerHost, file: string) => (await h.sh(`stat -c %U:%G:%a ${file}`)).out.trim()
export const mainPid = async (h: InstallerHost, unit: string) => (await h.sh(`systemctl show -p MainPID --value ${unit}`)).out.trim()

// On the Debian hosts: the installed Agent's version, and the proxy service's environment file.
export const AGENT_VERSION = `dpkg-query -W -f '\${Version}' ${loadProduct().agent.package}`
export const debEnvFile = (p: Product) => p.packages.find((f) => f.kind === 'deb')!.envFile

// The fips settings the install script writes into datadog.yaml, on the default port range.
export const fipsSettings = (p: Product) => ({ enabled: true, https: false, port_range_start: p.ports.rangeStart })

const PIDFILE = '/run/dd-matrix-repo-server.pid'

export interface ContainerHostOptions {
  image: string
  platform: Platform
  product: Product
  // Served trees by name, each mounted at /srv/<name>: `repo` (served from the start), and others
  // that serve() can switch to (a newer release's, a tampered one).
  trees: { repo: string } & Record<string, string>
  name: string
  // Every command, its exit code, stdout and stderr are appended here.
  log?: string
}

// A systemd container of the image with the served tree on its loopback.
export async function containerHost(opts: ContainerHostOptions): Promise<InstallerHost> {
  const volumes = Object.entries(opts.trees).map(([name, dir]): [string, string] => [dir, `/srv/${name}`])
  const container = await startSystemd(opts.image, { name: opts.name, volumes })
  let lastErr = ''
  if (opts.log) mkdirSync(path.dirname(opts.log), { recursive: true })
  const sh = async (cmd: string, env: Record<string, string> = {}): Promise<ShResult> => {
    const r = await container.exec(cmd, { env })
    const result = { code: r.exitCode ?? -1, out: r.stdout, err: r.stderr }
    lastErr = r.stderr
    if (opts.log) appendFileSync(opts.log, `\n$ ${cmd}\n[exit ${result.code}]\n${r.stdout}${r.stderr ? `[stderr]\n${r.stderr}` : ''}`)
    return result
  }
  const p = opts.product
  // The proxy service's environment file (DD_FIPS_PORT_RANGE_START): wherever the format puts it.
  const envFiles = [...new Set(p.packages.map((f) => f.envFile))]
  const watched = ['/etc/datadog-agent', p.paths.configDir, '/opt', ...envFiles, ...opts.platform.watched(p)].join(' ')
  let packagesAtMark = ''
  const serve = async (dir: string) => {
    // The previous server is gone before the next one binds the port; then the script answers.
    const started = await sh([
      `old=$(cat ${PIDFILE} 2>/dev/null || true)`,
      'if [ -n "$old" ]; then kill "$old"; while kill -0 "$old" 2>/dev/null; do sleep 0.1; done; fi',
      `cd ${dir} || exit 1`,
      REPO_SERVER.command(REPO_PORT),
      `{ setsid "$@" >/dev/null 2>&1 & echo $! >${PIDFILE}; }`,
      `for _ in $(seq 50); do curl -fs -o /dev/null ${REPO_URL}/${SCRIPT} && exit 0; sleep 0.1; done`,
      `echo "no HTTP server answers on ${REPO_URL} (busybox httpd or python3 in the image)"; exit 1`,
    ].join('\n'))
    if (started.code !== 0) throw new Error(`serving ${dir}: ${(started.out + started.err).trim()}`)
  }
  try {
    await serve('/srv/repo')
  } catch (err) {
    await container.remove()
    throw err
  }
  return {
    container,
    sh,
    install: (env) => sh(`cd /root && bash -c "$(curl -fsSL ${REPO_URL}/${SCRIPT})" 2>&1`, { DD_REPO_URL: REPO_URL, ...env }),
    killedInstall: async (env, reached) => {
      const log = '/tmp/killed-install.log'
      const pid = (await sh(`cd /root && { setsid bash -c 'bash -c "$(curl -fsSL ${REPO_URL}/${SCRIPT})" >${log} 2>&1' </dev/null >/dev/null 2>&1 & echo $!; }`, { DD_REPO_URL: REPO_URL, ...env })).out.trim()
      // The watcher gives up when the run ends by itself (it failed before the point: exit 2).
      const killed = await sh(`timeout 180 bash -c 'until ${reached.replace(/'/g, `'\\''`)}; do kill -0 -- -${pid} 2>/dev/null || exit 2; done' && kill -KILL -- -${pid}; for _ in $(seq 50); do kill -0 -- -${pid} 2>/dev/null || exit 0; sleep 0.1; done; exit 1`)
      const out = (await sh(`cat ${log}`)).out
      if (killed.code !== 0) throw new Error(`the install ${killed.code === 2 ? 'ended' : 'never reached the point, or survived the kill'} before '${reached}': ${out.trim().split('\n').slice(-3).join(' / ')}`)
      return out
    },
    lastErr: () => lastErr,
    serve,
    mark: async () => {
      packagesAtMark = (await sh(opts.platform.packageState)).out
      await sh('touch /tmp/mark && sleep 1.1')
    },
    changedSinceMark: async () => [
      ...(await sh(`find ${watched} -newer /tmp/mark 2>/dev/null || true`)).out.split('\n').filter(Boolean),
      ...((await sh(opts.platform.packageState)).out === packagesAtMark ? [] : ['(the installed packages)']),
    ],
  }
}

// The image of a Debian release with systemd, built here (debootstrap from the configured mirror).
export async function debianImage(suite: string): Promise<string> {
  return importImage(await debianRootfsTarball(suite, cacheDir()), `dd-fips-debian-${suite}`)
}

let counter = 0

// Runs fn on a fresh Debian 12 host serving `served` (default: testRepository()), then removes it.
export async function withInstallerHost<T>(fn: (h: InstallerHost) => Promise<T>, served?: string): Promise<T> {
  const h = await containerHost({
    image: await debianImage('bookworm'),
    platform: PLATFORMS.deb,
    product: loadProduct(),
    trees: { repo: served ?? (await testRepository()) },
    name: `dd-fips-installer-${process.pid}-${counter++}`,
  })
  try {
    return await fn(h)
  } finally {
    await h.container.remove()
  }
}

// Where the served tree keeps the FIXTURE intake's files: the trusted one, and one of another CA.
export const FIXTURE_INTAKE = { trusted: 'fixture-intake', untrusted: 'fixture-intake-untrusted' }

// Writes both intakes' files into the served tree (certificates for every upstream host).
async function addFixtureIntakes(served: string, p: Product): Promise<void> {
  await fixtureIntake(path.join(served, FIXTURE_INTAKE.trusted), fixtureIntakeHosts(p))
  await fixtureIntake(path.join(served, FIXTURE_INTAKE.untrusted), fixtureIntakeHosts(p))
}

// A FIXTURE intake inside a test host: `openssl s_server -www` (the proxy's own openssl) on
// 127.0.0.2:443, which /etc/hosts names for every upstream host, its CA in the system store. The
// live config is changed only where the container cannot help it: the host has no DNS server, so
// the upstream addresses come from the libc (/etc/hosts) instead of the resolvers; `checkEvery`
// shortens the health checks' interval (a DOWN intake is seen in seconds without traffic, where the
// shipped setting checks a healthy server once a day). Restarts the proxy.
export async function serveFixtureIntake(h: InstallerHost, p: Product, trustCa: (file: string) => string, opts: { which?: keyof typeof FIXTURE_INTAKE; checkEvery?: string } = {}): Promise<ShResult> {
  const dir = `/srv/repo/${FIXTURE_INTAKE[opts.which ?? 'trusted']}`
  return h.sh([
    trustCa(`/srv/repo/${FIXTURE_INTAKE.trusted}/ca.crt`),
    `grep -q ' fixture-intake$' /etc/hosts || echo "127.0.0.2 ${fixtureIntakeHosts(p).join(' ')} fixture-intake" >> /etc/hosts`,
    `sed -i 's/ ${RUNTIME_RESOLUTION}/ init-addr libc,none/' ${liveConfig(p)}`,
    ...(opts.checkEvery ? [`sed -i 's/ check inter [0-9a-z]* / check inter ${opts.checkEvery} /' ${liveConfig(p)}`] : []),
    stopFixtureIntakeCommand,
    `(OPENSSL_CONF=/dev/null setsid ${p.paths.embedded}/bin/openssl s_server -accept 127.0.0.2:443 -cert ${dir}/server.pem -www -quiet >/dev/null 2>&1 &)`,
    // The matrix restarts the proxy more often than a host would (restart, reinstall, start, a
    // vendor config, this): systemd's start limit (5 in 10 s) refused one on a fast run of trixie.
    `systemctl reset-failed ${p.name}`,
    `systemctl restart ${p.name}`,
  ].join(' && '))
}

// Stops the FIXTURE intake (the intake is down); true whether or not one ran. It waits until the
// process is gone: a new intake started at once could not bind the port (seen as a flaky 'healthy
// again' in the self-check test on a loaded machine).
const FIXTURE_INTAKE_PROCESS = "'^/opt/.*/openssl s_server -accept 127.0.0.2:443'"
export const stopFixtureIntakeCommand = `{ pkill -f ${FIXTURE_INTAKE_PROCESS} || true; while pgrep -f ${FIXTURE_INTAKE_PROCESS} >/dev/null; do sleep 0.1; done; }`

// Keys of the host's datadog.yaml, read by the reader the package ships (datadog-yaml.awk, mode=get):
// the one reader of datadog.yaml, the install script's and the self-check's.
export async function agentYamlValues(h: InstallerHost, p: Product, keys: string[]): Promise<Record<string, string>> {
  const r = await h.sh(readKeysCommand(datadogYamlAwkPath(p), agentConfig(p), keys))
  if (r.code !== 0) throw new Error(`reading ${agentConfig(p)} failed (exit ${r.code}): ${r.err}`)
  return parseKeys(r.out)
}
