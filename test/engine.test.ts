// The container engine of a run (MATRIX_ENGINE) and the guarantee that a run leaves the host's
// mount table as it found it (checked by the outermost run: one inside another leaves it to that).
import test from 'ava'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { repoRoot } from '../scripts/lib/paths.ts'
import { dockerAnswers, requestedEngine, settlesWithin } from './harness/containers.ts'
import { OUTER_RUN, mountTableChanges, withContainerEngine } from './harness/engine-session.ts'

test('MATRIX_ENGINE is docker by default, docker or podman when set, and nothing else', (t) => {
  t.is(requestedEngine(undefined), 'docker')
  t.is(requestedEngine(''), 'docker')
  t.is(requestedEngine('docker'), 'docker')
  t.is(requestedEngine('podman'), 'podman')
  t.throws(() => requestedEngine('Docker'), { message: "MATRIX_ENGINE must be one of docker, podman, not 'Docker'" })
})

test('a change of the mount table is named, line by line, added and removed', (t) => {
  const before = ['22 1 0:21 / /proc rw - proc proc rw', '30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw']
  t.deepEqual(mountTableChanges(before, [...before]), [])
  // The cgroup tmpfs remounted read-only: another line, with another mount ID.
  const after = [before[0], '41 22 0:26 / /sys/fs/cgroup ro - cgroup2 cgroup2 ro', '42 1 0:40 / /tmp/x rw - tmpfs none rw']
  t.deepEqual(mountTableChanges(before, after), [`+ ${after[1]}`, `+ ${after[2]}`, `- ${before[1]}`])
})

test('settlesWithin: true for a promise that settles (either way) in time, false for one that does not', async (t) => {
  t.true(await settlesWithin(Promise.resolve(), 1000))
  t.true(await settlesWithin(Promise.reject(new Error('settled by failing')), 1000))
  t.false(await settlesWithin(new Promise(() => {}), 50))
})

// The daemon's stop waits for its exit with a 30 s bound: a timer left pending kept each test run
// and matrix alive 30 s after its dockerd had gone. Here the bound is 10 min, and the process that
// waited must end by itself long before it.
test('settlesWithin leaves no timer behind: a process that waited with a 10 min bound ends as soon as its work is done', async (t) => {
  const script = `import { settlesWithin } from './test/harness/containers.ts'; settlesWithin(Promise.resolve(), 600_000).then((done) => console.log(done))`
  const r = await $({ quiet: true, nothrow: true, cwd: repoRoot, timeout: '60s' })`node_modules/.bin/tsx --eval ${script}`
  t.is(r.exitCode, 0, `ended with ${r.exitCode} (143: killed at 60 s, the process waited for the timer)`)
  t.is(r.stdout.trim(), 'true', r.stderr)
})

