// The CI files (test/matrix/ci-files.ts), build-free: they are the ones generated from the matrix
// definition; GitHub's workflow passes GitHub's schema (action-validator) and GitLab's pipeline
// parses in gitlab-ci-local as one build job and one job per row, each needing the build job's
// artifacts; a row job's make target builds nothing and names what it lacks. Each tool is shown
// rejecting a file broken on purpose, so that a tool that accepts anything fails here.
import test from 'ava'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { $ } from 'zx'
import { repoRoot } from '../scripts/lib/paths.ts'
import { BUILD_JOB, ROW_JOB, ciFiles } from './matrix/ci-files.ts'
import { loadMatrix, placement } from './matrix/definition.ts'
import { missingRowInputs, rowInputDirs } from './matrix/row-inputs.ts'

const rows = loadMatrix()
const files = ciFiles(rows)
const WORKFLOW = '.github/workflows/matrix.yml'
const PIPELINE = '.gitlab-ci.yml'
const runnable = rows.filter((r) => placement(r).kind !== 'nowhere').map((r) => r.id)
const bin = (name: string) => path.join(repoRoot, 'node_modules', '.bin', name)

// A text with one line changed, failing if the line is not there (a control that breaks nothing
// would pass for the wrong reason).
function broken(text: string, line: string, by: string): string {
  if (!text.includes(line)) throw new Error(`no line '${line}' to break`)
  return text.replace(line, by)
}

function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('the committed CI files are the ones generated from the matrix definition', (t) => {
  for (const [file, content] of Object.entries(files)) {
    t.is(readFileSync(path.join(repoRoot, file), 'utf8'), content, `${file} is stale: run make ci-files`)
  }
})

async function actionValidator(t: { teardown(fn: () => void): void }, workflow: string) {
  const file = path.join(tempDir(t, 'workflow-'), 'matrix.yml')
  writeFileSync(file, workflow)
  return $({ nothrow: true, quiet: true })`${bin('action-validator')} ${file}`
}

test('GitHub\'s schema (action-validator) accepts the workflow, and rejects a missing needed job and an unknown key', async (t) => {
  const ok = await actionValidator(t, files[WORKFLOW])
  t.is(ok.exitCode, 0, ok.stdout + ok.stderr)
  const unresolved = await actionValidator(t, broken(files[WORKFLOW], `needs: ${BUILD_JOB}`, 'needs: no-such-job'))
  t.is(unresolved.exitCode, 1)
  t.regex(unresolved.stderr, /"code": "unresolved_job",\s*"detail": "unresolved job no-such-job"/)
  const unknownKey = await actionValidator(t, broken(files[WORKFLOW], 'timeout-minutes: 60', 'timeout_minutes: 60'))
  t.is(unknownKey.exitCode, 1)
  t.regex(unknownKey.stderr, /Additional property 'timeout_minutes' is not allowed/)
})

test('the workflow: a build job hands on what the rows read; one row job per runnable row, after it, building nothing', (t) => {
  const { jobs } = parse(files[WORKFLOW])
  t.deepEqual(Object.keys(jobs), [BUILD_JOB, ROW_JOB])
  t.deepEqual(jobs[BUILD_JOB].steps.map((s: { run?: string }) => s.run).filter(Boolean), ['make packages', `tar -cf row-inputs.tar ${rowInputDirs().join(' ')}`])
  t.is(jobs[ROW_JOB].needs, BUILD_JOB)
  t.deepEqual(jobs[ROW_JOB].strategy.matrix.row, runnable)
  t.deepEqual(jobs[ROW_JOB].steps.map((s: { run?: string }) => s.run).filter(Boolean), ['tar -xf row-inputs.tar', 'make matrix-prebuilt MATRIX_ROWS=${{ matrix.row }} MATRIX_STRICT=1'])
})

