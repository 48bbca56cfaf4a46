// The repository's TypeScript files, for the tests that read the project's own code.
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../../scripts/lib/paths.ts'

// Every .ts file under dir (relative to the repository), as paths relative to the repository.
export const typescriptFiles = (dir: string): string[] =>
  readdirSync(path.join(repoRoot, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? typescriptFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))
