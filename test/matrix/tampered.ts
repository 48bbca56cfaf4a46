// Served trees an attacker could have altered, for the RPM rows: the package manager must refuse
// each, and install nothing. The apt side is tested in test/repos.test.ts (a tampered InRelease
// and .deb).
//   metadata: repomd.xml changed after it was signed (its .asc no longer matches): repo_gpgcheck.
//   rpm:      the proxy's RPM altered in its payload, and the metadata made anew and signed with
//             the real key, so that only the package's own signature can tell: gpgcheck.
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildDir } from '../../scripts/lib/paths.ts'
import type { Product } from '../../scripts/lib/product.ts'
import { writeRpmMetadata } from '../../scripts/lib/repo.ts'
import { signingKey } from '../../scripts/lib/signing.ts'
import { servedRpmRepos } from '../helpers/installer-host.ts'

export interface TamperedTrees { metadata: string; rpm: string }

const copyOf = (served: string, what: string) => {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), `tampered-${what}-`)), 'served')
  cpSync(served, dir, { recursive: true })
  return dir
}

export async function tamperedTrees(served: string, product: Product): Promise<TamperedTrees> {
  const metadata = copyOf(served, 'metadata')
  for (const repo of servedRpmRepos(metadata, product)) {
    const repomd = path.join(repo, 'repodata', 'repomd.xml')
    writeFileSync(repomd, `${readFileSync(repomd, 'utf8')}<!-- tampered -->\n`)
  }
  const rpm = copyOf(served, 'rpm')
  const key = await signingKey()
  for (const repo of servedRpmRepos(rpm, product)) {
    for (const file of readdirSync(repo).filter((f) => f.startsWith(`${product.name}-`) && f.endsWith('.rpm'))) {
      const bytes = readFileSync(path.join(repo, file))
      bytes[bytes.length - 1000] ^= 0xff
      writeFileSync(path.join(repo, file), bytes)
    }
    await writeRpmMetadata(repo, key, path.join(buildDir, 'logs', 'matrix-tampered-repos.log'))
  }
  return { metadata, rpm }
}