// gitlab-ci-local's own reading of a pipeline (--list-json: its job names, stages and needs, after
// its validation against GitLab's schema), in a directory of its own: it writes its state there.
async function gitlabJobs(t: { teardown(fn: () => void): void }, pipeline: string) {
  const dir = tempDir(t, 'gitlab-ci-local-')
  mkdirSync(path.join(dir, 'home'))
  writeFileSync(path.join(dir, PIPELINE), pipeline)
  const r = await $({ nothrow: true, quiet: true, cwd: dir })`${bin('gitlab-ci-local')} --list-json --home ${path.join(dir, 'home')}`
  return { exitCode: r.exitCode, stderr: r.stderr, jobs: r.exitCode === 0 ? JSON.parse(r.stdout) as { name: string; stage: string; needs?: unknown[] }[] : [] }
}

test('gitlab-ci-local reads the pipeline as the build job, then one job per runnable row that needs its artifacts', async (t) => {
  const { exitCode, stderr, jobs } = await gitlabJobs(t, files[PIPELINE])
  t.is(exitCode, 0, stderr)
  t.deepEqual(jobs.map((j) => j.name), [BUILD_JOB, ...runnable.map((id) => `${ROW_JOB}: [${id}]`)])
  t.deepEqual(jobs.map((j) => j.stage), ['build', ...runnable.map(() => 'test')])
  t.is(jobs[0].needs, undefined)
  for (const job of jobs.slice(1)) t.deepEqual(job.needs, [{ job: BUILD_JOB, artifacts: true, optional: false }], job.name)
  const pipeline = parse(files[PIPELINE])
  t.deepEqual(pipeline[BUILD_JOB].artifacts.paths, rowInputDirs())
  t.deepEqual(pipeline[ROW_JOB].script, ['make matrix-prebuilt MATRIX_ROWS=${ROW} MATRIX_STRICT=1'])
})

test('gitlab-ci-local rejects a pipeline whose row jobs need a missing job, or whose needs break GitLab\'s schema', async (t) => {
  const missing = await gitlabJobs(t, broken(files[PIPELINE], `- job: ${BUILD_JOB}`, '- job: no-such-job'))
  t.is(missing.exitCode, 1)
  t.regex(missing.stderr, /needs: \[no-such-job\] for distro-matrix could not be found/)
  const schema = await gitlabJobs(t, broken(files[PIPELINE], 'artifacts: true', 'artifacts: always'))
  t.is(schema.exitCode, 1)
  t.regex(schema.stderr, /Invalid \.gitlab-ci\.yml configuration!(.|\n)*'artifacts' property type must be boolean at distro-matrix\.needs\.0\.artifacts/)
})

test('a row job\'s make matrix-prebuilt builds nothing, where make matrix builds the packages first', async (t) => {
  // make -n: the commands make would run, none run.
  const dryRun = async (target: string) => (await $({ quiet: true, cwd: repoRoot })`make -n ${target}`).stdout
  const prebuilt = await dryRun('matrix-prebuilt')
  t.notRegex(prebuilt, /scripts\/(proxy|packages)\.ts/)
  t.regex(prebuilt, /test\/harness\/matrix\.ts/)
  t.regex(await dryRun('matrix'), /scripts\/proxy\.ts(.|\n)*scripts\/packages\.ts(.|\n)*test\/harness\/matrix\.ts/)
})

test('the matrix names what it lacks of make packages\' outputs, in a checkout without them', (t) => {
  const checkout = tempDir(t, 'checkout-')
  t.deepEqual(missingRowInputs(checkout), ['dist/manifest.json', 'build/proxy/x86_64', 'build/signing'])
  for (const dir of rowInputDirs()) mkdirSync(path.join(checkout, dir), { recursive: true })
  t.deepEqual(missingRowInputs(checkout), ['dist/manifest.json', 'build/proxy/x86_64', 'build/signing'], 'empty directories count as missing')
  for (const file of ['dist/manifest.json', 'build/proxy/x86_64/build-report.json', 'build/signing/source']) writeFileSync(path.join(checkout, file), '{}')
  t.deepEqual(missingRowInputs(checkout), [])
})
