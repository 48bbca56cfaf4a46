// AVA runs as many test files at once as the machine has cores, starting them in this order. The
// files that run longest start first, so that a run does not end on one long file alone (on 2
// cores, self-check.test.ts started last in alphabetical order). Files not named here follow in
// alphabetical order. A name that no longer exists stops the run here, rather than rotting.
import { existsSync } from 'node:fs'

const LONGEST_FIRST = [
  'test/self-check.test.ts',
  'test/image.test.ts',
  'test/gitlab-pipeline.test.ts',
  'test/installer-faults.test.ts',
  'test/proxy-tree.test.ts',
  'test/compliance.test.ts',
  'test/installer-fresh.test.ts',
  'test/yaml-patch.test.ts',
  'test/packages.test.ts',
]
const missing = LONGEST_FIRST.filter((file) => !existsSync(new URL(`./${file}`, import.meta.url)))
if (missing.length) throw new Error(`ava.config.mjs names test files that do not exist: ${missing.join(', ')}`)

const rank = (file) => {
  const i = LONGEST_FIRST.findIndex((name) => file.endsWith(name))
  return i < 0 ? LONGEST_FIRST.length : i
}

export default {
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  files: ['test/**/*.test.ts'],
  timeout: '10m',
  sortTestFiles: (a, b) => rank(a) - rank(b) || a.localeCompare(b),
}
