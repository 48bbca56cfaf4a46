// A run that uses containers (the test suite, make matrix) on the engine MATRIX_ENGINE names, and
// the guarantee that it leaves the host as it found it. With MATRIX_ENGINE=docker and no daemon
// answering on DOCKER_HOST, the run starts a Docker Engine of its own (Debian's docker.io) with
// private state: the data-root in the cache (imported and prepared images survive between runs),
// the exec-root, socket and pid file in a fresh temporary directory, no iptables, no bridge (the
// containers run with --network none). It is stopped, and its directory removed, when the run
// ends. Either way, the host's mount table must be the one it had before the run: a systemd
// container once remounted the host's cgroup tmpfs read-only, and nothing else would notice. And
// the run's temporary files go: TMPDIR is a directory of the run's own, removed when it ends (the
// tests' and their tools' temporary directories once piled up to 25 GB in /tmp).
import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { dockerAnswers, requestedEngine, settlesWithin } from './containers.ts'
import { formatDuration, withLock } from '../../scripts/lib/exec.ts'
import { buildDir, cacheDir } from '../../scripts/lib/paths.ts'

const mountTable = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)

// The mount points (mountinfo's fifth field, octal escapes decoded) at or under dir, deepest first.
function mountsUnder(dir: string): string[] {
  return mountTable().map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(`${dir}/`)).reverse()
}

// The lines of `after` that `before` lacks, and the other way round (mount IDs included: a mount
// taken away and put back is a change too).
export function mountTableChanges(before: string[], after: string[]): string[] {
  const had = new Set(before)
  const has = new Set(after)
  return [...after.filter((l) => !had.has(l)).map((l) => `+ ${l}`), ...before.filter((l) => !has.has(l)).map((l) => `- ${l}`)]
}

interface Daemon {
  host: string
  stop(): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// dockerd with state of its own on dataRoot; its output goes to build/logs/dockerd.log.
async function startDockerd(dataRoot: string, log: (line: string) => void): Promise<Daemon> {
  const started = Date.now()
  mkdirSync(dataRoot, { recursive: true })
  // The socket path must stay short (108 bytes for a unix socket): a temporary directory, not build/.
  const run = mkdtempSync(path.join(os.tmpdir(), 'dd-fips-docker-'))
  const host = `unix://${run}/docker.sock`
  const logFile = path.join(buildDir, 'logs', 'dockerd.log')
  mkdirSync(path.dirname(logFile), { recursive: true })
  const fd = openSync(logFile, 'a')
  const child = spawn('dockerd', [
    '--data-root', dataRoot, '--exec-root', path.join(run, 'exec'), '-H', host, '--pidfile', path.join(run, 'docker.pid'),
    '--iptables=false', '--ip-masq=false', '--bridge=none',
  ], { stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', resolve)
    child.on('error', () => resolve(null))
  })
  let gone = false
  void exited.then(() => { gone = true })
  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM')
      // dockerd stops its containers and containerd, and unmounts its data-root, before it exits.
      if (!(await settlesWithin(exited, 30_000))) {
        child.kill('SIGKILL')
        await exited
      }
    }
    // dockerd leaves the host network namespace's bind mount (exec-root/netns/default, made for a
    // --network host container) mounted after it exits: this run made it, this run unmounts it.
    for (const m of mountsUnder(run)) await $({ quiet: true })`umount ${m}`
    rmSync(run, { recursive: true, force: true })
  }
  const env = { ...process.env, DOCKER_HOST: host }
  for (let i = 0; i < 120 && !gone; i++) {
    if (await dockerAnswers(env)) {
      log(`[engine] dockerd started (data-root ${dataRoot}, socket ${host}) in ${formatDuration(Date.now() - started)}`)
      return { host, stop }
    }
    await sleep(250)
  }
  await stop()
  throw new Error(`dockerd did not answer on ${host} within 30 s; its output is in ${logFile} (make deps installs docker.io)`)
}

// Runs fn with these variables set in process.env (and so for the processes it starts), then gives
// back the values they had, unset where unset.
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const previous = Object.keys(vars).map((name) => [name, process.env[name]] as const)
  Object.assign(process.env, vars)
  try {
    return await fn()
  } finally {
    for (const [name, value] of previous) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

// Runs fn with a dockerd of its own (DOCKER_HOST set for fn and its children, then given back). One
// such daemon at a time on the data-root: a second one would corrupt it.
async function withOwnDockerd<T>(fn: () => Promise<T>, log: (line: string) => void): Promise<T> {
  const dataRoot = path.join(cacheDir(), 'docker')
  return withLock(path.join(dataRoot, 'harness.lock'), `a harness Docker daemon on ${dataRoot}`, async () => {
    const daemon = await startDockerd(dataRoot, log)
    try {
      return await withEnv({ DOCKER_HOST: daemon.host }, fn)
    } finally {
      await daemon.stop()
      log('[engine] dockerd stopped')
    }
  })
}

// Set with TMPDIR for the run's processes: what they may share for the run's length (one test
// repository for every test process) goes there.
export const RUN_TMPDIR = 'DD_FIPS_RUN_TMPDIR'

// Runs fn with TMPDIR (and so os.tmpdir()) a fresh directory, then removes it; but never through a
// mount that fn left under it: that stays, named, for its owner to unmount.
async function withRunTmpdir<T>(fn: () => Promise<T>, log: (line: string) => void): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dd-fips-run-'))
  try {
    return await withEnv({ TMPDIR: dir, [RUN_TMPDIR]: dir }, fn)
  } finally {
    const mounted = mountsUnder(dir)
    if (mounted.length) log(`[run] ${dir} not removed: ${mounted.join(', ')} still mounted under it`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

// Set for a run's children: a run started inside another (a CI job that a test runs, running make
// matrix in turn) leaves the check of the mount table to the outer run, whose check covers it, and
// during which other tests' containers come and go.
export const OUTER_RUN = 'DD_FIPS_ENGINE_RUN'

// Runs fn with the engine of MATRIX_ENGINE available (DOCKER_HOST set for fn and its children
// when this run started the daemon) and a temporary directory of its own (TMPDIR), then stops what
// it started, removes that directory, and fails if the host's mount table changed (unless it runs
// inside another run).
export async function withContainerEngine<T>(fn: () => Promise<T>, log: (line: string) => void = console.error): Promise<T> {
  const insideAnother = process.env[OUTER_RUN] !== undefined
  const before = mountTable()
  let failure: unknown
  let result: T | undefined
  if (!insideAnother) process.env[OUTER_RUN] = String(process.pid)
  try {
    // The daemon's socket directory is made before TMPDIR moves: it outlives fn.
    const run = () => withRunTmpdir(fn, log)
    result = requestedEngine() === 'docker' && !(await dockerAnswers()) ? await withOwnDockerd(run, log) : await run()
  } catch (err) {
    failure = err
  } finally {
    if (!insideAnother) delete process.env[OUTER_RUN]
  }
  const changes = insideAnother ? [] : mountTableChanges(before, mountTable())
  if (changes.length) {
    const message = `the host's mount table changed during the run (a test harness must leave it as it was):\n${changes.join('\n')}`
    throw new Error(failure ? `${(failure as Error).message}\nand ${message}` : message)
  }
  if (failure) throw failure
  return result as T
}
