#!/usr/bin/env tsx
// make matrix: the distro test matrix (test/matrix/matrix.yaml) against the packages, install
// script and repositories of dist/, which it never builds (make matrix runs make packages first;
// make matrix-prebuilt, a CI row job on the build job's artifact, does not). Runs every row this
// machine can run; the others are reported as not run. Results: dist/matrix/results.md and
// dist/matrix/junit.xml; exit 1 if a row failed.
//   MATRIX_ROWS=debian-12,rpm-root-rhel   only these rows
//   MATRIX_JOBS=3                         rows in parallel
//   MATRIX_ROW_TIMEOUT=900                seconds per row
//   MATRIX_STRICT=1                       a row that is not run is an error (CI jobs, one row each)
//   MATRIX_IMAGES=centos-7=IMAGE,...      run these rows from these images instead (pulled, or
//                                         local ones), e.g. one whose repositories still answer
//   MATRIX_ENGINE=docker|podman           the container engine (default docker); docker starts a
//                                         daemon of its own when none answers on DOCKER_HOST
import path from 'node:path'
import { withContainerEngine } from './engine-session.ts'
import { main } from '../../scripts/lib/main.ts'
import { distDir } from '../../scripts/lib/paths.ts'
import { withSigningAgent } from '../../scripts/lib/signing.ts'
import { type MatrixRow, loadMatrix } from '../matrix/definition.ts'
import { missingRowInputs } from '../matrix/row-inputs.ts'
import { resultsMarkdown, runMatrix, writeReports } from '../matrix/runner.ts'

// MATRIX_IMAGES: each named row runs from the given image, as a registry row (its `local` way
// is dropped).
function withImages(rows: MatrixRow[], spec: string | undefined): MatrixRow[] {
  const images = new Map((spec ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const [id, image] = s.split(/=(.*)/s)
    if (!image) throw new Error(`MATRIX_IMAGES: '${s}' is not <row>=<image>`)
    return [id, image] as const
  }))
  const unknown = [...images.keys()].filter((id) => !rows.some((r) => r.id === id))
  if (unknown.length) throw new Error(`MATRIX_IMAGES: unknown rows ${unknown.join(', ')} (see test/matrix/matrix.yaml)`)
  return rows.map((r) => images.has(r.id) ? { ...r, image: images.get(r.id)!, local: undefined } : r)
}

await main(async () => {
  const missing = missingRowInputs()
  if (missing.length) {
    throw new Error(`the matrix runs on what make packages wrote, and ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing: run make matrix (it builds them), or unpack the CI build job's artifact first`)
  }
  const all = withImages(loadMatrix(), process.env.MATRIX_IMAGES)
  const wanted = process.env.MATRIX_ROWS?.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = (wanted ?? []).filter((id) => !all.some((r) => r.id === id))
  if (unknown.length) throw new Error(`MATRIX_ROWS: unknown rows ${unknown.join(', ')} (see test/matrix/matrix.yaml)`)
  const rows = wanted ? all.filter((r) => wanted.includes(r.id)) : all
  const started = Date.now()
  // The rows sign their served trees (and a tampered one) with the build's key.
  const results = await withSigningAgent(() => withContainerEngine(() => runMatrix({
    rows,
    // A row mostly waits on its container (boot, apt, dnf): on 2 cores 3 rows at once end the 7 rows
    // here in 148 s where 2 took 186 s, though each row takes longer.
    jobs: Number(process.env.MATRIX_JOBS || 3),
    rowTimeoutSeconds: Number(process.env.MATRIX_ROW_TIMEOUT || 900),
  })))
  const files = writeReports(results, path.join(distDir, 'matrix'))
  console.log(`\n${resultsMarkdown(results)}`)
  const ran = results.filter((r) => r.status !== 'not run')
  console.log(`${ran.length} rows run, ${results.length - ran.length} not run here, in ${Math.round((Date.now() - started) / 1000)}s; ${files.markdown}, ${files.junit}`)
  if (results.some((r) => r.status === 'failed')) throw new Error('matrix: some rows failed (see above)')
  const notRun = results.filter((r) => r.status === 'not run')
  if (process.env.MATRIX_STRICT === '1' && notRun.length) {
    throw new Error(`matrix (MATRIX_STRICT=1): not run: ${notRun.map((r) => `${r.row.id} (${r.ranOn})`).join('; ')}`)
  }
})
