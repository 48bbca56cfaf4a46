// GitLab's pipeline (.gitlab-ci.yml) run on this machine by gitlab-ci-local, with the shell
// executor: the build job, then one row job on the build job's artifacts, each in a copy of the
// checkout's tracked files (--shell-isolation; a new file must be added to git to be in it) under
// .gitlab-ci-local/, which the test removes, with the gpg-agents that the jobs' signing started.
// The build job uses this machine's proxy build cache (warm after make test's own make packages);
// the row is a chroot one (rpm --root), the cheapest. Nothing comes back into the checkout
// (--no-artifacts-to-source): dist/ is the one the other tests read.
import test from 'ava'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { cacheDir, repoRoot } from '../scripts/lib/paths.ts'
import { defaultSigningDir, stopSigningAgent } from '../scripts/lib/signing.ts'
import { distSnapshot } from './helpers/dist.ts'
import { BUILD_JOB, ROW_JOB } from './matrix/ci-files.ts'

const ROW = 'rpm-root-rhel'
const STATE_DIR = path.join(repoRoot, '.gitlab-ci-local')
// Under AVA's own limit (10 min without a test ending), so that the test stops the pipeline itself.
const PIPELINE_TIMEOUT = '9m'

// The lines gitlab-ci-local printed for one job (it prefixes each with the job's name).
const jobLines = (out: string, job: string) => out.split('\n').filter((l) => l.startsWith(`${job} `)).join('\n')

// Stops any gpg-agent that a job's signing left (one per job copy with a key: a job cut short by the
// timeout does not stop its own), then removes the state directory: an agent whose directory is gone
// lingers until it notices.
async function removeStateDir(): Promise<void> {
  const builds = path.join(STATE_DIR, 'builds')
  for (const job of existsSync(builds) ? readdirSync(builds) : []) {
    await stopSigningAgent(path.join(builds, job, path.relative(repoRoot, defaultSigningDir)))
  }
  rmSync(STATE_DIR, { recursive: true, force: true })
}

test('gitlab-ci-local runs the build job, then a row job on its artifacts that builds nothing', async (t) => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'gitlab-ci-local-home-'))
  await removeStateDir()
  const distBefore = distSnapshot()
  const rowJob = `${ROW_JOB}: [${ROW}]`
  const started = Date.now()
  try {
    const r = await $({ nothrow: true, quiet: true, cwd: repoRoot, timeout: PIPELINE_TIMEOUT })`${path.join(repoRoot, 'node_modules', '.bin', 'gitlab-ci-local')} ${[
      '--force-shell-executor', '--shell-isolation', '--no-artifacts-to-source', '--no-color', '--home', home,
      '--variable', `DD_FIPS_CACHE_DIR=${cacheDir()}`, '--needs', rowJob,
    ]}`
    const out = r.stdout + r.stderr
    t.log(`pipeline of ${BUILD_JOB} and ${rowJob}: ${Math.round((Date.now() - started) / 1000)}s`)
    t.is(r.exitCode, 0, out.split('\n').slice(-40).join('\n'))
    t.regex(out, new RegExp(`PASS +${BUILD_JOB}`))
    t.regex(out, new RegExp(`PASS +${rowJob.replace(/[[\]]/g, '\\$&')}`))
    const build = jobLines(out, BUILD_JOB)
    t.regex(build, /\[proxy x86_64\] cache hit/, 'the build job takes the proxy trees from the cache')
    const row = jobLines(out, rowJob)
    t.regex(row, /imported artifacts/)
    t.notRegex(row, /scripts\/(proxy|packages)\.ts|\[proxy /, 'the row job builds neither the proxy nor this release\'s packages')
    t.regex(row, new RegExp(`\\[matrix\\] ${ROW}: passed`))
    const artifacts = readdirSync(path.join(STATE_DIR, 'artifacts'))
    t.true(artifacts.some((job) => existsSync(path.join(STATE_DIR, 'artifacts', job, 'dist', 'matrix', 'junit.xml'))), `the row job's results are its artifacts (${artifacts.join(', ')})`)
    t.deepEqual(distSnapshot(), distBefore, 'the checkout\'s dist/ is untouched')
  } finally {
    await removeStateDir()
    rmSync(home, { recursive: true, force: true })
  }
  const left = await $({ quiet: true, nothrow: true })`pgrep -af ${STATE_DIR}`
  t.is(left.stdout, '', 'no process of the pipeline is left')
})