// Saves these variables of process.env; the function returned puts them back (unset where unset).
function savedEnv(...names: string[]): () => void {
  const saved = names.map((name) => [name, process.env[name]] as const)
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

test.serial('MATRIX_ENGINE=docker with no daemon answering: the run starts its own, then stops it and leaves nothing', async (t) => {
  const restoreEnv = savedEnv('MATRIX_ENGINE', 'DOCKER_HOST', 'DD_FIPS_CACHE_DIR')
  // A cache of its own, so that this daemon never shares a data-root with one serving other tests.
  const cache = mkdtempSync(path.join(os.tmpdir(), 'engine-test-'))
  Object.assign(process.env, { MATRIX_ENGINE: 'docker', DOCKER_HOST: 'unix:///nonexistent/docker.sock', DD_FIPS_CACHE_DIR: cache })
  try {
    t.false(await dockerAnswers())
    let host = ''
    let root = ''
    await withContainerEngine(async () => {
      host = process.env.DOCKER_HOST!
      t.true(await dockerAnswers(), 'a daemon answers during the run')
      root = (await $({ quiet: true })`docker info --format {{.DockerRootDir}}`).stdout.trim()
    }, () => {})
    t.is(root, path.join(cache, 'docker'), 'with its data-root in the cache')
    t.is(process.env.DOCKER_HOST, 'unix:///nonexistent/docker.sock', 'DOCKER_HOST is given back')
    t.false(existsSync(path.dirname(host.replace(/^unix:\/\//, ''))), 'its socket directory is removed')
    const left = await $({ nothrow: true, quiet: true })`pgrep -f ${`dockerd --data-root ${root}`}`
    t.is(left.stdout, '', 'no dockerd is left')
  } finally {
    restoreEnv()
    rmSync(cache, { recursive: true, force: true })
  }
})

// Runs run with a mount() that mounts a tmpfs on a directory of its own and leaves it mounted until
// the run has ended (then it is unmounted); returns the directory and what the run threw.
async function withMountLeftBehind(run: (mount: () => Promise<void>) => Promise<unknown>): Promise<{ dir: string; error?: Error }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'engine-mount-'))
  try {
    await run(async () => { await $({ quiet: true })`mount -t tmpfs dd-fips-engine-test ${dir}` })
    return { dir }
  } catch (error) {
    return { dir, error: error as Error }
  } finally {
    await $({ quiet: true, nothrow: true })`umount ${dir}`
    rmSync(dir, { recursive: true, force: true })
  }
}

test.serial('a run fails on a mount it left behind; inside another run, it leaves that check to the outer one', async (t) => {
  const restoreEnv = savedEnv('MATRIX_ENGINE', OUTER_RUN)
  // podman: no daemon to start; the test suite itself runs inside a run (test/harness/with-engine.ts).
  process.env.MATRIX_ENGINE = 'podman'
  try {
    delete process.env[OUTER_RUN]
    const alone = await withMountLeftBehind((mount) => withContainerEngine(mount, () => {}))
    const message = alone.error?.message ?? 'no error'
    t.regex(message, /^the host's mount table changed during the run/)
    t.true(message.split('\n').some((l) => l.startsWith('+ ') && l.includes(` ${alone.dir} `)), message)
    t.is(process.env[OUTER_RUN], undefined, 'the run unsets what it set')
    process.env[OUTER_RUN] = 'an outer run'
    const inside = await withMountLeftBehind((mount) => withContainerEngine(mount, () => {}))
    t.is(inside.error, undefined)
    t.is(process.env[OUTER_RUN], 'an outer run', 'an inner run leaves the outer one\'s mark')
  } finally {
    restoreEnv()
  }
})

test.serial("a run's temporary files go in a directory of its own (TMPDIR), removed when it ends, but never through a mount left in it", async (t) => {
  const outerTmpdir = process.env.TMPDIR
  const restoreEnv = savedEnv('MATRIX_ENGINE')
  process.env.MATRIX_ENGINE = 'podman'
  try {
    let runTmp = ''
    await withContainerEngine(async () => {
      runTmp = os.tmpdir()
      const made = (await $({ quiet: true })`mktemp -d`).stdout.trim()
      t.true(made.startsWith(`${runTmp}/`), `a tool the run starts makes ${made} in the run's ${runTmp}`)
      writeFileSync(path.join(runTmp, 'left-behind'), '')
    }, () => {})
    t.not(runTmp, os.tmpdir())
    t.false(existsSync(runTmp), 'removed, with what the run left in it')
    t.is(process.env.TMPDIR, outerTmpdir, 'TMPDIR is given back')

    // The suite runs inside a run (with-engine.ts), so this one leaves the mount check to it.
    const lines: string[] = []
    let mounted = ''
    await withContainerEngine(async () => {
      mounted = path.join(os.tmpdir(), 'mounted')
      mkdirSync(mounted)
      await $({ quiet: true })`mount -t tmpfs dd-fips-engine-test ${mounted}`
      writeFileSync(path.join(mounted, 'kept'), '')
    }, (line) => lines.push(line))
    try {
      t.true(existsSync(path.join(mounted, 'kept')), 'what is under the mount is kept')
      t.deepEqual(lines, [`[run] ${path.dirname(mounted)} not removed: ${mounted} still mounted under it`])
    } finally {
      await $({ quiet: true, nothrow: true })`umount ${mounted}`
      rmSync(path.dirname(mounted), { recursive: true, force: true })
    }
  } finally {
    restoreEnv()
  }
})
