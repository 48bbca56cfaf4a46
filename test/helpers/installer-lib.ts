// The install script rendered for tests that only source its functions (DD_INSTALL_SCRIPT_LIB=1):
// made from the template and the product definition into a temporary directory, once per test
// process, so that they need no `make packages` (the `make check` tier). Its trusted key is a
// placeholder: these tests never fetch a key.
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { writeInstallers } from '../../scripts/lib/installer.ts'
import { loadProduct } from '../../scripts/lib/product.ts'

let rendered: string | undefined

export function renderedInstaller(): string {
  const product = loadProduct()
  rendered ??= writeInstallers(product, { repoUrl: product.repository.url, keyFingerprints: ['0'.repeat(40)] }, mkdtempSync(path.join(os.tmpdir(), 'installer-')))[0]
  return rendered
}

// Runs `code` in bash after sourcing the rendered script, with `env` added: stdout, stderr, exit code.
export const sourced = (code: string, env: Record<string, string> = {}) =>
  $({ nothrow: true, quiet: true, env: { ...process.env, DD_INSTALL_SCRIPT_LIB: '1', ...env } })`bash -c ${`. "$0"; ${code}`} ${renderedInstaller()}`

// Values that became YAML syntax when the script wrote them unquoted, or through awk -v (issue 20).
export const HOSTILE = {
  DD_ENV: 'prod: eu #1',
  DD_TAGS: "team:o'neil,env:prod",
  DD_HOSTNAME: 'evil\\nfips:\\n  enabled: false',
  DD_URL: 'https://intake.example.test/a\\b"c',
}
