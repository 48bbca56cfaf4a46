#!/usr/bin/env tsx
// make ci-files: writes .github/workflows/matrix.yml and .gitlab-ci.yml from test/matrix/matrix.yaml.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { loadMatrix } from '../matrix/definition.ts'
import { ciFiles } from '../matrix/ci-files.ts'
import { main } from '../../scripts/lib/main.ts'
import { repoRoot } from '../../scripts/lib/paths.ts'

await main(async () => {
  for (const [file, content] of Object.entries(ciFiles(loadMatrix()))) {
    mkdirSync(path.dirname(path.join(repoRoot, file)), { recursive: true })
    writeFileSync(path.join(repoRoot, file), content)
    console.log(`wrote ${file}`)
  }
})
