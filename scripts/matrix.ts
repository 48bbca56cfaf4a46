#!/usr/bin/env tsx
// make matrix: the distro test matrix (test/matrix/matrix.yaml) against the packages, install
// script and repositories of dist/. Runs every row this machine can run; the others are reported
// as not run. Results: dist/matrix/results.md and dist/matrix/junit.xml; exit 1 if a row failed.
//   MATRIX_ROWS=debian-12,rpm-root-rhel   only these rows
//   MATRIX_JOBS=2                         rows in parallel
//   MATRIX_ROW_TIMEOUT=900                seconds per row
import path from 'node:path'
import { main } from './lib/main.ts'
import { distDir } from './lib/paths.ts'
import { loadMatrix, resultsMarkdown, runMatrix, writeReports } from '../test/matrix/runner.ts'

await main(async () => {
  const all = loadMatrix()
  const wanted = process.env.MATRIX_ROWS?.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = (wanted ?? []).filter((id) => !all.some((r) => r.id === id))
  if (unknown.length) throw new Error(`MATRIX_ROWS: unknown rows ${unknown.join(', ')} (see test/matrix/matrix.yaml)`)
  const rows = wanted ? all.filter((r) => wanted.includes(r.id)) : all
  const started = Date.now()
  const results = await runMatrix({
    rows,
    jobs: Number(process.env.MATRIX_JOBS || 2),
    rowTimeoutSeconds: Number(process.env.MATRIX_ROW_TIMEOUT || 900),
  })
  const files = writeReports(results, path.join(distDir, 'matrix'))
  console.log(`\n${resultsMarkdown(results)}`)
  const ran = results.filter((r) => r.status !== 'not run')
  console.log(`${ran.length} rows run, ${results.length - ran.length} not run here, in ${Math.round((Date.now() - started) / 1000)}s; ${files.markdown}, ${files.junit}`)
  if (results.some((r) => r.status === 'failed')) throw new Error('matrix: some rows failed (see above)')
})
